import { Accumulator, round3 } from '../metrics/stats.ts';

/** The load generator's own health during a run (summary.json `run.harness`; docs/bench.md says what each field means). */
export interface HarnessHealth {
  /**
   * How late the client process's event loop woke up, past the moment it asked for (a ticker
   * every `TICK_MS`; lateness = wake-up − intended wake-up, so an idle loop reads about 0), ms.
   */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** A request overlapping a moment when the event loop was this late is marked `harnessStalled`. */
  stallThresholdMs: number;
  stalledSamples: number;
  samples: number;
  /** Share of the watched time the loop spent in stalls over the threshold (0 to 1). */
  stalledTimeShare?: number;
  /** True when the harness, not the target, limited the run: its loop was persistently late (p99 lateness over the threshold) while requests were being read. */
  isHarnessBound: boolean;
}

/** The ticker's period: a stall's start is known to one tick. */
export const TICK_MS = 5;
/**
 * A wake-up this much later than intended is a stall. Measured on this project's 2-core host
 * (docs/bench.md "The harness watches itself"): an idle or lightly loaded harness wakes up
 * 0.1–0.3 ms late at p99 (a few ms at worst, from GC); a harness reading 1,000 streams in one
 * process, whose recorded TTFT is off by tens of ms, wakes up tens of ms late at p99.
 */
export const STALL_THRESHOLD_MS = 10;
const MAX_WINDOWS = 100_000;

/**
 * Watches the event loop of the process that runs the load. A loop late by milliseconds
 * delays every timestamp the client takes, so a sample taken while it was late measures the
 * harness as much as the target: those are marked, and the run says so when the lateness is
 * persistent (more than 1% of wake-ups over the threshold), not when one pause touched a few.
 *
 * The lateness is measured against the intended wake-up, not as the interval between
 * wake-ups: perf_hooks.monitorEventLoopDelay records the interval, resolution included, so
 * an idle loop at resolution 10 reads 10 ms (it made every run look harness-bound).
 */
export class HarnessMonitor {
  readonly stallThresholdMs: number;
  private readonly lateness = new Accumulator();
  /** [start, end] in ns on process.hrtime of each moment the loop was later than the threshold. */
  private readonly stalls: Array<[bigint, bigint]> = [];
  private timer: NodeJS.Timeout | undefined;
  private intendedNs: bigint | undefined;
  private firstNs: bigint | undefined;
  private lastNs: bigint | undefined;
  private stalledNs = 0n;
  private stalledSamples = 0;
  private samples = 0;

  constructor(stallThresholdMs = STALL_THRESHOLD_MS) {
    this.stallThresholdMs = stallThresholdMs;
  }

  start(): void {
    this.begin(process.hrtime.bigint());
    this.timer = setInterval(() => this.tick(process.hrtime.bigint()), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Starts (or, after stop(), resumes) the watch at `nowNs`: start() does it with the real clock; tests drive `tick` by hand. */
  begin(nowNs: bigint): void {
    this.firstNs ??= nowNs;
    this.lastNs = nowNs;
    this.intendedNs = nowNs + BigInt(TICK_MS * 1e6);
  }

  /** One wake-up of the ticker at `nowNs`: records how late it is, and a stall when over the threshold. */
  tick(nowNs: bigint): void {
    if (this.intendedNs === undefined) this.begin(nowNs);
    const lateNs = nowNs - this.intendedNs!;
    // Timers fire on a millisecond clock that can run a little behind hrtime: early is on time.
    const lateMs = Math.max(0, Number(lateNs) / 1e6);
    this.lateness.record(lateMs);
    if (lateMs > this.stallThresholdMs) {
      this.stalledNs += lateNs;
      if (this.stalls.length < MAX_WINDOWS) this.stalls.push([this.intendedNs!, nowNs]);
    }
    this.lastNs = nowNs;
    this.intendedNs = nowNs + BigInt(TICK_MS * 1e6);
  }

  /** Whether the loop stalled during [startNs, endNs]; counts the sample either way. */
  markSample(startNs: bigint, endNs: bigint): boolean {
    this.samples++;
    // Stalls are recorded in time order; samples end roughly in order, so scan from the end.
    let stalled = false;
    for (let i = this.stalls.length - 1; i >= 0; i--) {
      const [from, to] = this.stalls[i]!;
      if (to < startNs) break;
      if (from <= endNs) {
        stalled = true;
        break;
      }
    }
    if (stalled) this.stalledSamples++;
    return stalled;
  }

  health(): HarnessHealth {
    const d = this.lateness.summary();
    const watchedNs = this.firstNs !== undefined && this.lastNs !== undefined ? Number(this.lastNs - this.firstNs) : 0;
    const p99 = d ? round3(d.p99) : 0;
    return {
      eventLoopDelayMs: d ? { p50: round3(d.p50), p99, max: round3(d.max) } : { p50: 0, p99: 0, max: 0 },
      stallThresholdMs: this.stallThresholdMs,
      stalledSamples: this.stalledSamples,
      samples: this.samples,
      stalledTimeShare: watchedNs > 0 ? Math.round(Math.min(1, Number(this.stalledNs) / watchedNs) * 1e5) / 1e5 : 0,
      isHarnessBound: this.samples > 0 && this.stalledSamples > 0 && p99 > this.stallThresholdMs,
    };
  }
}
