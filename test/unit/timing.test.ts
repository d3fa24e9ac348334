import { describe, expect, it } from 'vitest';
import type { TimingProfile } from '../../stand-ins/azure-openai/deployments.ts';
import { createPrng } from '../../stand-ins/azure-openai/prng.ts';
import { planTokenTimes } from '../../stand-ins/azure-openai/timing.ts';

const SMOOTH: TimingProfile = { ttftMs: 100, itlMs: 20, jitterMs: 5, mode: 'smooth', burstTokens: 4, outputTokens: 10 };

describe('token timing model', () => {
  it('starts at TTFT and averages the inter-token latency', () => {
    const times = planTokenTimes(SMOOTH, 1_000, createPrng(1));
    expect(times[0]).toBe(100);
    const meanGap = (times.at(-1)! - times[0]!) / 999;
    expect(meanGap).toBeGreaterThan(19);
    expect(meanGap).toBeLessThan(21);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(60);
  });

  it('is reproducible for a seed and differs across seeds', () => {
    expect(planTokenTimes(SMOOTH, 50, createPrng(5))).toEqual(planTokenTimes(SMOOTH, 50, createPrng(5)));
    expect(planTokenTimes(SMOOTH, 50, createPrng(5))).not.toEqual(planTokenTimes(SMOOTH, 50, createPrng(6)));
  });

  it('burst mode releases each block at its last token time', () => {
    const times = planTokenTimes({ ...SMOOTH, jitterMs: 0, mode: 'burst' }, 10, createPrng(1));
    expect([...times]).toEqual([160, 160, 160, 160, 240, 240, 240, 240, 280, 280]);
  });
});
