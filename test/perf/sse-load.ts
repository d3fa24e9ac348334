/**
 * Load generator for the capacity benchmark, run as its own process so it does not share
 * the server's event loop. Opens `streams` SSE streams (ramped over `rampMs`), keeping
 * `concurrency` in flight until `streams` have started or `deadlineMs` passes, counts frames
 * (blank-line-terminated blocks) as bytes arrive, and prints one JSON result line.
 * With `stamps`, it also reads the mock's `: emit-ns=` stamps and reports per-frame delivery
 * latency (arrival minus emission, same monotonic clock) p50/p99/p99.9.
 * With `alsoUrls`, streams alternate between `url` and those origins (stream i goes to target
 * i mod n) in the same run, and delivery is reported per target instead (`byTarget`, in order):
 * a proxy and the direct path it is compared with share the same moments of the upstream
 * and of this host, so what one of them adds is not confounded with when it ran.
 * Bounded in count (streams) and time (deadlineMs).
 */
import { Agent, request } from 'node:http';

interface LoadConfig {
  url: string;
  /** More origins served in the same run, streams alternating over [url, ...alsoUrls]. */
  alsoUrls?: string[];
  path: string;
  body: string;
  headers: Record<string, string>;
  streams: number;
  concurrency: number;
  rampMs: number;
  deadlineMs: number;
  stamps?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as LoadConfig;
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const targets = [config.url, ...(config.alsoUrls ?? [])].map((origin) => new URL(config.path, origin));
let started = 0;
let completed = 0;
let errors = 0;
let frames = 0;
let bytes = 0;
let inFlight = 0;
const t0 = performance.now();
let firstFrameAt = 0;
let lastFrameAt = 0;
/** Delivery latencies, per target. */
const deliveryByTarget: number[][] = targets.map(() => []);
const STAMP = /: emit-ns=(\d+)/g;

/** Delivery latency of every complete stamp line in this chunk (a line split across chunks is joined). */
function readStamps(chunk: Buffer, state: { partial: string; target: number }): void {
  const arrivalNs = process.hrtime.bigint();
  const text = state.partial + chunk.toString('latin1');
  const lastNewline = text.lastIndexOf('\n');
  for (const match of text.slice(0, lastNewline + 1).matchAll(STAMP)) {
    const ms = Number(arrivalNs - BigInt(match[1]!)) / 1e6;
    deliveryByTarget[state.target]!.push(ms);
  }
  state.partial = text.slice(lastNewline + 1);
}

function percentile(sorted: number[], q: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

function summarize(values: number[]): {
  count: number;
  p50Ms: number | null;
  p99Ms: number | null;
  p999Ms: number | null;
} {
  const sorted = values.sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
  };
}

function countFrames(chunk: Buffer, state: { lastByte: number }): number {
  let n = 0;
  if (state.lastByte === 10 && chunk[0] === 10) n++;
  for (let i = chunk.indexOf(10); i !== -1 && i < chunk.length - 1; i = chunk.indexOf(10, i + 1)) {
    if (chunk[i + 1] === 10) n++;
  }
  state.lastByte = chunk[chunk.length - 1] ?? 0;
  return n;
}

function startStream(): void {
  const target = started % targets.length;
  started++;
  inFlight++;
  const state = { lastByte: 0, partial: '', target };
  const req = request(
    targets[target]!,
    { method: 'POST', agent, headers: { 'content-type': 'application/json', 'api-key': 'bench', ...config.headers } },
    (res) => {
      if (res.statusCode !== 200) errors++;
      res.on('data', (chunk: Buffer) => {
        const now = performance.now();
        if (firstFrameAt === 0) firstFrameAt = now;
        lastFrameAt = now;
        bytes += chunk.length;
        frames += countFrames(chunk, state);
        if (config.stamps) readStamps(chunk, state);
      });
      res.on('end', () => {
        completed++;
        done();
      });
      res.on('error', () => {
        errors++;
        done();
      });
    },
  );
  req.on('error', () => {
    errors++;
    done();
  });
  req.end(config.body);
}

let isFinished = false;
function done(): void {
  inFlight--;
  if (isFinished) return;
  if (started < config.streams && performance.now() - t0 < config.deadlineMs) {
    if (inFlight < config.concurrency) startStream();
  } else if (inFlight === 0) {
    finish();
  }
}

function finish(): void {
  if (isFinished) return;
  isFinished = true;
  const activeMs = lastFrameAt - firstFrameAt;
  // With several targets, only per target: their frames mixed would be no path's figure.
  const delivery = targets.length === 1 ? summarize(deliveryByTarget[0]!) : undefined;
  const byTarget = targets.length > 1 ? deliveryByTarget.map((values) => ({ delivery: summarize(values) })) : undefined;
  process.stdout.write(
    `${JSON.stringify({ started, completed, errors, frames, bytes, elapsedMs: performance.now() - t0, framesPerSec: activeMs > 0 ? (frames / activeMs) * 1000 : 0, delivery, byTarget })}\n`,
  );
  agent.destroy();
  process.exit(0);
}

// Ramp: spread the first `concurrency` starts evenly over rampMs.
const initial = Math.min(config.concurrency, config.streams);
const stepMs = initial > 1 ? config.rampMs / (initial - 1) : 0;
for (let i = 0; i < initial; i++) {
  if (stepMs === 0) startStream();
  else setTimeout(startStream, i * stepMs);
}
// Hard stop: never run past the deadline plus a grace period.
setTimeout(finish, config.deadlineMs + 60_000).unref();
