/**
 * Mock capacity benchmark (npm run perf). Side by side in one run:
 *   - the mock (its real CLI: msw handlers + emitter + node:http adapter), and
 *   - a bare node:http SSE emitter (test/perf/bare-sse-server.ts),
 * each in its own process, driven by a load generator in a third process.
 *
 * Scenario "paced": STREAMS concurrent streams at 20 tokens/s (ITL 50 ms), ramped in over
 * RAMP_MS: emission lateness p50/p99 as each server measures it (write time minus planned
 * time), and the frames/s the client received.
 * Scenario "max": no delays, 64 streams in flight for a fixed time: frames/s, as the
 * median of RUNS runs. The mock's target is >= 0.7x the bare emitter.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const STREAMS = Number(process.env['PERF_STREAMS'] ?? 2000);
const RUNS = Number(process.env['PERF_RUNS'] ?? 3);
const PACED_TOKENS = Number(process.env['PERF_PACED_TOKENS'] ?? 300);
const RAMP_MS = Number(process.env['PERF_RAMP_MS'] ?? 5000);

interface Server {
  name: string;
  url: string;
  child: ChildProcess;
  path: string;
  body: string;
}

async function firstJsonLine(child: ChildProcess): Promise<Record<string, unknown>> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return JSON.parse(line) as Record<string, unknown>;
}

async function startServer(name: 'mock' | 'bare'): Promise<Server> {
  const script = name === 'mock' ? 'mock-server/cli.ts' : 'test/perf/bare-sse-server.ts';
  const child = spawn(process.execPath, [script, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await firstJsonLine(child);
  const body = JSON.stringify({ messages: [{ role: 'user', content: 'Benchmark the stream.' }], stream: true });
  return { name, url: String(info['url']), child, path: '/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21', body };
}

async function stopServer(server: Server): Promise<void> {
  server.child.kill('SIGTERM');
  await once(server.child, 'exit');
}

interface LoadResult {
  started: number;
  completed: number;
  errors: number;
  frames: number;
  framesPerSec: number;
  elapsedMs: number;
}

async function runLoad(server: Server, load: { streams: number; concurrency: number; rampMs: number; deadlineMs: number; headers: Record<string, string> }): Promise<LoadResult> {
  const config = { url: server.url, path: server.path, body: server.body, ...load };
  const child = spawn(process.execPath, ['test/perf/sse-load.ts', JSON.stringify(config)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return (await firstJsonLine(child)) as unknown as LoadResult;
}

async function lateness(server: Server): Promise<{ p50: number; p99: number; p999: number; max: number }> {
  const stats = (await (await fetch(`${server.url}/_mock/stats`)).json()) as { emissionLatenessMs: { p50: number; p99: number; p999: number; max: number } };
  return stats.emissionLatenessMs;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function paced(name: 'mock' | 'bare') {
  const server = await startServer(name);
  try {
    const headers = { 'x-mock-ttft-ms': '200', 'x-mock-itl-ms': '50', 'x-mock-jitter-ms': '0', 'x-mock-output-tokens': String(PACED_TOKENS) };
    const result = await runLoad(server, { streams: STREAMS, concurrency: STREAMS, rampMs: RAMP_MS, deadlineMs: 120_000, headers });
    return { result, lateness: await lateness(server) };
  } finally {
    await stopServer(server);
  }
}

async function max(name: 'mock' | 'bare') {
  const server = await startServer(name);
  try {
    const headers = { 'x-mock-ttft-ms': '0', 'x-mock-itl-ms': '0', 'x-mock-jitter-ms': '0', 'x-mock-output-tokens': '1000' };
    return await runLoad(server, { streams: 1_000_000, concurrency: 64, rampMs: 0, deadlineMs: 4_000, headers });
  } finally {
    await stopServer(server);
  }
}

export async function runMockCapacity(): Promise<string> {
  process.stderr.write(`mock capacity: paced ${STREAMS} streams x ${PACED_TOKENS} tokens at 20 tokens/s (ramp ${RAMP_MS} ms)\n`);
  const pacedMock = await paced('mock');
  const pacedBare = await paced('bare');
  process.stderr.write(`mock capacity: max throughput, ${RUNS} runs each\n`);
  const maxMock: number[] = [];
  const maxBare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    maxBare.push((await max('bare')).framesPerSec);
    maxMock.push((await max('mock')).framesPerSec);
  }
  const ratio = median(maxMock) / median(maxBare);
  const rows = [
    '| scenario | server | streams ok / errors | frames/s received | emission lateness p50 | p99 | p99.9 | max |',
    '|---|---|---|---|---|---|---|---|',
    ...(
      [
        ['mock', pacedMock],
        ['bare node:http', pacedBare],
      ] as const
    ).map(([label, r]) => `| ${STREAMS} streams at 20 tok/s | ${label} | ${r.result.completed} / ${r.result.errors} | ${fmt(r.result.framesPerSec)} | ${fmt(r.lateness.p50, 3)} ms | ${fmt(r.lateness.p99, 3)} ms | ${fmt(r.lateness.p999, 3)} ms | ${fmt(r.lateness.max, 1)} ms |`),
    `| max throughput, 64 streams, no delays (median of ${RUNS}) | mock | | ${fmt(median(maxMock))} (runs: ${maxMock.map((v) => fmt(v)).join(', ')}) | | | | |`,
    `| max throughput, 64 streams, no delays (median of ${RUNS}) | bare node:http | | ${fmt(median(maxBare))} (runs: ${maxBare.map((v) => fmt(v)).join(', ')}) | | | | |`,
  ];
  const verdicts = [
    `mock / bare max frames/s: ${ratio.toFixed(2)}x (target >= 0.70x): ${ratio >= 0.7 ? 'met' : 'NOT met'}`,
    `mock emission lateness p99 at ${STREAMS} x 20 tok/s: ${pacedMock.lateness.p99} ms (target <= 2 ms): ${pacedMock.lateness.p99 <= 2 && pacedMock.result.errors === 0 ? 'met' : 'NOT met'}`,
  ];
  return [...rows, '', ...verdicts].join('\n');
}
