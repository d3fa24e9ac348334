/**
 * mulberry32: a small seeded uniform PRNG in [0, 1). Shared by the mock (text, ids,
 * timings) and the harness (Poisson arrivals, bootstrap resampling), so a seed reproduces a
 * run on both sides.
 */
export function createUniform(seed: number): () => number {
  const uniform = new Mulberry32(seed);
  return () => uniform.next();
}

/** mulberry32 as an object: one field of state, its methods shared (the mock keeps one per stream). */
export class Mulberry32 {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}
