import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DEFAULTS, benchArgv, type BenchOptions } from '../config/bench-options.ts';
import { resolveMergeOptions } from '../config/report-options.ts';
import { harnessWarning, nothingSucceeded } from '../report/headline.ts';
import { summaryToTable } from '../report/summary-markdown.ts';
import { mergeShards } from '../shards/merge-shards.ts';
import { withInterrupt } from './interrupt.ts';

const CLI = fileURLToPath(new URL('./main.ts', import.meta.url));

export const MERGE_USAGE = `Usage: npm run merge -- DIR [--json]

Merges the shards of one run (DIR/shard-<i>/, written by npm run bench -- --shard i/N
--run-id ID, here or on other machines) into DIR: samples.jsonl concatenated, summary.json|csv|md
recomputed from them (exact percentiles; intervals and comparisons on the union; HDR histograms
added, never percentiles averaged), report.html naming the shards, their start skew and any
shard that was interrupted. Refuses, naming what is wrong, missing or duplicate shards and
shards of another run or configuration.
  --json                      print the merged summary.json on stdout instead of the table

Exit code: 0, 1 some shard was interrupted (the merge is partial), 2 bad usage or shards that do not fit.`;

/** `streamlab merge DIR`. */
export async function mergeCommand(argv: readonly string[]): Promise<number> {
  const options = resolveMergeOptions(argv);
  if (options.help) {
    process.stdout.write(`${MERGE_USAGE}\n`);
    return 0;
  }
  return writeMerged(options.dir, options.json);
}

async function writeMerged(dir: string, json: boolean): Promise<number> {
  const { summary, shards } = await mergeShards(dir);
  const late = shards.map((s) => s.startLateMs).filter((ms): ms is number => ms !== null);
  const skew = late.length > 1 ? ` (start skew ${Math.max(...late) - Math.min(...late)} ms)` : '';
  const interrupted = shards.filter((s) => s.interrupted).map((s) => s.index);
  process.stdout.write(json ? `${JSON.stringify(summary, null, 2)}\n` : `${summaryToTable(summary)}\n`);
  for (const s of shards)
    if (s.harness?.isHarnessBound)
      process.stderr.write(
        `shard ${s.index}: ${harnessWarning({ ...summary, run: { ...summary.run, harness: s.harness } })}\n`,
      );
  process.stderr.write(
    `merged ${shards.length} shards${skew} into ${dir}/ (samples.jsonl, summary.json, summary.csv, summary.md, report.html)${interrupted.length > 0 ? `; interrupted: shard ${interrupted.join(', ')}` : ''}\n`,
  );
  const failed = nothingSucceeded(summary);
  if (failed !== undefined) process.stderr.write(`${failed}\n`);
  return interrupted.length > 0 || failed !== undefined ? 1 : 0;
}

/**
 * `npm run bench -- … --workers N`: the same run as N shards in N local processes (so a run
 * can use every core and the harness is not its own bottleneck), started together, then
 * merged. Each worker's argv is written from the resolved options (`benchArgv`), with its own
 * shard, the run id, the common start and the output folder; keys come through the
 * environment, as for any bench, never through argv.
 */
export async function runWorkers(options: BenchOptions, env: NodeJS.ProcessEnv): Promise<number> {
  const runId =
    options.runId ?? `run-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(3).toString('hex')}`;
  const root = options.out ?? BENCH_DEFAULTS.reportsDir;
  const startAt = new Date(Date.now() + 3_000);
  const dir = join(root, runId);
  process.stderr.write(
    `workers: ${options.workers} shards of run ${runId}, starting together at ${startAt.toISOString()}\n`,
  );
  return withInterrupt('stopping the workers; each writes what it measured', async (signal) => {
    const children = Array.from({ length: options.workers }, (_, index) => {
      const args = [
        CLI,
        'bench',
        ...benchArgv(options, {
          shard: { index, count: options.workers },
          runId,
          startAt,
          out: root,
          workers: BENCH_DEFAULTS.workers,
          json: false,
        }),
      ];
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n'))
          if (line.trim() !== '' && !line.startsWith('\r')) process.stderr.write(`[worker ${index}] ${line}\n`);
      });
      return child;
    });
    const onAbort = (): void => {
      for (const child of children) child.kill('SIGINT');
    };
    signal.addEventListener('abort', onAbort, { once: true });
    const codes = await Promise.all(children.map(async (child) => ((await once(child, 'exit')) as [number | null])[0]));
    signal.removeEventListener('abort', onAbort);
    const failed = codes.map((code, index) => ({ code, index })).filter(({ code }) => code !== 0 && code !== 130);
    for (const { code, index } of failed)
      process.stderr.write(`worker ${index} failed (exit ${String(code)}); the merge names what is missing\n`);
    const code = await writeMerged(dir, options.json);
    return signal.aborted ? 130 : failed.length > 0 ? 1 : code;
  });
}
