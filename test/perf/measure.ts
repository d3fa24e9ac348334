/** Small measurements the benchmarks share. */
import { readFileSync } from 'node:fs';

/** The median of `values` (the upper middle one of an even count), as every table here reports it. */
export const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** A process's resident memory (VmRSS), MB; undefined where /proc is not there. */
export function residentMb(pid: number | undefined = process.pid): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
