export type Arrival = 'constant' | 'poisson';

/** How requests are started. */
export type LoadModel =
  | { kind: 'sequential' }
  | { kind: 'closed'; concurrency: number }
  | { kind: 'open'; ratePerSec: number; arrival: Arrival; maxInFlight?: number };

export interface LoadBounds {
  /** Measured requests (after warm-up); undefined when bounded by duration. */
  requests?: number;
  /** Measured time, ms (after warm-up). */
  durationMs?: number;
  /** Requests run first and excluded from results. */
  warmup: number;
}

export interface Bailout {
  /** Stop when errors / completed exceeds this (0..1). */
  errorRatio: number;
  /** Only after this many completed measured requests. */
  minRequests: number;
}

/** Runs request `index` meant to start at `intendedNs`; resolves when it is done (never rejects). */
export type LoadTask<T> = (index: number, intendedNs: bigint, signal: AbortSignal) => Promise<T>;

export interface LoadResult {
  launched: number;
  completed: number;
  stoppedBy: 'requests' | 'duration' | 'bailout' | 'aborted';
  /** Open loop: how late the scheduler started requests against their intended time, ms. */
  schedulerLagMs: { p50: number; p99: number; max: number } | null;
  /** Launches per second actually achieved by measured requests (open loop). */
  achievedRatePerSec: number | null;
  /** Requests in flight, averaged over the run's time: how many share each moment (the paired comparison's block size). */
  meanInFlight: number | null;
}
