import { describe, expect, it } from 'vitest';
import { pairedShift } from '../../src/metrics/paired-shift.ts';
import { Accumulator, bootstrapInterval, quantileInterval, quantileOf } from '../../src/metrics/stats.ts';

function normals(n: number, mean: number, sd: number, seed: number): number[] {
  let state = seed;
  const uniform = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state + 1) / 2147483649;
  };
  return Array.from(
    { length: n },
    () => mean + sd * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform()),
  );
}

describe('statistics', () => {
  it('summaries are exact with raw values and within 0.1% from the histogram', () => {
    const exact = new Accumulator({ keepRaw: true });
    const hdr = new Accumulator();
    for (let v = 1; v <= 1000; v++) {
      exact.record(v);
      hdr.record(v);
    }
    expect(exact.summary()).toMatchObject({ n: 1000, p50: 500, p90: 900, p99: 990, min: 1, max: 1000, mean: 500.5 });
    expect(exact.summary()!.stdev).toBeCloseTo(288.82, 1);
    const h = hdr.summary()!;
    for (const [key, truth] of [
      ['p50', 500],
      ['p90', 900],
      ['p99', 990],
    ] as const)
      expect(Math.abs(h[key] - truth) / truth).toBeLessThan(0.001);
  });

  it('quantileOf uses nearest rank', () => {
    expect(quantileOf([5, 1, 3, 2, 4], 0.5)).toBe(3);
    expect(quantileOf([5, 1, 3, 2, 4], 1)).toBe(5);
  });

  it('the 95% bootstrap interval on the median covers the true median at about its nominal rate', () => {
    let covered = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const sample = normals(200, 100, 15, 1000 + t);
      const interval = bootstrapInterval(sample, (s) => quantileOf(s, 0.5), { resamples: 400, seed: t + 1 })!;
      if (interval.low <= 100 && interval.high >= 100) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.9);
    expect(covered / trials).toBeLessThanOrEqual(0.99);
  });

  it('identical samples give a paired difference interval around zero; a 10% shift does not include zero', () => {
    const base = normals(200, 250, 25, 7);
    const flat = pairedShift(base.map(() => 0))!;
    expect(flat.estimate).toBe(0);
    const diff = pairedShift(base.map((v) => v * 1.1 - v))!;
    expect(diff.low).toBeGreaterThan(0);
    expect(diff.pairs).toBe(200);
  });

  it('needs at least two values for an interval', () => {
    expect(quantileInterval([1], 0.5)).toBeNull();
  });
});
