import { Mulberry32 } from '../../src/protocol/index.ts';

/**
 * The mock's seeded PRNG (mulberry32, shared with the harness): the same seed gives the
 * same text, ids and timings, so a benchmark run against the mock can be reproduced exactly.
 */
export interface Prng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [0, maxExclusive). */
  int(maxExclusive: number): number;
  /** Normal with the given mean and standard deviation (Box-Muller). */
  normal(mean: number, stdDev: number): number;
  /** `length` characters drawn from `alphabet`, as one flat string. */
  chars(alphabet: string, length: number): string;
  /** `length` characters from [A-Za-z0-9]. */
  alnum(length: number): string;
  /** `length` (at most ALNUM_POOL_LENGTH) characters from [A-Za-z0-9], as a cheap slice of a fixed random pool. */
  alnumSlice(length: number): string;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const ALNUM_POOL_LENGTH = 4096;
let pool: string | undefined;

export function createPrng(seed: number): Prng {
  return new SeededPrng(seed);
}

/** The mock's draws on mulberry32: a class, so a stream's PRNG is one small object, not a dozen closures. */
class SeededPrng extends Mulberry32 implements Prng {
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }

  normal(mean: number, stdDev: number): number {
    if (stdDev === 0) return mean;
    const u = Math.max(this.next(), Number.EPSILON);
    const v = this.next();
    return mean + stdDev * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  chars(alphabet: string, length: number): string {
    const picked = new Array<string>(length);
    for (let i = 0; i < length; i++) picked[i] = alphabet[this.int(alphabet.length)]!;
    // One flat string, not a rope of `length` pieces (ids live as long as their stream).
    return picked.join('');
  }

  alnum(length: number): string {
    return this.chars(ALNUM, length);
  }

  alnumSlice(length: number): string {
    pool ??= createPrng(0x5eed).alnum(ALNUM_POOL_LENGTH * 2);
    const start = this.int(ALNUM_POOL_LENGTH);
    return pool.slice(start, start + Math.min(length, ALNUM_POOL_LENGTH));
  }
}
