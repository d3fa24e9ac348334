import type { TimingProfile } from './deployments.ts';
import type { Prng } from './prng.ts';

/**
 * When each content token is released, in ms after the response started.
 *
 * Smooth mode: token 0 at TTFT, then one token per inter-token gap, each gap drawn from a
 * normal distribution (mean itlMs, sd jitterMs) and clamped to [0.2, 3] x the mean so a
 * long tail cannot stall a run.
 * Burst mode: tokens are generated on the same clock but released in blocks of
 * `burstTokens`, all at the time the block's last token was generated, the way Azure's
 * default content filter releases text.
 *
 * A Float64Array, so the times of a long stream live outside the JS heap: they live as long
 * as the stream, and every young-generation GC would otherwise copy them (twice) while
 * other streams' frames wait.
 */
export function planTokenTimes(timing: TimingProfile, tokenCount: number, prng: Prng): Float64Array {
  const generated = new Float64Array(tokenCount);
  let at = timing.ttftMs;
  for (let i = 0; i < tokenCount; i++) {
    if (i > 0) {
      const gap = prng.normal(timing.itlMs, timing.jitterMs);
      at += Math.min(Math.max(gap, timing.itlMs * 0.2), timing.itlMs * 3);
    }
    generated[i] = at;
  }
  if (timing.mode === 'smooth') return generated;
  const released = new Float64Array(tokenCount);
  for (let start = 0; start < tokenCount; start += timing.burstTokens) {
    const end = Math.min(start + timing.burstTokens, tokenCount);
    const releaseAt = generated[end - 1] ?? at;
    for (let i = start; i < end; i++) released[i] = releaseAt;
  }
  return released;
}
