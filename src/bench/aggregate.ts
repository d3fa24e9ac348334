import { interTokenGapsMs, type Sample } from '../metrics/sample.ts';
import { Accumulator, quantileInterval, type Distribution, type Interval } from '../metrics/stats.ts';
import type { LoadResult } from '../load/types.ts';
import type { BenchCell } from './matrix.ts';

/** A scenario's results in summary.json. */
export interface ScenarioSummary {
  name: string;
  api: string;
  stream: boolean;
  maxTokens: number | 'max';
  path: string;
  requests: number;
  ok: number;
  errors: Record<string, number>;
  lengthLimited: number;
  tokenSource: { usage: number; tokenizer: number };
  ttftMs: Distribution | null;
  e2eMs: Distribution | null;
  itlMs: Distribution | null;
  tpotMs: Distribution | null;
  outputTokens: Distribution | null;
  tokensPerSec: Distribution | null;
  firstEventMs: Distribution | null;
  ttfbMs: Distribution | null;
  queueMs: Distribution | null;
  /** Per-frame delivery latency (arrival minus upstream emission stamp), when stamped. */
  deliveryLatencyMs: Distribution | null;
  ci: { ttftP50: Interval | null; ttftP95: Interval | null; e2eP50: Interval | null; e2eP95: Interval | null };
  load: ScenarioLoad | null;
  /** Measured requests that overlapped a stall of the harness's own event loop. */
  harnessStalled: number;
  /** Sharded runs: each metric's HDR histogram, encoded (µs), so `npm run merge` adds them exactly. */
  histograms?: Partial<Record<HistogramMetric, string>>;
}

/** What summary.json keeps of a scenario's load (a merge adds shards' counts and rates; it has no launch totals). */
export type ScenarioLoad = Pick<LoadResult, 'stoppedBy' | 'achievedRatePerSec' | 'schedulerLagMs' | 'meanInFlight'>;

export const HISTOGRAM_METRICS = [
  'ttftMs',
  'e2eMs',
  'itlMs',
  'tpotMs',
  'ttfbMs',
  'queueMs',
  'deliveryLatencyMs',
] as const;
export type HistogramMetric = (typeof HISTOGRAM_METRICS)[number];

/** How a scenario's requests were laid out in time against its twins on other paths. */
export interface Pairing {
  /** Paths run together (1 when alone). */
  paths: number;
  /** Whether the paths were interleaved (counterbalanced) in one load. */
  interleaved: boolean;
}

/** Collects one scenario's samples as they complete (warm-up excluded). It reads samples only, never timelines, so summary.json and report.html derive from the same recorded numbers. */
export class ScenarioAggregate {
  readonly cell: BenchCell;
  requests = 0;
  ok = 0;
  lengthLimited = 0;
  readonly errors: Record<string, number> = {};
  readonly tokenSource = { usage: 0, tokenizer: 0 };
  readonly ttft = new Accumulator({ keepRaw: true });
  readonly e2e = new Accumulator({ keepRaw: true });
  readonly itl = new Accumulator();
  readonly tpot = new Accumulator({ keepRaw: true });
  readonly outputTokens = new Accumulator({ keepRaw: true });
  readonly tokensPerSec = new Accumulator({ keepRaw: true });
  readonly firstEvent = new Accumulator({ keepRaw: true });
  readonly ttfb = new Accumulator({ keepRaw: true });
  readonly queue = new Accumulator({ keepRaw: true });
  readonly delivery = new Accumulator();
  /** index -> value, ok requests only: pairs this scenario with its twin on another path. */
  readonly ttftByIndex = new Map<number, number>();
  readonly e2eByIndex = new Map<number, number>();
  /** Per request (stamped streams only): the median of its frames' delivery delay, for the hop comparison. */
  readonly deliveryByIndex = new Map<number, number>();
  load: ScenarioLoad | null = null;
  /** How this scenario shared time with its twins on other paths (the paired comparison's blocks follow it). */
  readonly pairing: Pairing;
  harnessStalled = 0;

  constructor(cell: BenchCell, pairing: Pairing = { paths: 1, interleaved: false }) {
    this.cell = cell;
    this.pairing = pairing;
  }

  add(sample: Sample): void {
    this.requests++;
    if (sample.harnessStalled) this.harnessStalled++;
    if (sample.outcome !== 'ok') {
      this.errors[sample.outcome] = (this.errors[sample.outcome] ?? 0) + 1;
      return;
    }
    this.ok++;
    if (sample.isLengthLimited) this.lengthLimited++;
    if (sample.tokenSource) this.tokenSource[sample.tokenSource]++;
    const record = (acc: Accumulator, value: number | null): void => {
      if (value !== null) acc.record(value);
    };
    record(this.ttft, sample.ttftMs);
    record(this.e2e, sample.e2eMs);
    record(this.tpot, sample.tpotMs);
    record(this.outputTokens, sample.outputTokens);
    record(this.tokensPerSec, sample.tokensPerSec);
    record(this.firstEvent, sample.firstEventMs);
    record(this.ttfb, sample.ttfbMs);
    record(this.queue, sample.queueMs);
    for (const gap of interTokenGapsMs(sample.arrivalsMs)) this.itl.record(gap);
    for (const latency of sample.deliveryMs ?? []) this.delivery.record(latency);
    if (sample.ttftMs !== null) this.ttftByIndex.set(sample.index, sample.ttftMs);
    if (sample.e2eMs !== null) this.e2eByIndex.set(sample.index, sample.e2eMs);
    if (sample.delivery !== null) this.deliveryByIndex.set(sample.index, sample.delivery.p50);
  }

  /** The accumulator behind each histogram metric. */
  accumulator(metric: HistogramMetric): Accumulator {
    return {
      ttftMs: this.ttft,
      e2eMs: this.e2e,
      itlMs: this.itl,
      tpotMs: this.tpot,
      ttfbMs: this.ttfb,
      queueMs: this.queue,
      deliveryLatencyMs: this.delivery,
    }[metric];
  }

  summary(seed: number, withHistograms = false): ScenarioSummary {
    const { cell } = this;
    return {
      name: cell.name,
      api: cell.api,
      stream: cell.stream,
      maxTokens: cell.maxTokens,
      path: cell.target.label,
      requests: this.requests,
      ok: this.ok,
      errors: this.errors,
      lengthLimited: this.lengthLimited,
      tokenSource: this.tokenSource,
      ttftMs: this.ttft.summary(),
      e2eMs: this.e2e.summary(),
      itlMs: this.itl.summary(),
      tpotMs: this.tpot.summary(),
      outputTokens: this.outputTokens.summary(),
      tokensPerSec: this.tokensPerSec.summary(),
      firstEventMs: this.firstEvent.summary(),
      ttfbMs: this.ttfb.summary(),
      queueMs: this.queue.summary(),
      deliveryLatencyMs: this.delivery.summary(),
      ci: {
        ttftP50: quantileInterval(this.ttft.values(), 0.5, seed),
        ttftP95: quantileInterval(this.ttft.values(), 0.95, seed),
        e2eP50: quantileInterval(this.e2e.values(), 0.5, seed),
        e2eP95: quantileInterval(this.e2e.values(), 0.95, seed),
      },
      load: this.load
        ? {
            stoppedBy: this.load.stoppedBy,
            achievedRatePerSec: this.load.achievedRatePerSec,
            schedulerLagMs: this.load.schedulerLagMs,
            meanInFlight: this.load.meanInFlight,
          }
        : null,
      harnessStalled: this.harnessStalled,
      ...(withHistograms
        ? { histograms: Object.fromEntries(HISTOGRAM_METRICS.map((m) => [m, this.accumulator(m).encode()])) }
        : {}),
    };
  }
}
