import { describe, expect, it } from 'vitest';
import { interleavedSlot } from '../../src/load/interleave.ts';
import { runLoad } from '../../src/load/run-load.ts';
import { stripedCount } from '../../src/load/shard.ts';
import type { LoadModel } from '../../src/load/types.ts';
import { createUniform } from '../../src/protocol/index.ts';

// Shards of a run: each derives the same seeded global schedule and keeps its striped share.
// Property: over random shard counts, load models, sizes and seeds, the shards are disjoint,
// their union is the unsharded schedule (same indices, same intended times), and counts sum.

interface Launch {
  index: number;
  offsetNs: bigint;
}

async function schedule(
  model: LoadModel,
  requests: number,
  warmup: number,
  seed: number,
  paths: number,
  startNs: bigint,
  share?: { index: number; count: number },
): Promise<Launch[]> {
  const launches: Launch[] = [];
  await runLoad<number>({
    model,
    bounds: { warmup: warmup * paths, requests: requests * paths },
    seed,
    startNs,
    roundOf: (k) => interleavedSlot(k, paths).round,
    ...(share ? { share } : {}),
    isError: () => false,
    task: async (index, intendedNs) => {
      launches.push({ index, offsetNs: intendedNs - startNs });
      await new Promise((resolve) => setImmediate(resolve));
      return index;
    },
    onResult: () => undefined,
  });
  return launches;
}

describe('sharded schedules', () => {
  it('over random N, load model, size and seed: disjoint shards whose union is the unsharded schedule', async () => {
    const random = createUniform(20261130);
    const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
    for (let trial = 0; trial < 40; trial++) {
      const count = int(1, 5);
      const paths = int(1, 3);
      const requests = int(1, 25);
      const warmup = int(0, 2);
      const seed = int(0, 2 ** 31);
      const kind = (['open-constant', 'open-poisson', 'closed'] as const)[trial % 3]!;
      const model: LoadModel =
        kind === 'closed'
          ? { kind: 'closed', concurrency: int(count, count + 4) }
          : { kind: 'open', ratePerSec: int(2000, 8000), arrival: kind === 'open-poisson' ? 'poisson' : 'constant' };
      const label = JSON.stringify({ count, paths, requests, warmup, seed, model });
      const startNs = process.hrtime.bigint() + 2_000_000n;
      const whole = await schedule(model, requests, warmup, seed, paths, startNs);
      const shards = await Promise.all(
        Array.from({ length: count }, (_, index) =>
          schedule(model, requests, warmup, seed, paths, startNs, { index, count }),
        ),
      );
      const indices = shards.flatMap((s) => s.map((l) => l.index));
      expect(new Set(indices).size, `disjoint ${label}`).toBe(indices.length);
      expect(indices.length, `counts sum ${label}`).toBe(whole.length);
      expect(whole.length, label).toBe((requests + warmup) * paths);
      expect(
        [...indices].sort((a, b) => a - b),
        `union ${label}`,
      ).toEqual(whole.map((l) => l.index).sort((a, b) => a - b));
      // A round never splits across shards: its paired requests stay neighbours on one machine.
      for (const shard of shards) {
        const rounds = new Set(shard.map((l) => interleavedSlot(l.index, paths).round));
        for (const round of rounds)
          expect(shard.filter((l) => interleavedSlot(l.index, paths).round === round).length, label).toBe(paths);
      }
      if (model.kind === 'open') {
        const byIndex = new Map(whole.map((l) => [l.index, l.offsetNs]));
        for (const launch of shards.flat())
          expect(launch.offsetNs, `intended time of ${launch.index} ${label}`).toBe(byIndex.get(launch.index));
      }
    }
  }, 60_000);

  it('splits closed-loop workers striped, summing to the whole', () => {
    for (let n = 1; n <= 20; n++) {
      for (let count = 1; count <= 6; count++) {
        const parts = Array.from({ length: count }, (_, index) => stripedCount(n, { index, count }));
        expect(parts.reduce((a, b) => a + b, 0)).toBe(n);
        expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
      }
    }
  });
});
