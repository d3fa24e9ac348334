import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The load generator's own health during a run (summary.json `run.harness`). */
export interface HarnessHealth {
  /** The client process's event-loop delay over the run (perf_hooks.monitorEventLoopDelay), ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  /** A request overlapping a moment when the event loop was this late is marked `harnessStalled`. */
  stallThresholdMs: number;
  stalledSamples: number;
  samples: number;
  /** True when the harness, not the target, limited the run: too many stalled samples, or a p99 delay over the threshold. */
  isHarnessBound: boolean;
}

const TICK_MS = 5;
const MAX_WINDOWS = 100_000;
/** Over this share of stalled samples, the run is said to measure the harness. */
export const HARNESS_BOUND_SHARE = 0.05;

/**
 * Watches the event loop of the process that runs the load. A loop late by milliseconds
 * delays every timestamp the client takes, so a sample taken while it was late measures the
 * harness as much as the target: those are marked, and the run says so.
 */
export class HarnessMonitor {
  readonly stallThresholdMs: number;
  private readonly histogram = monitorEventLoopDelay({ resolution: 10 });
  /** [start, end] in ns on process.hrtime of each moment the loop was later than the threshold. */
  private readonly stalls: Array<[bigint, bigint]> = [];
  private timer: NodeJS.Timeout | undefined;
  private expectedNs = 0n;
  private stalledSamples = 0;
  private samples = 0;

  constructor(stallThresholdMs = 10) {
    this.stallThresholdMs = stallThresholdMs;
  }

  start(): void {
    this.histogram.enable();
    this.expectedNs = process.hrtime.bigint() + BigInt(TICK_MS * 1e6);
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram.disable();
  }

  private tick(): void {
    const now = process.hrtime.bigint();
    const lateNs = now - this.expectedNs;
    if (lateNs > BigInt(Math.round(this.stallThresholdMs * 1e6)) && this.stalls.length < MAX_WINDOWS) this.stalls.push([now - lateNs, now]);
    this.expectedNs = now + BigInt(TICK_MS * 1e6);
  }

  /** Whether the loop stalled during [startNs, endNs] (a stall's start is known to one tick, 5 ms); counts the sample either way. */
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
    const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
    const p99 = this.histogram.count > 0 ? ms(this.histogram.percentile(99)) : 0;
    return {
      eventLoopDelayMs: this.histogram.count > 0 ? { p50: ms(this.histogram.percentile(50)), p99, max: ms(this.histogram.max) } : { p50: 0, p99: 0, max: 0 },
      stallThresholdMs: this.stallThresholdMs,
      stalledSamples: this.stalledSamples,
      samples: this.samples,
      isHarnessBound: p99 > this.stallThresholdMs || (this.samples > 0 && this.stalledSamples / this.samples > HARNESS_BOUND_SHARE),
    };
  }
}
