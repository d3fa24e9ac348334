/**
 * Gateway overhead benchmark (npm run perf). Side by side in one run, all in front of the
 * same mock (its real CLI, its own process):
 *   - direct: the mock itself (the baseline every path is compared with),
 *   - gateway: the local APIM stand-in, as the lab runs it (its real CLI with no Node flags,
 *     streaming.xml: buffer-response=false),
 *   - nginx: Debian's nginx, one worker, HTTP/1.1 upstream, proxy_buffering off;
 *   - node TCP pipe: bytes copied between sockets, no HTTP (test/perf/tcp-pipe.ts), the floor
 *     of any relay written in Node on this host: a reference, not a target.
 * Load comes from test/perf/sse-load.ts in a separate process.
 *
 * "paced": per-frame delivery latency from the mock's stamps (arrival - emission), ITL 20 ms,
 * 100 tokens per stream. Each proxy is measured in a load that alternates its streams with
 * direct ones, 100 concurrent on each (200 of each per run), so the proxy's added latency
 * (its p99 minus the direct p99 of the same load) is not confounded with what the mock and
 * this host did at a different moment. Runs differ by several ms that way (a p99 is set by a
 * few stalls), so the verdict is an interval: the Hodges-Lehmann shift of (gateway added
 * p99 - nginx added p99) over the runs, with its Wilcoxon signed-rank 95% CI
 * (src/metrics/paired-shift.ts; at least 6 runs).
 * "max": no delays, 32 streams in flight for 4 s: frames/s and the proxy's CPU per 1,000
 * frames (from /proc). Paths are interleaved; each figure is the median of RUNS runs (9 by
 * default), with the min-max of the per-run figures. Every path gets one untimed paced load
 * first, so a fresh process's JIT warm-up is not what is measured.
 * PERF_GATEWAY_AA=1 adds a second nginx, identical to the first, as an A/A check of the interval.
 * Targets (issues 5 and 17): gateway p99 added latency <= nginx's; throughput >= 0.8x nginx's.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { exited, firstJsonLine, startNode as startNodeChild } from './child.ts';
import { median } from './measure.ts';
import { startNginx } from '../helpers/nginx.ts';
import { pairedShift, shiftVerdict, type PairedShift } from '../../src/metrics/paired-shift.ts';

const RUNS = Number(process.env['PERF_RUNS'] ?? 9);
/** PERF_GATEWAY_AA=1 adds a second nginx, identical to the first: its interval against nginx must hold 0. */
const AA = process.env['PERF_GATEWAY_AA'] === '1';
const AA_PATH = 'nginx, second instance (A/A)';
const PATH = '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21';
const BODY = JSON.stringify({ messages: [{ role: 'user', content: 'Benchmark the gateway.' }], stream: true });

interface LoadResult {
  completed: number;
  errors: number;
  frames: number;
  bytes: number;
  elapsedMs: number;
  framesPerSec: number;
  /** With one target; with several, `byTarget` alone. */
  delivery?: Delivery;
  /** Per target, in the order given (paced loads: [proxy, direct]). */
  byTarget?: Array<{ delivery: Delivery }>;
}

interface PacedRun {
  proxy: Delivery;
  direct: Delivery;
  errors: number;
  completed: number;
  /** The proxy's CPU time (user + system) over the load, per 1,000 frames it relayed. */
  cpuPerKFramesMs: number;
}

interface Delivery {
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

async function startNode(
  script: string,
  args: string[],
  nodeArgs: string[] = [],
): Promise<{ url: string; child: ChildProcess }> {
  // No subscription key; the gateway's managed identity stands in with the key the load sends.
  const env: NodeJS.ProcessEnv = { ...process.env, GATEWAY_BACKEND_KEY: 'bench' };
  delete env['GATEWAY_SUBSCRIPTION_KEY'];
  delete env['MOCK_API_KEY'];
  const child = startNodeChild(script, args, { nodeArgs, env, stderr: 'ignore' });
  return { url: String((await firstJsonLine(child))['url']), child };
}

async function runLoad(url: string, load: Record<string, unknown>): Promise<LoadResult> {
  const config = { url, path: PATH, body: BODY, ...load };
  const child = startNodeChild('test/perf/sse-load.ts', [JSON.stringify(config)]);
  return (await firstJsonLine(child, 300_000)) as unknown as LoadResult;
}

/** User + system CPU of a process so far, in ms (Linux; clock ticks of 10 ms). */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';

export async function runGatewayOverhead(): Promise<string> {
  const mock = await startNode('stand-ins/azure-openai/cli.ts', ['--port', '0'], ['--max-semi-space-size=64']);
  const gateway = await startNode('stand-ins/apim/cli.ts', [
    '--backend',
    mock.url,
    '--policy',
    'infra/policies/streaming.xml',
    '--port',
    '0',
  ]);
  const nginx = await startNginx('streaming', mock.url);
  const pipe = await startNode('test/perf/tcp-pipe.ts', [mock.url]);
  const nginxTwin = AA ? await startNginx('streaming', mock.url) : undefined;
  const paths = [
    { name: 'direct (mock)', url: mock.url, pid: undefined as number | undefined },
    { name: 'gateway', url: gateway.url, pid: gateway.child.pid },
    { name: 'nginx', url: nginx.url, pid: nginx.pid },
    { name: 'node TCP pipe (reference)', url: pipe.url, pid: pipe.child.pid },
    ...(nginxTwin ? [{ name: AA_PATH, url: nginxTwin.url, pid: nginxTwin.pid }] : []),
  ];
  const proxies = paths.slice(1);
  /** Per proxy, per run: [the proxy's streams, the direct streams of the same load]. */
  const paced = new Map<string, PacedRun[]>();
  const max = new Map<string, Array<LoadResult & { cpuPerKFramesMs: number }>>();
  const pacedHeaders = {
    'x-mock-ttft-ms': '100',
    'x-mock-itl-ms': '20',
    'x-mock-jitter-ms': '0',
    'x-mock-output-tokens': '100',
    'x-mock-stamp': '1',
  };
  const pacedLoad = (proxy: string) => ({
    url: proxy,
    alsoUrls: [mock.url],
    streams: 400,
    concurrency: 200,
    rampMs: 250,
    deadlineMs: 60_000,
    headers: pacedHeaders,
    stamps: true,
  });
  try {
    for (const path of proxies) await runLoad(path.url, pacedLoad(path.url));
    for (let run = 0; run < RUNS; run++) {
      for (const path of proxies) {
        const cpuBefore = cpuMs(path.pid);
        const result = await runLoad(path.url, pacedLoad(path.url));
        const [proxy, direct] = result.byTarget!;
        const cpuPerKFramesMs = ((cpuMs(path.pid) - cpuBefore) / proxy!.delivery.count) * 1000;
        paced.set(path.name, [
          ...(paced.get(path.name) ?? []),
          {
            proxy: proxy!.delivery,
            direct: direct!.delivery,
            errors: result.errors,
            completed: result.completed,
            cpuPerKFramesMs,
          },
        ]);
      }
      for (const path of paths) {
        const headers = {
          'x-mock-ttft-ms': '0',
          'x-mock-itl-ms': '0',
          'x-mock-jitter-ms': '0',
          'x-mock-output-tokens': '1000',
        };
        const cpuBefore = cpuMs(path.pid);
        const result = await runLoad(path.url, {
          streams: 1_000_000,
          concurrency: 32,
          rampMs: 0,
          deadlineMs: 4_000,
          headers,
        });
        const cpuPerKFramesMs =
          path.pid === undefined ? Number.NaN : ((cpuMs(path.pid) - cpuBefore) / result.frames) * 1000;
        max.set(path.name, [...(max.get(path.name) ?? []), { ...result, cpuPerKFramesMs }]);
      }
    }
  } finally {
    await nginx.close();
    await nginxTwin?.close();
    for (const child of [pipe.child, gateway.child, mock.child]) {
      child.kill('SIGTERM');
      await exited(child);
    }
  }
  const runsOf = (name: string) => paced.get(name) ?? [];
  const m = (name: string, pick: (r: PacedRun) => number): number => median(runsOf(name).map(pick));
  // Each run's added figure is against the direct streams of that same load.
  const addedRuns = (name: string, q: 'p50Ms' | 'p99Ms'): number[] => runsOf(name).map((r) => r.proxy[q] - r.direct[q]);
  const rows = proxies.map((p) => {
    const errors = runsOf(p.name).reduce((sum, r) => sum + r.errors, 0);
    return `| ${p.name} | ${m(p.name, (r) => r.completed)} / ${errors} | ${fmt(
      m(p.name, (r) => r.proxy.p50Ms),
      2,
    )} ms | ${fmt(
      m(p.name, (r) => r.proxy.p99Ms),
      2,
    )} ms | ${fmt(
      m(p.name, (r) => r.proxy.p999Ms),
      2,
    )} ms | ${fmt(
      m(p.name, (r) => r.direct.p99Ms),
      2,
    )} ms | ${fmt(median(addedRuns(p.name, 'p50Ms')), 2)} ms | ${fmt(median(addedRuns(p.name, 'p99Ms')), 2)} ms | ${fmt(
      m(p.name, (r) => r.cpuPerKFramesMs),
      1,
    )} ms |`;
  });
  const fps = (name: string): number => median((max.get(name) ?? []).map((r) => r.framesPerSec));
  const mbps = (name: string): number => median((max.get(name) ?? []).map((r) => r.bytes / r.elapsedMs / 1000));
  const cpu = (name: string): number => median((max.get(name) ?? []).map((r) => r.cpuPerKFramesMs));
  const throughputRows = paths.map(
    (p) =>
      `| ${p.name} | ${fmt(fps(p.name))} | ${fmt(mbps(p.name), 1)} | ${fmt(cpu(p.name), 1)} ms | ${fmt(fps(p.name) / fps('nginx'), 2)}x |`,
  );
  const ratioRuns = (max.get('gateway') ?? []).map(
    (r, i) => r.framesPerSec / (max.get('nginx') ?? [])[i]!.framesPerSec,
  );
  const addedGateway = addedRuns('gateway', 'p99Ms');
  const addedNginx = addedRuns('nginx', 'p99Ms');
  const addedPipe = addedRuns('node TCP pipe (reference)', 'p99Ms');
  // Run by run (the paths are interleaved within a run): a proxy's added p99 minus nginx's.
  const gatewayVsNginx = pairedShift(addedGateway.map((a, i) => a - addedNginx[i]!));
  const pipeVsNginx = pairedShift(addedPipe.map((a, i) => a - addedNginx[i]!));
  // What the gateway adds beyond any relay in Node on this host (its HTTP and policy work).
  const gatewayVsPipe = pairedShift(addedGateway.map((a, i) => a - addedPipe[i]!));
  const ratio = median(ratioRuns);
  const spread = (values: number[], digits: number, unit = ''): string =>
    `runs ${values.map((v) => `${fmt(v, digits)}${unit}`).join(', ')}; min-max ${fmt(Math.min(...values), digits)} to ${fmt(Math.max(...values), digits)}${unit}`;
  const gatewayErrors = [...runsOf('gateway'), ...(max.get('gateway') ?? [])].reduce((sum, r) => sum + r.errors, 0);
  return [
    `Paced: ITL 20 ms, 100 tokens; each proxy's load alternates its streams with direct ones, 100 concurrent on each, 200 streams of each per run; per-frame delivery latency (arrival - emission stamp); added = the proxy's figure minus the direct streams' of the same load; after one untimed load per proxy; median of ${RUNS} runs.`,
    '',
    '| path | streams ok / errors | delivery p50 | p99 | p99.9 | direct p99, same loads | added p50 | added p99 | proxy CPU per 1,000 frames |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Max: no delays, 1,000-token streams, 32 in flight for 4 s; median of ${RUNS} runs.`,
    '',
    '| path | frames/s | MB/s | proxy CPU per 1,000 frames | vs nginx |',
    '|---|---|---|---|---|',
    ...throughputRows,
    '',
    `- gateway added p99 (each run's gateway p99 minus the direct p99 of the same load): median ${fmt(median(addedGateway), 2)} ms (${spread(addedGateway, 2, ' ms')})`,
    `- nginx added p99, the same way: median ${fmt(median(addedNginx), 2)} ms (${spread(addedNginx, 2, ' ms')})`,
    `- node TCP pipe added p99 (reference: Node with no HTTP): median ${fmt(median(addedPipe), 2)} ms (${spread(addedPipe, 2, ' ms')})`,
    `- gateway added p99 minus nginx's, run by run: ${describeShiftMs(gatewayVsNginx, 'nginx')}`,
    `- node TCP pipe added p99 minus nginx's (reference): ${describeShiftMs(pipeVsNginx, 'nginx')}`,
    `- gateway added p99 minus the node TCP pipe's (its HTTP and policy work beyond the runtime's floor): ${describeShiftMs(gatewayVsPipe, 'the pipe')}`,
    ...(AA
      ? [
          `- A/A, the second nginx's added p99 minus the first's (the interval should hold 0): ${describeShiftMs(pairedShift(addedRuns(AA_PATH, 'p99Ms').map((a, i) => a - addedNginx[i]!)), 'nginx')}`,
        ]
      : []),
    `- target gateway <= nginx: ${pacedVerdict(gatewayVsNginx)}${gatewayErrors > 0 ? `, with ${gatewayErrors} failed streams` : ''}`,
    `- throughput gateway / nginx: ${fmt(ratio, 2)}x (${spread(ratioRuns, 2, 'x')}; target >= 0.8x): ${ratio >= 0.8 ? 'met' : 'NOT met'}`,
  ].join('\n');
}

function describeShiftMs(shift: PairedShift | null, baseline: string): string {
  if (shift === null) return `no interval (fewer than 6 runs; PERF_RUNS=${RUNS})`;
  const words = {
    adds: `more than ${baseline}`,
    'suspect-negative': `less than ${baseline}`,
    'no-measurable-difference': `no measurable difference from ${baseline}`,
  }[shiftVerdict(shift)];
  return `${words}: ${fmt(shift.estimate, 2)} ms, 95% CI ${fmt(shift.low, 2)} to ${fmt(shift.high, 2)} ms (${shift.blocks} runs)`;
}

/** The target in the interval's words: met only when the interval is at or below 0. */
function pacedVerdict(shift: PairedShift | null): string {
  if (shift === null) return 'no verdict (fewer than 6 runs)';
  if (shift.high <= 0) return 'met';
  if (shift.low > 0) return 'NOT met (the interval is above 0)';
  return 'not shown: no measurable difference from nginx (the interval holds 0)';
}
