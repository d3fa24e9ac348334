import normalQuantile from '@stdlib/stats-base-dists-normal-quantile';
import signrankCdf from '@stdlib/stats-base-dists-signrank-cdf';
import { formatMs } from './format-ms.ts';
import { round3, type Interval } from './stats.ts';

/**
 * What one path adds over another, from paired requests: the Hodges–Lehmann shift with the
 * Wilcoxon signed-rank confidence interval, computed over blocks of consecutive rounds.
 * docs/decisions/0006-paired-overhead-estimator.md says why.
 */
export interface PairedShift extends Interval {
  /** Rounds with a result on both paths. */
  pairs: number;
  /** Consecutive rounds averaged into one block (requests in flight together are correlated). */
  blockRounds: number;
  /** Blocks the interval was computed over. */
  blocks: number;
  /** The confidence the discrete signed-rank distribution actually gives (at least `confidence` when exact). */
  achievedConfidence: number;
  method: 'hodges-lehmann/wilcoxon-signed-rank';
}

/** Below this many blocks no two-sided 95% signed-rank interval exists (n = 6 is the first). */
export const MIN_BLOCKS = 6;
/** Up to this many blocks the signed-rank distribution is exact; above, its normal approximation. */
const EXACT_MAX_BLOCKS = 60;

/**
 * `differences[i]` is path minus baseline in round `firstRound + i` (undefined when either
 * failed). Rounds are grouped into blocks of `blockRounds` rounds aligned on round numbers, each block's mean difference is one
 * observation, and the shift and its interval come from those. When there are too few rounds
 * for `MIN_BLOCKS` blocks, the block shrinks (down to single rounds); with fewer than
 * `MIN_BLOCKS` pairs there is no interval (null).
 */
export function pairedShift(
  differences: ReadonlyArray<number | undefined>,
  blockRounds = 1,
  confidence = 0.95,
  firstRound = 0,
): PairedShift | null {
  const pairs = differences.filter((d) => d !== undefined).length;
  if (pairs < MIN_BLOCKS) return null;
  let size = Math.max(1, Math.floor(blockRounds));
  let blocks = blockMeans(differences, size, firstRound);
  while (blocks.length < MIN_BLOCKS && size > 1) blocks = blockMeans(differences, --size, firstRound);
  const walsh = walshAverages(blocks);
  const n = blocks.length;
  const m = walsh.length;
  const depth = signedRankDepth(n, 1 - confidence);
  const estimate = median(walsh);
  return {
    estimate: round3(estimate),
    low: round3(walsh[depth - 1]!),
    high: round3(walsh[m - depth]!),
    confidence,
    achievedConfidence: round3(n <= EXACT_MAX_BLOCKS ? 1 - 2 * signrankCdf(depth - 1, n) : confidence),
    pairs,
    blockRounds: size,
    blocks: n,
    method: 'hodges-lehmann/wilcoxon-signed-rank',
  };
}

/**
 * Means of blocks of `size` rounds, skipping missing rounds (and empty blocks). `differences[i]`
 * is round `firstRound + i`, and blocks are aligned on absolute round numbers (round r is in
 * block ⌊r / size⌋): a block the size of the counterbalancing period then holds every path in
 * every launch slot equally often, as src/load/interleave.ts designs it (counted from the first
 * measured round, after warm-up rounds, blocks would straddle two periods).
 */
function blockMeans(differences: ReadonlyArray<number | undefined>, size: number, firstRound = 0): number[] {
  const sums = new Map<number, { sum: number; count: number }>();
  for (let i = 0; i < differences.length; i++) {
    const d = differences[i];
    if (d === undefined) continue;
    const block = Math.floor((firstRound + i) / size);
    const entry = sums.get(block) ?? { sum: 0, count: 0 };
    entry.sum += d;
    entry.count++;
    sums.set(block, entry);
  }
  return [...sums.values()].map(({ sum, count }) => sum / count);
}

/** Every (x_i + x_j) / 2 for i ≤ j, sorted: the Hodges–Lehmann estimate is their median. */
function walshAverages(values: readonly number[]): Float64Array {
  const out = new Float64Array((values.length * (values.length + 1)) / 2);
  let k = 0;
  for (let i = 0; i < values.length; i++)
    for (let j = i; j < values.length; j++) out[k++] = (values[i]! + values[j]!) / 2;
  return out.sort();
}

function median(sorted: Float64Array): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * How many Walsh averages to cut from each end: the largest d with P(T+ ≤ d − 1) ≤ α/2 under
 * the signed-rank distribution of n (exact up to EXACT_MAX_BLOCKS, normal approximation with a
 * continuity correction above). The interval is [W(d), W(M − d + 1)].
 */
export function signedRankDepth(n: number, alpha: number): number {
  const m = (n * (n + 1)) / 2;
  if (n > EXACT_MAX_BLOCKS) {
    const sd = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24);
    return Math.max(1, Math.floor(m / 2 - normalQuantile(1 - alpha / 2, 0, 1) * sd + 0.5));
  }
  let depth = 1;
  while (depth < m / 2 && signrankCdf(depth, n) <= alpha / 2) depth++;
  return depth;
}

/**
 * Requests in flight together share the host's and the upstream's moment, so their paired
 * differences are correlated: a block holds the rounds in flight at once, rounded up to the
 * counterbalancing period so that each block runs every path in every position equally often.
 */
export function blockRoundsFor(meanInFlight: number, paths: number, period: number): number {
  const rounds = Math.max(1, Math.ceil(meanInFlight / Math.max(1, paths)));
  return Math.max(1, period) * Math.ceil(rounds / Math.max(1, period));
}

/**
 * Pairs needed per path for a ±`halfWidthMs` interval at the spread observed: the half-width
 * shrinks with the square root of the number of blocks.
 */
export function pairsForHalfWidth(shift: PairedShift, halfWidthMs = 1): number {
  const observed = (shift.high - shift.low) / 2;
  if (observed <= halfWidthMs) return shift.pairs;
  return Math.ceil(shift.pairs * (observed / halfWidthMs) ** 2);
}

/** How the words follow the interval. */
export type ShiftVerdict = 'no-measurable-difference' | 'adds' | 'suspect-negative';

/**
 * "no measurable difference" when the interval holds 0; "adds" when it is above 0; a
 * significant negative overhead is "suspect": a gateway cannot make its upstream faster, so
 * it says drift or a broken pairing, never a saving.
 */
export function shiftVerdict(shift: Pick<Interval, 'low' | 'high'>): ShiftVerdict {
  if (shift.low > 0) return 'adds';
  if (shift.high < 0) return 'suspect-negative';
  return 'no-measurable-difference';
}

const signed = (value: number): string => `${value > 0 ? '+' : value < 0 ? '−' : ''}${Math.abs(value).toFixed(1)}`;

/**
 * The one sentence every place uses for a path's overhead (lab headline, report, guided labs,
 * the ttft-overhead check): `subject` is e.g. "the gateway", `what` e.g. "to time to first token".
 * A significant negative shift is suspect when `subject` sits in front of `baseline` (a gateway
 * cannot beat its own upstream); pass `mayBeFaster` when the two reach different upstream work
 * (a protocol bridge, say) and a saving is possible.
 */
export function describeShift(
  shift: PairedShift,
  subject: string,
  what: string,
  baseline = 'direct',
  mayBeFaster = false,
): string {
  const ci = `95% CI ${signed(shift.low)} to ${signed(shift.high)} ms`;
  const needed = pairsForHalfWidth(shift);
  const narrow =
    needed > shift.pairs ? `; about ${needed.toLocaleString('en-US')} requests per path would narrow it to ±1 ms` : '';
  switch (shiftVerdict(shift)) {
    case 'adds':
      return `${subject} adds ${formatMs(shift.estimate)} ${what} (${ci}, ${shift.pairs} pairs${narrow})`;
    case 'no-measurable-difference':
      return `${subject}: no measurable difference ${what} (${ci}, ${shift.pairs} pairs${narrow})`;
    case 'suspect-negative':
      if (mayBeFaster)
        return `${subject} saves ${formatMs(-shift.estimate)} ${what} against ${baseline} (${ci}, ${shift.pairs} pairs${narrow})`;
      return `${subject} measured ${formatMs(-shift.estimate)} faster than ${baseline} ${what} (${ci}, ${shift.pairs} pairs), which a gateway cannot do: suspect drift or a broken pairing, not a saving`;
  }
}
