/**
 * Gateway overhead benchmark (npm run perf). Side by side in one run, all in front of the
 * same mock (its real CLI, its own process):
 *   - direct: the mock itself (the baseline every path is compared with),
 *   - gateway: the local APIM stand-in (its real CLI, streaming.xml: buffer-response=false),
 *   - nginx: Debian's nginx, one worker, HTTP/1.1 upstream, proxy_buffering off;
 *   - node TCP pipe: bytes copied between sockets, no HTTP (test/perf/tcp-pipe.ts), the floor
 *     of any relay written in Node on this host: a reference, not a target.
 * Load comes from test/perf/sse-load.ts in a separate process.
 *
 * "paced": 100 concurrent streams at 50 tokens/s (ITL 20 ms), 100 tokens each: per-frame
 * delivery latency from the mock's stamps (arrival - emission); added = path - direct.
 * "max": no delays, 32 streams in flight for 4 s: frames/s and the proxy's CPU per 1,000
 * frames (from /proc). Paths are interleaved; each figure is the median of RUNS runs (at
 * least 5 by default), with the min-max of the per-run figures. Every path gets one untimed
 * paced load first, so a fresh process's JIT warm-up is not what is measured.
 * Targets (issues 5 and 17): gateway p99 added latency <= nginx's; throughput >= 0.8x nginx's.
 */
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { exited, firstJsonLine, startNode as startNodeChild } from './child.ts';
import { startNginx } from '../helpers/nginx.ts';

const RUNS = Number(process.env['PERF_RUNS'] ?? 5);
const PATH = '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21';
const BODY = JSON.stringify({ messages: [{ role: 'user', content: 'Benchmark the gateway.' }], stream: true });

interface LoadResult {
  completed: number;
  errors: number;
  frames: number;
  bytes: number;
  elapsedMs: number;
  framesPerSec: number;
  delivery: { count: number; p50Ms: number; p99Ms: number; p999Ms: number };
}

async function startNode(script: string, args: string[], nodeArgs: string[] = []): Promise<{ url: string; child: ChildProcess }> {
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

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–');

export async function runGatewayOverhead(): Promise<string> {
  const mock = await startNode('mock-server/cli.ts', ['--port', '0'], ['--max-semi-space-size=64']);
  const gateway = await startNode('mock-server/gateway/cli.ts', ['--backend', mock.url, '--policy', 'infra/policies/streaming.xml', '--port', '0'], ['--max-semi-space-size=64']);
  const nginx = await startNginx('streaming', mock.url);
  const pipe = await startNode('test/perf/tcp-pipe.ts', [mock.url], ['--max-semi-space-size=64']);
  const paths = [
    { name: 'direct (mock)', url: mock.url, pid: undefined as number | undefined },
    { name: 'gateway', url: gateway.url, pid: gateway.child.pid },
    { name: 'nginx', url: nginx.url, pid: nginx.pid },
    { name: 'node TCP pipe (reference)', url: pipe.url, pid: pipe.child.pid },
  ];
  const paced = new Map<string, LoadResult[]>();
  const max = new Map<string, Array<LoadResult & { cpuPerKFramesMs: number }>>();
  const pacedHeaders = { 'x-mock-ttft-ms': '100', 'x-mock-itl-ms': '20', 'x-mock-jitter-ms': '0', 'x-mock-output-tokens': '100', 'x-mock-stamp': '1' };
  const pacedLoad = { streams: 200, concurrency: 100, rampMs: 250, deadlineMs: 60_000, headers: pacedHeaders, stamps: true };
  try {
    for (const path of paths) await runLoad(path.url, pacedLoad);
    for (let run = 0; run < RUNS; run++) {
      for (const path of paths) {
        const result = await runLoad(path.url, pacedLoad);
        paced.set(path.name, [...(paced.get(path.name) ?? []), result]);
      }
      for (const path of paths) {
        const headers = { 'x-mock-ttft-ms': '0', 'x-mock-itl-ms': '0', 'x-mock-jitter-ms': '0', 'x-mock-output-tokens': '1000' };
        const cpuBefore = cpuMs(path.pid);
        const result = await runLoad(path.url, { streams: 1_000_000, concurrency: 32, rampMs: 0, deadlineMs: 4_000, headers });
        const cpuPerKFramesMs = path.pid === undefined ? Number.NaN : ((cpuMs(path.pid) - cpuBefore) / result.frames) * 1000;
        max.set(path.name, [...(max.get(path.name) ?? []), { ...result, cpuPerKFramesMs }]);
      }
    }
  } finally {
    await nginx.close();
    for (const child of [pipe.child, gateway.child, mock.child]) {
      child.kill('SIGTERM');
      await exited(child);
    }
  }
  const m = (name: string, pick: (r: LoadResult) => number): number => median((paced.get(name) ?? []).map(pick));
  const direct = { p50: m('direct (mock)', (r) => r.delivery.p50Ms), p99: m('direct (mock)', (r) => r.delivery.p99Ms) };
  const rows = paths.map((p) => {
    const p50 = m(p.name, (r) => r.delivery.p50Ms);
    const p99 = m(p.name, (r) => r.delivery.p99Ms);
    const errors = (paced.get(p.name) ?? []).reduce((s, r) => s + r.errors, 0);
    const added = p.name.startsWith('direct') ? '–' : `${fmt(p50 - direct.p50, 2)} ms`;
    const addedP99 = p.name.startsWith('direct') ? '–' : `${fmt(p99 - direct.p99, 2)} ms`;
    return `| ${p.name} | ${m(p.name, (r) => r.completed)} / ${errors} | ${fmt(p50, 2)} ms | ${fmt(p99, 2)} ms | ${fmt(m(p.name, (r) => r.delivery.p999Ms), 2)} ms | ${added} | ${addedP99} |`;
  });
  const fps = (name: string): number => median((max.get(name) ?? []).map((r) => r.framesPerSec));
  const mbps = (name: string): number => median((max.get(name) ?? []).map((r) => r.bytes / r.elapsedMs / 1000));
  const cpu = (name: string): number => median((max.get(name) ?? []).map((r) => r.cpuPerKFramesMs));
  const throughputRows = paths.map((p) => `| ${p.name} | ${fmt(fps(p.name))} | ${fmt(mbps(p.name), 1)} | ${fmt(cpu(p.name), 1)} ms | ${fmt(fps(p.name) / fps('nginx'), 2)}x |`);
  // Run by run (paths interleaved within a run): each proxy's added p99 against the direct
  // path of the same run, and the gateway's throughput against nginx's of the same run.
  const perRun = (name: string, pick: (r: LoadResult) => number, base: string, of: Map<string, LoadResult[]>, combine: (a: number, b: number) => number): number[] =>
    (of.get(name) ?? []).map((r, i) => combine(pick(r), pick((of.get(base) ?? [])[i]!)));
  const addedRunsGateway = perRun('gateway', (r) => r.delivery.p99Ms, 'direct (mock)', paced, (a, b) => a - b);
  const addedRunsNginx = perRun('nginx', (r) => r.delivery.p99Ms, 'direct (mock)', paced, (a, b) => a - b);
  const addedRunsPipe = perRun('node TCP pipe (reference)', (r) => r.delivery.p99Ms, 'direct (mock)', paced, (a, b) => a - b);
  const ratioRuns = perRun('gateway', (r) => r.framesPerSec, 'nginx', max, (a, b) => a / b);
  const addedGateway = median(addedRunsGateway);
  const addedNginx = median(addedRunsNginx);
  const ratio = median(ratioRuns);
  const spread = (values: number[], digits: number, unit = ''): string => `runs ${values.map((v) => `${fmt(v, digits)}${unit}`).join(', ')}; min-max ${fmt(Math.min(...values), digits)} to ${fmt(Math.max(...values), digits)}${unit}`;
  const gatewayErrors = [...(paced.get('gateway') ?? []), ...(max.get('gateway') ?? [])].reduce((sum, r) => sum + r.errors, 0);
  return [
    `Paced: 100 concurrent streams, ITL 20 ms, 100 tokens, 200 streams per path per run; per-frame delivery latency (arrival - emission stamp); after one untimed load per path; median of ${RUNS} runs.`,
    '',
    '| path | streams ok / errors | delivery p50 | p99 | p99.9 | added p50 | added p99 |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Max: no delays, 1,000-token streams, 32 in flight for 4 s; median of ${RUNS} runs.`,
    '',
    '| path | frames/s | MB/s | proxy CPU per 1,000 frames | vs nginx |',
    '|---|---|---|---|---|',
    ...throughputRows,
    '',
    `- gateway added p99 (median of the runs' gateway p99 minus direct p99): ${fmt(addedGateway, 2)} ms (${spread(addedRunsGateway, 2, ' ms')})`,
    `- nginx added p99, the same way: ${fmt(addedNginx, 2)} ms (${spread(addedRunsNginx, 2, ' ms')})`,
    `- node TCP pipe added p99 (reference: Node with no HTTP): ${fmt(median(addedRunsPipe), 2)} ms (${spread(addedRunsPipe, 2, ' ms')})`,
    `- target gateway <= nginx: ${addedGateway <= addedNginx ? 'met' : 'NOT met'}${gatewayErrors > 0 ? `, with ${gatewayErrors} failed streams` : ''}`,
    `- throughput gateway / nginx: ${fmt(ratio, 2)}x (${spread(ratioRuns, 2, 'x')}; target >= 0.8x): ${ratio >= 0.8 ? 'met' : 'NOT met'}`,
  ].join('\n');
}
