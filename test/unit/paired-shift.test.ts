import { describe, expect, it } from 'vitest';
import { counterbalancePeriod, interleavedSlot } from '../../src/load/interleave.ts';
import {
  blockRoundsFor,
  describeShift,
  pairedShift,
  pairsForHalfWidth,
  shiftVerdict,
  signedRankDepth,
} from '../../src/metrics/paired-shift.ts';
import { quantileInterval } from '../../src/metrics/stats.ts';
import { createUniform } from '../../src/protocol/index.ts';

// The gateway-overhead interval is calibrated, not asserted: on synthetic runs with drift,
// host noise shared by requests in flight together, slowly wandering load and skewed
// per-request noise, the 95% interval must hold the true overhead about 95% of the time.

function normal(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

interface RunShape {
  rounds: number;
  concurrency: number;
  trueShiftMs: number;
  driftMsPerRequest: number;
  interleaved: boolean;
}

/** Path-1 minus path-0 TTFT per round, from one simulated run. */
function simulate(shape: RunShape, seed: number): Array<number | undefined> {
  const uniform = createUniform(seed);
  const gauss = normal(uniform);
  const launches = shape.rounds * 2;
  const latency: number[][] = [[], []];
  let env = 0;
  let batchNoise = 0;
  for (let k = 0; k < launches; k++) {
    const { round, path } = shape.interleaved
      ? interleavedSlot(k, 2)
      : { round: k % shape.rounds, path: k < shape.rounds ? 0 : 1 };
    env = 0.9 * env + 0.5 * gauss(); // slowly wandering host load
    if (k % shape.concurrency === 0) batchNoise = 2 * gauss(); // shared by requests in flight together
    const skewed = -3 * Math.log(1 - uniform()) - 3; // exponential, mean 0: long right tail
    latency[path]![round] =
      250 + shape.driftMsPerRequest * k + env + batchNoise + skewed + (path === 1 ? shape.trueShiftMs : 0);
  }
  return latency[0]!.map((a, r) => latency[1]![r]! - a);
}

function coverage(shape: RunShape, runs: number): { covered: number; meanEstimate: number; meanHalfWidth: number } {
  let covered = 0;
  let sumEstimate = 0;
  let sumHalf = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const shift = pairedShift(
      simulate(shape, seed * 7919),
      blockRoundsFor(shape.concurrency, 2, counterbalancePeriod(2)),
    )!;
    if (shift.low <= shape.trueShiftMs && shape.trueShiftMs <= shift.high) covered++;
    sumEstimate += shift.estimate;
    sumHalf += (shift.high - shift.low) / 2;
  }
  return { covered: covered / runs, meanEstimate: sumEstimate / runs, meanHalfWidth: sumHalf / runs };
}

describe('interleaved, counterbalanced paths', () => {
  it('runs every path once per round, in the Thue–Morse order for two paths and its rotation for more', () => {
    expect(Array.from({ length: 16 }, (_, k) => interleavedSlot(k, 2).path)).toEqual([
      0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0,
    ]);
    expect(Array.from({ length: 8 }, (_, k) => interleavedSlot(k, 2).round)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]);
    // A batch of 4 launched together (closed loop, 4 in flight) alternates ABBA and BAAB, so over
    // two batches each path holds every launch slot once.
    const slots = [0, 0, 0, 0];
    for (let k = 0; k < 8; k++) if (interleavedSlot(k, 2).path === 0) slots[k % 4]!++;
    expect(slots).toEqual([1, 1, 1, 1]);
    for (const paths of [2, 3, 4, 5]) {
      const period = counterbalancePeriod(paths);
      const positionSum = new Array<number>(paths).fill(0);
      for (let k = 0; k < paths * period * 3; k++) {
        const { round, path } = interleavedSlot(k, paths);
        const inRound = Array.from({ length: paths }, (_, j) => interleavedSlot(round * paths + j, paths).path).sort();
        expect(inRound).toEqual(Array.from({ length: paths }, (_, j) => j));
        positionSum[path]! += k % paths;
      }
      // Over whole periods, each path holds each position equally often: first-order drift cancels.
      expect(new Set(positionSum).size).toBe(1);
    }
  });
});

describe('Hodges–Lehmann shift with a Wilcoxon signed-rank interval', () => {
  it('cuts the textbook number of Walsh averages (n = 10: W(9) to W(47))', () => {
    expect(signedRankDepth(10, 0.05)).toBe(9);
    expect(signedRankDepth(6, 0.05)).toBe(1);
    const shift = pairedShift([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])!;
    expect(shift).toMatchObject({ estimate: 5.5, low: 3, high: 8, blocks: 10 });
    // Exact: P(T+ ≤ 8 | n = 10) = 25/1024, so 1 − 2 × 25/1024 = 0.951; n = 6, depth 1: 1 − 2/64 = 0.969.
    expect(shift.achievedConfidence).toBe(0.951);
    expect(pairedShift([1, 2, 3, 4, 5, 6])!.achievedConfidence).toBe(0.969);
  });

  it('has no interval below six pairs, and shrinks blocks rather than drop below six', () => {
    expect(pairedShift([1, 2, 3, 4, 5])).toBeNull();
    expect(pairedShift([1, 2, 3, 4, 5, 6, 7, 8], 4)).toMatchObject({ blockRounds: 1, blocks: 8 });
    expect(
      pairedShift(
        Array.from({ length: 24 }, (_, i) => i % 3),
        4,
      ),
    ).toMatchObject({ blockRounds: 4, blocks: 6 });
  });

  it('words follow the interval: no measurable difference when it holds 0, a negative one is suspect', () => {
    const around0 = pairedShift([-1, 1, -0.5, 0.5, 0.2, -0.2, 0.1, -0.1])!;
    expect(shiftVerdict(around0)).toBe('no-measurable-difference');
    expect(describeShift(around0, 'the gateway', 'to time to first token')).toMatch(
      /^the gateway: no measurable difference to time to first token \(95% CI −[\d.]+ to \+[\d.]+ ms, 8 pairs/,
    );
    const negative = pairedShift([-5, -6, -4, -5.5, -4.5, -5, -6, -4])!;
    expect(describeShift(negative, 'the gateway', 'to time to first token')).toMatch(
      /faster than direct .*suspect drift or a broken pairing, not a saving/,
    );
    const positive = pairedShift([5, 6, 4, 5.5, 4.5, 5, 6, 4])!;
    expect(describeShift(positive, 'the gateway', 'to time to first token')).toMatch(
      /^the gateway adds 5\.0 ms to time to first token/,
    );
    expect(pairsForHalfWidth(positive, 1)).toBeGreaterThanOrEqual(positive.pairs);
  });

  it.each([
    [
      'A/A, 20 pairs, 4 in flight',
      { rounds: 20, concurrency: 4, trueShiftMs: 0, driftMsPerRequest: 0.05, interleaved: true },
    ],
    [
      '5 ms overhead, 20 pairs, 4 in flight',
      { rounds: 20, concurrency: 4, trueShiftMs: 5, driftMsPerRequest: 0.05, interleaved: true },
    ],
    [
      'A/A, 60 pairs, 8 in flight, steep drift',
      { rounds: 60, concurrency: 8, trueShiftMs: 0, driftMsPerRequest: 0.5, interleaved: true },
    ],
    [
      '20 ms overhead, 200 pairs, sequential',
      { rounds: 200, concurrency: 1, trueShiftMs: 20, driftMsPerRequest: 0.02, interleaved: true },
    ],
  ] as const)('holds its 95%% on interleaved runs with drift and correlation: %s', (_name, shape) => {
    const { covered, meanEstimate, meanHalfWidth } = coverage(shape, 1000);
    if (process.env['PRINT_COVERAGE']) console.log(_name, { covered, meanEstimate, meanHalfWidth });
    // 1,000 runs: a binomial standard error of 0.7%; the exact signed-rank interval is conservative by design.
    expect(covered).toBeGreaterThanOrEqual(0.93);
    expect(covered).toBeLessThanOrEqual(0.995);
    expect(Math.abs(meanEstimate - shape.trueShiftMs)).toBeLessThan(0.5);
  });

  it('the old design, every direct request before every gateway request, is biased by the drift and covers the truth far less often', () => {
    const shape = { rounds: 20, concurrency: 4, trueShiftMs: 0, driftMsPerRequest: 0.2, interleaved: false };
    const sequential = coverage(shape, 500);
    // Path 1 runs 20 launches later: the drift alone adds 20 × 0.2 = 4 ms.
    expect(sequential.meanEstimate).toBeGreaterThan(3.5);
    expect(sequential.covered).toBeLessThan(0.8);
    const interleaved = coverage({ ...shape, interleaved: true }, 500);
    if (process.env['PRINT_COVERAGE']) console.log('sequential vs interleaved', sequential, interleaved);
    expect(Math.abs(interleaved.meanEstimate)).toBeLessThan(0.2);
    expect(interleaved.covered).toBeGreaterThan(sequential.covered);
  });

  it('the old percentile bootstrap on the median of pairs undercovers with 20 pairs (why it was replaced)', () => {
    const shape = { rounds: 20, concurrency: 4, trueShiftMs: 0, driftMsPerRequest: 0.05, interleaved: true };
    let covered = 0;
    const runs = 500;
    for (let seed = 1; seed <= runs; seed++) {
      const differences = simulate(shape, seed * 7919) as number[];
      const interval = quantileInterval(differences, 0.5, seed)!;
      if (interval.low <= 0 && 0 <= interval.high) covered++;
    }
    if (process.env['PRINT_COVERAGE']) console.log('old bootstrap median coverage', covered / runs);
    expect(covered / runs).toBeLessThan(0.93);
  });
});

/**
 * Per-round TTFT of `paths` paths run interleaved in one load (the counterbalanced order for k
 * paths), each path adding `added[p]` over the path before it. `slotMs`: what each later launch
 * slot of a round costs (the first request of a round reaches a free CPU first, as on a real
 * host). `warmupRounds`: rounds run first and not measured (latency[path][r] is undefined there).
 */
function simulateChain(
  paths: number,
  rounds: number,
  concurrency: number,
  added: readonly number[],
  driftMsPerRequest: number,
  seed: number,
  slotMs = 0,
  warmupRounds = 0,
): number[][] {
  const uniform = createUniform(seed);
  const gauss = normal(uniform);
  const latency: number[][] = Array.from({ length: paths }, () => []);
  let env = 0;
  let batchNoise = 0;
  for (let k = 0; k < (warmupRounds + rounds) * paths; k++) {
    const { round, path } = interleavedSlot(k, paths);
    env = 0.9 * env + 0.5 * gauss();
    if (k % concurrency === 0) batchNoise = 2 * gauss();
    const skewed = -3 * Math.log(1 - uniform()) - 3;
    const cost = added.slice(0, path + 1).reduce((a, b) => a + b, 0);
    if (round >= warmupRounds)
      latency[path]![round] = 250 + driftMsPerRequest * k + env + batchNoise + skewed + cost + slotMs * (k % paths);
  }
  return latency;
}

describe('a chain of paths (hop by hop)', () => {
  it('an A/A chain (three paths to the same upstream) holds 0 in every hop and end to end about 95% of the time, under drift', () => {
    const runs = 400;
    const covered = { hop1: 0, hop2: 0, endToEnd: 0 };
    for (let seed = 1; seed <= runs; seed++) {
      const [direct, gateway, edge] = simulateChain(3, 24, 6, [0, 0, 0], 0.5, seed * 104_729);
      const shift = (a: number[], b: number[]) =>
        pairedShift(
          a.map((x, r) => b[r]! - x),
          blockRoundsFor(6, 3, counterbalancePeriod(3)),
        )!;
      const holds = (s: { low: number; high: number }) => s.low <= 0 && 0 <= s.high;
      if (holds(shift(direct!, gateway!))) covered.hop1++;
      if (holds(shift(gateway!, edge!))) covered.hop2++;
      if (holds(shift(direct!, edge!))) covered.endToEnd++;
    }
    for (const [hop, n] of Object.entries(covered)) {
      expect(n / runs, hop).toBeGreaterThanOrEqual(0.92);
      expect(n / runs, hop).toBeLessThanOrEqual(0.995);
    }
  });

  it('with a launch-slot effect and warm-up rounds before the measured ones, every hop holds 0 about 95% of the time (blocks aligned on round numbers)', () => {
    // calibrate --chain's shape: 2 warm-up rounds, 20 measured, 4 in flight; each later launch slot of a round costs 1.5 ms.
    const runs = 400;
    const block = blockRoundsFor(4, 3, counterbalancePeriod(3));
    const covered = [0, 0, 0];
    for (let seed = 1; seed <= runs; seed++) {
      const measured = simulateChain(3, 20, 4, [0, 0, 0], 0.2, seed * 15_485_863, 1.5, 2).map((l) => l.slice(2));
      const differences = (a: number, b: number) => measured[a]!.map((x, i) => measured[b]![i]! - x);
      for (const [i, [a, b]] of [
        [0, 1],
        [1, 2],
        [0, 2],
      ].entries()) {
        const shift = pairedShift(differences(a!, b!), block, 0.95, 2);
        if (shift !== null && shift.low <= 0 && 0 <= shift.high) covered[i]!++;
      }
    }
    if (process.env['PRINT_COVERAGE']) console.log('slot effect + warm-up', covered);
    for (const n of covered) {
      expect(n / runs).toBeGreaterThanOrEqual(0.92);
      expect(n / runs).toBeLessThanOrEqual(0.995);
    }
  });

  it('a known cost at one hop is recovered at that hop, and the hops add up to the end-to-end figure within their intervals', () => {
    let recovered = 0;
    let addsUp = 0;
    const runs = 200;
    for (let seed = 1; seed <= runs; seed++) {
      const [direct, gateway, edge] = simulateChain(3, 24, 6, [0, 0, 20], 0.5, seed * 7_919);
      const block = blockRoundsFor(6, 3, counterbalancePeriod(3));
      const shift = (a: number[], b: number[]) =>
        pairedShift(
          a.map((x, r) => b[r]! - x),
          block,
        )!;
      const [hop1, hop2, all] = [shift(direct!, gateway!), shift(gateway!, edge!), shift(direct!, edge!)];
      if (hop2.low <= 20 && 20 <= hop2.high && shiftVerdict(hop2) === 'adds') recovered++;
      const halfWidths = (hop1.high - hop1.low) / 2 + (hop2.high - hop2.low) / 2 + (all.high - all.low) / 2;
      if (Math.abs(all.estimate - (hop1.estimate + hop2.estimate)) <= halfWidths) addsUp++;
    }
    expect(recovered / runs).toBeGreaterThanOrEqual(0.9);
    expect(addsUp / runs).toBeGreaterThanOrEqual(0.99);
  });
});
