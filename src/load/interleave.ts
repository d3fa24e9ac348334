/**
 * Counterbalanced interleaving of paths: when a run measures P paths, the scheduler launches
 * one sequence of requests, and request k of that sequence belongs to round k / P and to one
 * path. Within each round every path runs once; across rounds the order is counterbalanced so
 * that drift (JIT, connection pools, host load, a warming upstream) lands on every path
 * equally: ABBA for two paths, a rotating (Latin-square) order for three or more. Every load
 * model uses it the same way: sequential and closed loop take the sequence in order (each
 * worker alternates paths), open loop assigns arrivals to paths along it.
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
  const position = k % paths;
  if (paths === 2) return { round, path: round % 2 === 0 ? position : 1 - position };
  return { round, path: (position + round) % paths };
}

/** Rounds after which every path has held every position equally often: 2 for ABBA, P for the rotation. */
export function counterbalancePeriod(paths: number): number {
  return paths <= 1 ? 1 : paths;
}
