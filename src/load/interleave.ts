/**
 * Counterbalanced interleaving of paths: when a run measures P paths, the scheduler launches
 * one sequence of requests, and request k of that sequence belongs to round k / P and to one
 * path. Within each round every path runs once, rotated by the base-P digit sum of the round
 * (the Prouhet–Thue–Morse order: for two paths AB BA BA AB BA AB AB BA …). Any aligned block
 * of P rounds holds every path in every position once, so linear drift (JIT, pools, host load,
 * a warming upstream) cancels; blocks of P², P³ … rounds also cancel quadratic, cubic … trends,
 * and a batch of requests launched together (closed loop) sees each path in each launch slot
 * equally often, where a plain ABBA repeat would give one path the first and last slot of
 * every batch. Every load model uses it the same way: sequential and closed loop take the
 * sequence in order (each worker alternates paths), open loop assigns arrivals along it.
 */

export interface Slot {
  /** The round: the pair (or tuple) index shared by the paths, and the mock seed's index. */
  round: number;
  /** Which path, 0..paths-1. */
  path: number;
}

/** Request k of the interleaved sequence of `paths` paths. */
export function interleavedSlot(k: number, paths: number): Slot {
  if (paths <= 1) return { round: k, path: 0 };
  const round = Math.floor(k / paths);
  return { round, path: ((k % paths) + digitSum(round, paths)) % paths };
}

function digitSum(n: number, base: number): number {
  let sum = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / base)) sum += rest % base;
  return sum;
}

/** Rounds in the smallest aligned block where every path has held every position equally often. */
export function counterbalancePeriod(paths: number): number {
  return Math.max(paths, 1);
}
