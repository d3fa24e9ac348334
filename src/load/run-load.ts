import { setTimeout as sleep } from 'node:timers/promises';
import { nearestRank, round3 } from '../metrics/stats.ts';
import { createUniform } from '../protocol/index.ts';
import { ownsRound, stripedCount, type ShardShare } from './shard.ts';
import type { Bailout, LoadBounds, LoadModel, LoadResult, LoadTask } from './types.ts';

export interface RunLoadOptions<T> {
  model: LoadModel;
  bounds: LoadBounds;
  task: LoadTask<T>;
  /** Called as each request ends, in completion order. */
  onResult: (result: T, index: number, isWarmup: boolean) => void;
  /** Whether a result counts as an error for the bail-out. */
  isError: (result: T) => boolean;
  bailout?: Bailout;
  signal?: AbortSignal;
  /** Seed for Poisson inter-arrival times. */
  seed?: number;
  /** Run only this shard's share of the global schedule (src/load/shard.ts). */
  share?: ShardShare;
  /**
   * When the schedule starts, on process.hrtime (default: now). A shard passes the run's
   * common start (`--start-at`) so every shard's schedule lines up; a future start waits.
   */
  startNs?: bigint;
  /** The round a sequence index belongs to (requests of one round stay on one shard); default: the index itself. */
  roundOf?: (index: number) => number;
}

const nowNs = (): bigint => process.hrtime.bigint();

/**
 * Runs a load model to its bound. Open loop: request k is intended at start + t_k, where
 * t_k comes from the arrival process against an absolute clock (sleeps never accumulate
 * drift), latency counts from that intended time (no coordinated omission), and the
 * scheduler's own lateness is reported. Closed loop and sequential: each worker starts the
 * next request when its previous one ends; intended = actual start.
 */
export async function runLoad<T>(options: RunLoadOptions<T>): Promise<LoadResult> {
  const internal = new AbortController();
  const stop = (): void => internal.abort();
  options.signal?.addEventListener('abort', stop, { once: true });
  const state = { completed: 0, measured: 0, errors: 0, stoppedBy: undefined as LoadResult['stoppedBy'] | undefined };
  const { bounds } = options;
  const total = bounds.requests !== undefined ? bounds.warmup + bounds.requests : Infinity;
  let measuredStartNs: bigint | undefined;

  const isOverDuration = (): boolean =>
    bounds.durationMs !== undefined &&
    measuredStartNs !== undefined &&
    Number(nowNs() - measuredStartNs) / 1e6 >= bounds.durationMs;

  const complete = (result: T, index: number): void => {
    const isWarmup = index < bounds.warmup;
    state.completed++;
    options.onResult(result, index, isWarmup);
    if (isWarmup) return;
    state.measured++;
    if (options.isError(result)) state.errors++;
    const bail = options.bailout;
    if (
      bail &&
      state.measured >= bail.minRequests &&
      state.errors / state.measured > bail.errorRatio &&
      state.stoppedBy === undefined
    ) {
      state.stoppedBy = 'bailout';
      internal.abort();
    }
  };

  // Time-weighted count of requests in flight: how correlated neighbouring requests are.
  const startNs = options.startNs ?? nowNs();
  const untilStart = Number(startNs - nowNs()) / 1e6;
  if (untilStart > 0)
    await sleep(untilStart, undefined, options.signal ? { signal: options.signal } : undefined).catch(() => undefined);
  let inFlight = 0;
  const trackingFromNs = nowNs();
  let lastChangeNs = trackingFromNs;
  let inFlightAreaNs = 0;
  const track = (delta: number): void => {
    const t = nowNs();
    inFlightAreaNs += inFlight * Number(t - lastChangeNs);
    lastChangeNs = t;
    inFlight += delta;
  };
  const task: LoadTask<T> = async (index, intendedNs, signal) => {
    track(1);
    try {
      return await options.task(index, intendedNs, signal);
    } finally {
      track(-1);
    }
  };
  const run: LoadRun<T> = {
    options: { ...options, task },
    total,
    owns: (index) => ownsRound(options.share, (options.roundOf ?? ((k) => k))(index)),
    signal: internal.signal,
    complete,
    isOverDuration,
    markMeasuredStart: (ns) => (measuredStartNs ??= ns),
  };
  const result =
    options.model.kind === 'open'
      ? await runOpen(run, options.model)
      : await runClosed(
          run,
          stripedCount(options.model.kind === 'closed' ? options.model.concurrency : 1, options.share),
        );
  options.signal?.removeEventListener('abort', stop);
  const stoppedBy =
    state.stoppedBy ??
    (options.signal?.aborted
      ? 'aborted'
      : bounds.requests !== undefined && result.reachedEnd
        ? 'requests'
        : 'duration');
  track(0);
  const spanNs = Number(lastChangeNs - trackingFromNs);
  const { reachedEnd: _reachedEnd, ...counts } = result;
  return {
    ...counts,
    completed: state.completed,
    stoppedBy,
    meanInFlight: spanNs > 0 ? round3(inFlightAreaNs / spanNs) : null,
  };
}

/** What both schedulers need from runLoad: the task, the bounds, and where results go. */
interface LoadRun<T> {
  options: RunLoadOptions<T>;
  /** Requests in the global sequence, warm-up included (Infinity when bounded by duration). */
  total: number;
  /** Whether this run (shard) launches sequence index k. */
  owns: (index: number) => boolean;
  signal: AbortSignal;
  complete: (result: T, index: number) => void;
  isOverDuration: () => boolean;
  markMeasuredStart: (ns: bigint) => void;
}

/** What a scheduler reports; `reachedEnd`: it went through the whole global sequence. */
type SchedulerResult = Omit<LoadResult, 'completed' | 'stoppedBy' | 'meanInFlight'> & { reachedEnd: boolean };

async function runClosed<T>(
  { options, total, owns, signal, complete, isOverDuration, markMeasuredStart }: LoadRun<T>,
  concurrency: number,
): Promise<SchedulerResult> {
  let next = 0;
  let launched = 0;
  /** The next index of the global sequence this shard owns (the sequence itself when unsharded). */
  const take = (): number | undefined => {
    while (next < total && !owns(next)) next++;
    return next < total ? next++ : undefined;
  };
  const worker = async (): Promise<void> => {
    while (!signal.aborted && !isOverDuration()) {
      const index = take();
      if (index === undefined) return;
      launched++;
      const intended = nowNs();
      if (index >= options.bounds.warmup) markMeasuredStart(intended);
      complete(await options.task(index, intended, signal), index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { launched, schedulerLagMs: null, achievedRatePerSec: null, reachedEnd: next >= total };
}

/** Inter-arrival gaps in ms: constant 1/rate, or exponential (Poisson process) from a seeded PRNG. */
export function createArrivals(ratePerSec: number, arrival: 'constant' | 'poisson', seed = 1): () => number {
  const meanMs = 1000 / ratePerSec;
  if (arrival === 'constant') return () => meanMs;
  const uniform = createUniform(seed);
  return () => -Math.log(1 - uniform()) * meanMs;
}

async function runOpen<T>(
  { options, total, owns, signal, complete, isOverDuration, markMeasuredStart }: LoadRun<T>,
  model: Extract<LoadModel, { kind: 'open' }>,
): Promise<SchedulerResult> {
  const nextGapMs = createArrivals(model.ratePerSec, model.arrival, options.seed);
  const inFlight = new Set<Promise<void>>();
  const lags: number[] = [];
  const measuredLaunches: bigint[] = [];
  const startNs = options.startNs ?? nowNs();
  let offsetMs = 0;
  let launched = 0;
  let k = 0;
  for (; !signal.aborted && k < total && !isOverDuration(); k++) {
    const intendedNs = startNs + BigInt(Math.round(offsetMs * 1e6));
    // Every shard draws every gap, so the global schedule is the same everywhere; it launches its own.
    offsetMs += nextGapMs();
    if (!owns(k)) continue;
    // Wait against the absolute schedule (no accumulated drift). Timers have 1 ms
    // granularity, so a launch can be up to ~1 ms late: that is reported as scheduler lag
    // and included in latency, which counts from the intended time.
    const waitMs = Number(intendedNs - nowNs()) / 1e6;
    if (waitMs > 0.2) await sleep(Math.ceil(waitMs), undefined, { signal }).catch(() => undefined);
    if (signal.aborted) break;
    if (model.maxInFlight !== undefined) {
      while (inFlight.size >= model.maxInFlight && !signal.aborted) await Promise.race(inFlight);
    }
    const index = k;
    launched++;
    const launchNs = nowNs();
    if (index >= options.bounds.warmup) markMeasuredStart(intendedNs);
    if (index >= options.bounds.warmup) {
      lags.push(Number(launchNs - intendedNs) / 1e6);
      measuredLaunches.push(launchNs);
    }
    const running = options.task(index, intendedNs, signal).then((result) => complete(result, index));
    inFlight.add(running);
    void running.finally(() => inFlight.delete(running));
  }
  await Promise.all(inFlight);
  lags.sort((a, b) => a - b);
  const pick = (q: number): number => round3(nearestRank(lags, q));
  const first = measuredLaunches[0];
  const last = measuredLaunches.at(-1);
  const spanSec = first !== undefined && last !== undefined ? Number(last - first) / 1e9 : 0;
  return {
    launched,
    schedulerLagMs: lags.length === 0 ? null : { p50: pick(0.5), p99: pick(0.99), max: pick(1) },
    achievedRatePerSec: spanSec > 0 ? Math.round(((measuredLaunches.length - 1) / spanSec) * 1000) / 1000 : null,
    reachedEnd: k >= total,
  };
}
