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
 * Expands the matrix, paths innermost: a scenario's cells on each path are neighbours, and
 * `groupCells` runs them as one interleaved load.
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

/**
 * The runs of a bench: each scenario's cells on all paths together (interleaved in time), or,
 * with `--no-interleave`, each cell on its own, one path after the other.
 */
export function groupCells(cells: readonly BenchCell[], interleave: boolean): BenchCell[][] {
  const groups: BenchCell[][] = [];
  for (const cell of cells) {
    const last = groups.at(-1)?.[0];
    const isSameScenario =
      last !== undefined && last.api === cell.api && last.stream === cell.stream && last.maxTokens === cell.maxTokens;
    if (interleave && isSameScenario) groups.at(-1)!.push(cell);
    else groups.push([cell]);
  }
  return groups;
}
