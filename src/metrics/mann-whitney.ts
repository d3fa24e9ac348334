/** The result of a two-sided Mann–Whitney U test of sample `b` against sample `a`. */
export interface MannWhitneyResult {
  /** U for `b`: the number of (a, b) pairs where b is larger, ties counting one half. */
  u: number;
  /** Standardised U (normal approximation, tie- and continuity-corrected). */
  z: number;
  /** Two-sided p-value; 1 when every value is tied. */
  pValue: number;
  /** P(b > a) + P(b = a)/2: 0.5 means neither sample tends to be larger. */
  probabilityBGreater: number;
}

/** Fewest values per sample for which the normal approximation is used at all. */
export const MANN_WHITNEY_MIN_N = 5;

/**
 * Mann–Whitney U (Wilcoxon rank-sum), as benchstat uses to compare benchmark runs: no
 * assumption of normality, which latencies never have. Normal approximation with the tie
 * correction of the variance and a continuity correction; null when a sample has fewer
 * than {@link MANN_WHITNEY_MIN_N} values, where the approximation says nothing useful.
 */
export function mannWhitneyU(a: readonly number[], b: readonly number[]): MannWhitneyResult | null {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < MANN_WHITNEY_MIN_N || n2 < MANN_WHITNEY_MIN_N) return null;
  const n = n1 + n2;
  // Pool with a tag (1 = from b), sort, and give tied runs their average rank.
  const pooled = new Float64Array(n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n1; i++) pooled[i] = a[i]!;
  for (let j = 0; j < n2; j++) pooled[n1 + j] = b[j]!;
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((x, y) => pooled[x]! - pooled[y]!);
  let rankSumB = 0;
  let tieTerm = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && pooled[order[end]!] === pooled[order[start]!]) end++;
    const ties = end - start;
    const averageRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) if (order[k]! >= n1) rankSumB += averageRank;
    tieTerm += ties ** 3 - ties;
    start = end;
  }
  const u = rankSumB - (n2 * (n2 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1)));
  if (variance <= 0) return { u, z: 0, pValue: 1, probabilityBGreater: 0.5 };
  const distance = Math.max(0, Math.abs(u - mean) - 0.5);
  const z = (Math.sign(u - mean) * distance) / Math.sqrt(variance);
  return { u, z, pValue: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))), probabilityBGreater: u / (n1 * n2) };
}

/** Standard normal CDF, via the Chebyshev-fitted erfc of Numerical Recipes (`erfcc`, relative error < 1.2e-7). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

function erfc(x: number): number {
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const poly =
    -x * x -
    1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const value = t * Math.exp(poly);
  return x >= 0 ? value : 2 - value;
}
