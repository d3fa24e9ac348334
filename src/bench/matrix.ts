import type { BenchOptions } from '../config/bench-options.ts';
import type { ApiKind } from '../protocol/index.ts';
import type { Target } from '../endpoint/types.ts';

/** One scenario of the run: an API, streaming or not, an output cap, a path. */
export interface BenchCell {
  name: string;
  api: ApiKind;
  stream: boolean;
  maxTokens: number | 'max';
  target: Target;
}

export function cellName(api: ApiKind, stream: boolean, maxTokens: number | 'max', path: string): string {
  return `${api}/${stream ? 'stream' : 'no-stream'}/max-${maxTokens}/${path}`;
}

/**
 * Expands the matrix. Paths are innermost, so a direct scenario and its gateway twin run
 * back to back with the same per-request seeds: their requests pair up index by index.
 */
export function expandMatrix(options: BenchOptions, targets: readonly Target[]): BenchCell[] {
  const cells: BenchCell[] = [];
  for (const api of options.apis) {
    for (const maxTokens of options.maxTokens) {
      for (const stream of options.streams) {
        for (const target of targets) {
          cells.push({ name: cellName(api, stream, maxTokens, target.label), api, stream, maxTokens, target });
        }
      }
    }
  }
  return cells;
}
