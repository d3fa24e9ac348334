import hdr from 'hdr-histogram-js';
import { createUniform } from '../protocol/index.ts';

/** The distribution summary used for every metric in summary.json (ms, or tokens, or tokens/s). */
export interface Distribution {
  n: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
  mean: number;
  stdev: number;
  min: number;
  max: number;
}

/** A confidence interval on a statistic. */
export interface Interval {
  estimate: number;
  low: number;
  high: number;
  confidence: number;
}

/**
 * Records values into an HDR histogram (3 significant digits, in thousandths of the unit,
 * so ms are kept to the µs) and keeps the raw values when asked, for bootstrap intervals.
 */
export class Accumulator {
  private readonly histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  private readonly raw: number[] | undefined;
  private count = 0;
  private sum = 0;
  private sumSquares = 0;
  private minimum = Infinity;
  private maximum = -Infinity;

  constructor(options: { keepRaw?: boolean } = {}) {
    this.raw = options.keepRaw ? [] : undefined;
  }

  record(value: number): void {
    if (!Number.isFinite(value)) return;
    this.histogram.recordValue(Math.max(1, Math.round(value * 1000)));
    this.raw?.push(value);
    this.count++;
    this.sum += value;
    this.sumSquares += value * value;
    this.minimum = Math.min(this.minimum, value);
    this.maximum = Math.max(this.maximum, value);
  }

  values(): readonly number[] {
    return this.raw ?? [];
  }

  /** The HDR histogram, compressed base64 (hdr-histogram-js V2 encoding), values in thousandths of the unit (µs for ms): what shards carry so a merge can add them. */
  encode(): string {
    return hdr.encodeIntoCompressedBase64(this.histogram);
  }

  /**
   * Quantiles are exact (nearest rank) when raw values are kept (one per request); pooled
   * series (every inter-token gap) use the histogram, within 0.1%.
   */
  summary(): Distribution | null {
    if (this.count === 0) return null;
    const sorted = this.raw ? Float64Array.from(this.raw).sort() : undefined;
    const at = (p: number): number =>
      round3(sorted ? nearestRank(sorted, p / 100) : this.histogram.getValueAtPercentile(p) / 1000);
    const mean = this.sum / this.count;
    const variance = this.count > 1 ? (this.sumSquares - this.count * mean * mean) / (this.count - 1) : 0;
    return {
      n: this.count,
      p50: at(50),
      p90: at(90),
      p95: at(95),
      p99: at(99),
      p999: at(99.9),
      mean: round3(mean),
      stdev: round3(Math.sqrt(Math.max(0, variance))),
      min: round3(this.minimum),
      max: round3(this.maximum),
    };
  }
}

export const round3 = (x: number): number => Math.round(x * 1000) / 1000;

/** The q-quantile (0..1) of already sorted values, nearest-rank; NaN when empty. */
export function nearestRank(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The q-quantile (0..1) of values, nearest-rank. */
export function quantileOf(values: ArrayLike<number>, q: number): number {
  return nearestRank(Float64Array.from(values as ArrayLike<number>).sort(), q);
}

/**
 * Percentile bootstrap interval for a statistic of one sample: resample with replacement
 * `resamples` times, take the statistic, report the (1-c)/2 and (1+c)/2 quantiles.
 */
export function bootstrapInterval(
  values: readonly number[],
  statistic: (sample: Float64Array) => number,
  options: { resamples?: number; confidence?: number; seed?: number } = {},
): Interval | null {
  const n = values.length;
  if (n < 2) return null;
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const random = createUniform(options.seed ?? 1);
  const source = Float64Array.from(values);
  const draw = new Float64Array(n);
  const estimates = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) draw[i] = source[Math.floor(random() * n)]!;
    estimates[r] = statistic(draw);
  }
  estimates.sort();
  const pick = (q: number): number => estimates[Math.min(resamples - 1, Math.max(0, Math.floor(q * resamples)))]!;
  return {
    estimate: round3(statistic(source)),
    low: round3(pick((1 - confidence) / 2)),
    high: round3(pick((1 + confidence) / 2)),
    confidence,
  };
}

/** Bootstrap interval on a quantile (p50 = 0.5, p95 = 0.95). */
export function quantileInterval(values: readonly number[], q: number, seed = 1): Interval | null {
  return bootstrapInterval(values, (sample) => quantileOf(sample, q), { seed });
}

/** Adds encoded HDR histograms (shards of one metric): the exact histogram of their union, encoded. */
export function addEncodedHistograms(encoded: readonly string[]): { encoded: string; totalCount: number } {
  const sum = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  for (const one of encoded) {
    const histogram = hdr.decodeFromCompressedBase64(one);
    sum.add(histogram);
    histogram.destroy();
  }
  const result = { encoded: hdr.encodeIntoCompressedBase64(sum), totalCount: sum.totalCount };
  sum.destroy();
  return result;
}
