/**
 * A shard's share of a run. Every shard derives the same seeded global schedule (the launch
 * sequence, its intended times, its rounds) and keeps the rounds r with r ≡ index (mod count),
 * striped as k6's execution segments stripe iterations. Equal shards striped this way are
 * sum-preserving: no request is lost or doubled by rounding, and the union of the shards is
 * the unsharded run. A round stays whole on one shard, so its paired requests stay neighbours
 * in time on one machine.
 */
export interface ShardShare {
  index: number;
  count: number;
}

export function ownsRound(share: ShardShare | undefined, round: number): boolean {
  return share === undefined || round % share.count === share.index;
}

/** How many of n striped items (closed-loop workers) fall to the shard. */
export function stripedCount(n: number, share: ShardShare | undefined): number {
  if (share === undefined) return n;
  return share.index < n ? Math.floor((n - 1 - share.index) / share.count) + 1 : 0;
}
