import { describe, expect, it } from 'vitest';
import { cdfPoints, LogHistogram } from '../../src/metrics/log-histogram.ts';
import { mannWhitneyU, normalCdf } from '../../src/metrics/mann-whitney.ts';
import { quantileDifferences } from '../../src/metrics/quantile-difference.ts';
import { nearestRank } from '../../src/metrics/stats.ts';
import { createUniform } from '../../src/protocol/random.ts';
import { compareCollected, compareMetric, type Collected } from '../../src/report/compare-runs.ts';

const SETTINGS = { alpha: 0.05, confidence: 0.95, resamples: 1000, seed: 7 };

/** Latency-like samples: log-normal around `median` ms. */
function latencies(n: number, median: number, sigma: number, random: () => number): number[] {
  return Array.from(
    { length: n },
    () => median * Math.exp(sigma * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())),
  );
}

describe('Mann–Whitney U', () => {
  it('matches the textbook normal approximation on separated samples', () => {
    // U = 25 for b, mean 12.5, sd sqrt(25*11/12); continuity-corrected z = 12/4.787 = 2.507, p = 0.0122 (scipy, asymptotic).
    const r = mannWhitneyU([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])!;
    expect(r.u).toBe(25);
    expect(r.z).toBeCloseTo(2.5067, 3);
    expect(r.pValue).toBeCloseTo(0.01219, 4);
    expect(r.probabilityBGreater).toBe(1);
    expect(mannWhitneyU([6, 7, 8, 9, 10], [1, 2, 3, 4, 5])!.z).toBeCloseTo(-2.5067, 3);
  });

  it('counts ties as halves and reports p = 1 when every value is tied', () => {
    expect(mannWhitneyU([3, 3, 3, 3, 3], [3, 3, 3, 3, 3])).toEqual({
      u: 12.5,
      z: 0,
      pValue: 1,
      probabilityBGreater: 0.5,
    });
    expect(mannWhitneyU([1, 2, 3, 4, 5], [1, 2, 3, 4, 6])!.u).toBe(13);
  });

  it('refuses samples too small for the approximation', () => {
    expect(mannWhitneyU([1, 2, 3, 4], [5, 6, 7, 8, 9])).toBeNull();
  });

  it('normalCdf is accurate to 1e-7', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
  });
});

describe('comparing two samples', () => {
  it('identical samples are not significant, at any percentile', () => {
    const a = latencies(200, 100, 0.3, createUniform(1));
    const m = compareMetric('ttft', a, [...a], SETTINGS);
    expect(m.verdict).toBe('no significant change');
    expect(m.mannWhitney!.pValue).toBeGreaterThan(0.99);
    for (const q of m.quantiles) {
      expect(q.significant).toBe(false);
      expect(q.differenceMs.estimate).toBe(0);
      expect(q.differenceMs.low).toBeLessThanOrEqual(0);
      expect(q.differenceMs.high).toBeGreaterThanOrEqual(0);
    }
  });

  it('two samples of one distribution are called significant at about alpha, not more', () => {
    const random = createUniform(2);
    let significant = 0;
    const trials = 200;
    for (let t = 0; t < trials; t++) {
      const m = compareMetric('ttft', latencies(200, 100, 0.3, random), latencies(200, 100, 0.3, random), {
        ...SETTINGS,
        resamples: 200,
      });
      if (m.quantiles.some((q) => q.q === 0.5 && q.significant)) significant++;
    }
    expect(significant / trials).toBeLessThan(0.1);
  });

  it('a 10% shift on 200 samples (spread 20%, like TTFT on a quiet path) is significant and estimated as +10%', () => {
    const random = createUniform(3);
    let detected = 0;
    const trials = 40;
    const changes: number[] = [];
    for (let t = 0; t < trials; t++) {
      const m = compareMetric('ttft', latencies(200, 100, 0.2, random), latencies(200, 110, 0.2, random), SETTINGS);
      const p50 = m.quantiles.find((q) => q.q === 0.5)!;
      if (m.verdict === 'slower' && p50.significant) detected++;
      changes.push(p50.changePct);
    }
    expect(detected / trials).toBeGreaterThanOrEqual(0.9);
    const sorted = changes.sort((x, y) => x - y);
    expect(nearestRank(sorted, 0.5)).toBeGreaterThan(7);
    expect(nearestRank(sorted, 0.5)).toBeLessThan(13);
  });

  it('a 10% speed-up is significant as faster', () => {
    const random = createUniform(4);
    const m = compareMetric('e2e', latencies(200, 110, 0.2, random), latencies(200, 100, 0.2, random), SETTINGS);
    expect(m.verdict).toBe('faster');
    expect(m.quantiles.find((q) => q.q === 0.5)!.changePct).toBeLessThan(0);
  });

  it('the 95% interval covers the true difference of medians at about its nominal rate', () => {
    // Normal(100, 10) against Normal(105, 10): the true difference of medians is 5 ms.
    const random = createUniform(5);
    const normal = (mean: number): number =>
      mean + 10 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    const trials = 300;
    let covered = 0;
    for (let t = 0; t < trials; t++) {
      const a = Array.from({ length: 200 }, () => normal(100));
      const b = Array.from({ length: 200 }, () => normal(105));
      const [p50] = quantileDifferences(a, b, [0.5], { resamples: 500, seed: t + 1 })!;
      if (p50!.difference.low <= 5 && 5 <= p50!.difference.high) covered++;
    }
    const rate = covered / trials;
    expect(rate).toBeGreaterThan(0.9);
    expect(rate).toBeLessThan(0.99);
  });

  it('quantile differences report the nearest-rank quantiles of each side and are reproducible by seed', () => {
    const a = [5, 1, 4, 2, 3, 9, 7, 8, 6, 10];
    const b = a.map((x) => x * 2);
    const first = quantileDifferences(a, b, [0.5, 0.95, 0.99], { seed: 9 })!;
    expect(first.map((d) => [d.a, d.b, d.difference.estimate])).toEqual([
      [5, 10, 5],
      [10, 20, 10],
      [10, 20, 10],
    ]);
    expect(quantileDifferences(a, b, [0.5, 0.95, 0.99], { seed: 9 })).toEqual(first);
    for (const d of first) expect(d.difference.low).toBeLessThanOrEqual(d.difference.high);
  });
});

describe('report distributions', () => {
  it('LogHistogram shares sum to 100% and its CDF climbs to 1', () => {
    const h = new LogHistogram();
    for (let i = 1; i <= 1000; i++) h.add(i / 10);
    expect(h.total).toBe(1000);
    expect(h.shares().reduce((s, [, share]) => s + share, 0)).toBeCloseTo(100, 6);
    const cdf = h.cdf();
    expect(cdf.at(-1)![1]).toBe(1);
    expect(cdf.every(([, y], i) => i === 0 || y >= cdf[i - 1]![1])).toBe(true);
    // The median falls in the bin holding 50 ms.
    const median = cdf.find(([, y]) => y >= 0.5)![0];
    expect(median).toBeGreaterThan(50);
    expect(median).toBeLessThan(50 * 10 ** (1 / 20) * 1.001);
  });

  it('cdfPoints thins 10,000 values to about 200 steps and keeps both ends', () => {
    const values = Array.from({ length: 10_000 }, (_, i) => 10_000 - i);
    const points = cdfPoints(values);
    expect(points.length).toBeLessThanOrEqual(202);
    expect(points[0]).toEqual([1, 0]);
    expect(points.at(-1)).toEqual([10_000, 1]);
    expect(points[100]![0]).toBe(5000);
  });
});

describe('compare across many cells: the gate does not cry wolf', () => {
  /** One simulated run: `scenarios` scenarios, each with n TTFT and E2E values from the same distributions. */
  function run(scenarios: number, n: number, random: () => number, shiftPct = 0): Collected {
    const out: Collected = new Map();
    for (let s = 0; s < scenarios; s++) {
      const ttft = latencies(n, 250 * (1 + shiftPct / 100), 0.1, random);
      const e2e = latencies(n, 2300 * (1 + shiftPct / 100), 0.05, random);
      out.set(`scenario-${s}`, { requests: n, ok: n, values: { ttft, e2e, tpot: [], ttfb: [] } });
    }
    return out;
  }
  const settings = { ...SETTINGS, resamples: 200, metrics: ['ttft', 'e2e'] as const };

  it('on unchanged runs (16 scenarios × 2 metrics), some cell is flagged in at most 5% of comparisons with Holm, far more without', () => {
    const random = createUniform(11);
    // 600 comparisons: the binomial standard error at 5% is 0.9%.
    const trials = Number(process.env['COMPARE_TRIALS'] ?? 600);
    let flaggedHolm = 0;
    let flaggedRaw = 0;
    let tripped = 0;
    for (let t = 0; t < trials; t++) {
      const { scenarios } = compareCollected(run(16, 30, random), run(16, 30, random), settings);
      const metrics = scenarios.flatMap((s) => s.metrics);
      if (metrics.some((m) => m.quantiles.some((q) => q.significant))) flaggedHolm++;
      if (metrics.some((m) => m.mannWhitney !== null && m.mannWhitney.pValue < settings.alpha)) flaggedRaw++;
      const regressions = scenarios.flatMap((s) =>
        s.metrics.flatMap((m) => m.quantiles.filter((q) => q.significant && q.changePct > 5)),
      );
      if (regressions.length > 0) tripped++;
    }
    if (process.env['PRINT_COVERAGE'])
      console.log({ flaggedHolm: flaggedHolm / trials, flaggedRaw: flaggedRaw / trials, tripped: tripped / trials });
    expect(flaggedHolm / trials).toBeLessThanOrEqual(0.05);
    expect(tripped / trials).toBeLessThanOrEqual(0.05);
    // Without the adjustment, 32 tests at 5% flag something in most comparisons.
    expect(flaggedRaw / trials).toBeGreaterThan(0.5);
  }, 30_000);

  it('still catches a real 10% slow-down everywhere', () => {
    const random = createUniform(12);
    const { scenarios } = compareCollected(run(16, 30, random), run(16, 30, random, 10), settings);
    const slower = scenarios.flatMap((s) => s.metrics).filter((m) => m.verdict === 'slower').length;
    expect(slower).toBeGreaterThanOrEqual(30);
  });
});
