/**
 * A histogram with logarithmic bins (20 per decade, 1 µs to 1,000 s when values are ms):
 * fixed memory however many values are added, and a shape that stays readable for latencies
 * that span several decades. The report draws ITL and delivery-latency distributions from it.
 */
export class LogHistogram {
  static readonly BINS_PER_DECADE = 20;
  static readonly MIN = 1e-3;
  private readonly counts = new Float64Array(9 * LogHistogram.BINS_PER_DECADE + 1);
  total = 0;

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    const bin = Math.floor(
      Math.log10(Math.max(value, LogHistogram.MIN) / LogHistogram.MIN) * LogHistogram.BINS_PER_DECADE,
    );
    this.counts[Math.min(this.counts.length - 1, Math.max(0, bin))]!++;
    this.total++;
  }

  /** Lower edge of bin `i`. */
  static edge(i: number): number {
    return LogHistogram.MIN * 10 ** (i / LogHistogram.BINS_PER_DECADE);
  }

  private range(): [number, number] {
    let first = this.counts.findIndex((c) => c > 0);
    let last = this.counts.findLastIndex((c) => c > 0);
    if (first < 0) first = last = 0;
    return [first, last];
  }

  /** [bin centre, share of all values in percent], empty bins inside the range included. */
  shares(): Array<[number, number]> {
    if (this.total === 0) return [];
    const [first, last] = this.range();
    const out: Array<[number, number]> = [];
    for (let i = first; i <= last; i++)
      out.push([Math.sqrt(LogHistogram.edge(i) * LogHistogram.edge(i + 1)), (this.counts[i]! / this.total) * 100]);
    return out;
  }

  /** [upper bin edge, fraction of values at or below it]: a CDF at the bins' resolution. */
  cdf(): Array<[number, number]> {
    if (this.total === 0) return [];
    const [first, last] = this.range();
    const out: Array<[number, number]> = [[LogHistogram.edge(first), 0]];
    let seen = 0;
    for (let i = first; i <= last; i++) {
      seen += this.counts[i]!;
      out.push([LogHistogram.edge(i + 1), seen / this.total]);
    }
    return out;
  }
}

/**
 * An empirical CDF thinned to at most `maxPoints` steps (evenly spaced in probability, with
 * both ends kept): 10,000 requests draw as well from 200 points as from 10,000.
 */
export function cdfPoints(values: readonly number[], maxPoints = 200): Array<[number, number]> {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return [];
  const out: Array<[number, number]> = [[sorted[0]!, 0]];
  const step = Math.max(1, Math.floor(n / maxPoints));
  for (let i = step - 1; i < n; i += step) out.push([sorted[i]!, (i + 1) / n]);
  if (out.at(-1)![1] !== 1) out.push([sorted[n - 1]!, 1]);
  return out;
}
