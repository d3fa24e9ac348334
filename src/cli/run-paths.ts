import { join } from 'node:path';
import { BENCH_DEFAULTS } from '../config/bench-options.ts';

/** `reports/<prefix>-<timestamp>` (or `reports/<timestamp>`): where a run writes when no --out is given. */
export function defaultOutDir(prefix?: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  return join(BENCH_DEFAULTS.reportsDir, prefix ? `${prefix}-${stamp}` : stamp);
}

/** A lab run's own state file, so a lab the user deployed with lab:deploy is neither reused nor touched. */
export function ownStateFile(): string {
  return join('.lab', `run-${process.pid}`, 'state.json');
}

/** Progress lines on stderr, `[label 12.3 s] text`, timed from now. */
export function stepPrinter(label: string): (text: string) => void {
  const started = performance.now();
  return (text) =>
    void process.stderr.write(`[${label} ${((performance.now() - started) / 1000).toFixed(1)} s] ${text}\n`);
}
