import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runBench, type BenchProgress } from '../bench/run-bench.ts';
import { BENCH_DEFAULTS, resolveBenchOptions, STREAM_CHOICES } from '../config/bench-options.ts';
import { durationText, shownDefault } from '../config/help-defaults.ts';
import { TARGET_DEFAULTS } from '../config/target-flags.ts';
import { API_KINDS } from '../protocol/index.ts';
import { labRunInfo, readLabState, withLabSecrets } from '../lab/state.ts';
import { benchTargets } from '../lab/targets.ts';
import { writeRunReports } from '../report/write-report.ts';
import { harnessWarning, nothingSucceeded } from '../report/headline.ts';
import { summaryToTable } from '../report/summary-markdown.ts';
import { withInterrupt } from './interrupt.ts';
import { runWorkers } from './shard-commands.ts';
import { defaultOutDir } from './run-paths.ts';

const B = BENCH_DEFAULTS;
const T = TARGET_DEFAULTS;
const d = shownDefault;

export const BENCH_USAGE = `Usage: npm run bench -- [options]

Target (default: the paths in ${T.stateFile}, written by npm run lab:deploy)
  --endpoint URL              Azure OpenAI endpoint, APIM gateway URL, or OpenAI-compatible base URL
  --api-style azure|v1|openai URL shape: /openai/deployments/{d}/…?api-version= | /openai/v1/… | {URL}/… ${d(T.apiStyle)}
  --deployment NAME           deployment ${d(T.deployment)}; --completions-deployment for completions ${d(T.completionsDeployment)}
  --api-version V             dated api-version for the azure style ${d(T.apiVersion)}
  --api-key-env NAME          environment variable holding the API key ${d(T.apiKeyEnv)}
  --subscription-key-env NAME environment variable holding an APIM subscription key (sent as api-key)
  --entra                     authenticate with Entra ID (DefaultAzureCredential)
  --path a,b                  lab paths to measure (default: every path of the lab state: direct, gateway…)
  --state FILE                lab state file ${d(T.stateFile)}

Scenarios
  --api ${API_KINDS.join(',')}   ${d(B.apis)}
  --stream ${STREAM_CHOICES.join('|')}        ${d(B.stream)}
  --max-tokens 64,256,max     output caps; max = context window minus prompt ${d(B.maxTokens)}
  --prompt TEXT | --prompts FILE.jsonl   one chat (message list) per line, used round-robin
  --search-endpoint URL --search-index NAME   On Your Data source (or AZURE_SEARCH_ENDPOINT/_INDEX)

Load (per scenario)
  --requests N                measured requests ${d(B.requests)}; or --duration D, a time (e.g. 30s)
  --concurrency N             requests in flight, a closed loop; 1 is sequential ${d(B.concurrency)}
  --rate R [--max-in-flight N]   open loop, R requests/s
  --arrival constant|poisson  how an open loop's requests are spaced ${d(B.arrival)}
  --warmup N                  requests run first and excluded ${d(B.warmup)}
  --no-interleave             run each path alone, one after the other (default: the paths of a
                              scenario interleaved in time, counterbalanced, so drift cancels)
  --retry-429 none|honor      honour retry-after-ms (latency counts from the first attempt) ${d(B.retry429)};
                              a request makes at most ${B.retryMaxAttempts} attempts
  --retry-max-wait D          longest retry-after honoured ${d(durationText(B.retryMaxWaitMs))}
  --bail-out R                stop a scenario when its error ratio exceeds R (after 10 requests) ${d(B.bailoutErrorRatio)}
  --timeout D                 total time per request (every phase below ends within it) ${d(durationText(B.timeouts.totalMs))}
  --connect-timeout D         to open the connection, outcome timeout_connect ${d(durationText(B.timeouts.connectMs))}
  --headers-timeout D         from connected to response headers, timeout_headers ${d(durationText(B.timeouts.headersMs))}
  --first-token-timeout D     from headers to the first content token of a stream, timeout_first_token
                              ${d(durationText(B.timeouts.firstTokenMs))}
  --idle-timeout D            longest quiet gap in a response, timeout_idle ${d(durationText(B.timeouts.idleMs))}
  --client http|sdk           harness client, or the official openai SDK ${d(B.client)}; the SDK
                              applies --timeout, --first-token-timeout and --idle-timeout
  --seed N                    run seed ${d(B.seed)}; sent to the local mock as x-mock-seed
  --stamp                     ask the local mock for ground-truth frame stamps (delivery latency)

Output
  --out DIR                   (default: reports/<timestamp>; with shards: the root of OUT/<run-id>/)
  --json                      print summary.json on stdout instead of the table

Beyond one process (docs/scale-out.md)
  --workers N                 run N shards as local processes, started together, then merged
  --shard i/N | --shards N    run shard i of N (--shards: i from JOB_COMPLETION_INDEX or SHARD_INDEX)
  --run-id ID                 the run every shard belongs to: shards write OUT/ID/shard-<i>/
  --start-at TIME             when every shard starts (ISO 8601 or epoch ms); then npm run merge -- OUT/ID

Exit code: 0; 1 when no request succeeded (it says what each path answered, or that nothing
answers there); 2 bad usage; 130 interrupted (what was measured is written).`;

/** The tool's version from package.json, for run metadata. */
export function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

/** One self-overwriting progress line on stderr (a TTY only). */
export function progressPrinter(): (p: BenchProgress) => void {
  let last = 0;
  return (p) => {
    const now = performance.now();
    if (now - last < 200 && p.completed !== p.planned) return;
    last = now;
    const of = p.planned !== undefined ? `/${p.planned}` : '';
    const p50 = p.ttftP50Ms();
    const ttft = p50 !== null ? `${Math.round(p50)} ms` : '–';
    process.stderr.write(
      `\r\x1b[K[${p.cell}/${p.cells}] ${p.name}  ${p.completed}${of}  ${p.ratePerSec.toFixed(1)}/s  p50 TTFT ${ttft}  errors ${p.errors}`,
    );
  };
}

/** `streamlab bench`: returns the exit code (0; 1 when no request succeeded; 2 for bad options, via the caller; 130 when interrupted). */
export async function benchCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = resolveBenchOptions(argv, env);
  if (options.help) {
    process.stdout.write(`${BENCH_USAGE}\n`);
    return 0;
  }
  const state = options.endpoint === undefined ? readLabState(options.stateFile) : undefined;
  const targets = benchTargets(options, state);
  if (options.workers > 1) return runWorkers(options, withLabSecrets(state, env));
  // A shard writes into the run's folder, beside the other shards: OUT/<run-id>/shard-<i>/.
  const outDir = options.shard
    ? join(options.out ?? BENCH_DEFAULTS.reportsDir, options.runId!, `shard-${options.shard.index}`)
    : (options.out ?? defaultOutDir());
  return withInterrupt('finishing in-flight requests and writing what was measured', async (signal) => {
    const result = await runBench({
      options,
      targets,
      outDir,
      env: withLabSecrets(state, env),
      signal,
      toolVersion: readVersion(),
      ...(state ? { lab: labRunInfo(state) } : {}),
      ...(process.stderr.isTTY ? { onProgress: progressPrinter() } : {}),
    });
    if (process.stderr.isTTY) process.stderr.write('\n');
    await writeRunReports(outDir, result.summary);
    // The table ends with the headlines (the warning among them); JSON on stdout carries only the numbers, so the words go to stderr.
    const harness = options.json ? harnessWarning(result.summary) : undefined;
    if (harness) process.stderr.write(`${harness}\n`);
    process.stdout.write(
      options.json ? `${JSON.stringify(result.summary, null, 2)}\n` : `${summaryToTable(result.summary)}\n`,
    );
    process.stderr.write(`results: ${outDir}/ (samples.jsonl, summary.json, summary.csv, summary.md, report.html)\n`);
    if (result.interrupted) return 130;
    const failed = nothingSucceeded(result.summary);
    if (failed !== undefined) {
      process.stderr.write(`${failed}\n`);
      return 1;
    }
    return 0;
  });
}
