import { mkdirSync } from 'node:fs';
import { writeFileAtomic } from '../files.ts';
import { join } from 'node:path';
import { CALIBRATE_DEFAULTS, resolveCalibrateOptions } from '../config/calibrate-options.ts';
import { shownDefault } from '../config/help-defaults.ts';
import { runCalibration, type CalibrationResult } from '../lab/calibrate.ts';
import { withInterrupt } from './interrupt.ts';
import { defaultOutDir, stepPrinter } from './run-paths.ts';

export const CALIBRATE_USAGE = `Usage: npm run calibrate -- [options]

How finely this machine resolves a gateway's overhead, before you trust one. Starts a mock and
a proxy that forwards every chunk a known delay late, then runs the bench's paired,
interleaved comparison many times: an A/A (two paths to the same mock: the truth is 0) and
the known delay (the truth: at least the delay, plus the proxy's own cost). Prints how often the 95% interval held the truth, and the smallest overhead
a run of --requests pairs resolves here.
  --seeds N          runs per arm, each with its own seed ${shownDefault(CALIBRATE_DEFAULTS.seeds)}
  --requests N       pairs (requests per path) per run, at least 6 ${shownDefault(CALIBRATE_DEFAULTS.requests)}
  --concurrency N    requests in flight ${shownDefault(CALIBRATE_DEFAULTS.concurrency)}; with --chain, one per path
                     ${shownDefault(CALIBRATE_DEFAULTS.chainConcurrency)}
  --delay-ms MS      the known delay ${shownDefault(CALIBRATE_DEFAULTS.delayMs)}
  --chain            three paths, direct → gateway → edge: the A/A is three paths to the same
                     mock (every hop's truth is 0); the known delay sits at the edge (the
                     gateway hop's truth stays 0); every hop and the end-to-end figure scored
  --out DIR          calibration.json and calibration.md (default: reports/calibrate-<timestamp>)
  --json             print calibration.json on stdout instead of the table

Exit code: 0 calibrated (the A/A interval held 0 in at least 90% of runs, and the median
estimate of the known delay is at least the delay), 1 not calibrated on this machine, 2 bad
usage, 130 interrupted.`;

/** Whether the estimator held up here: A/A coverage ≥ 90%, and the delay's median estimate not below the delay. */
export function isCalibrated(result: CalibrationResult): boolean {
  const aa = result.arms.filter((a) => a.name === 'A/A');
  const delay = result.arms.filter((a) => a.name === 'known delay');
  if (aa.length === 0 || delay.length === 0 || aa.some((a) => a.runs.length === 0)) return false;
  return (
    aa.every((a) => a.covered / a.runs.length >= 0.9) &&
    delay.every((d) => d.medianEstimateMs >= result.options.delayMs)
  );
}

export function calibrationToMarkdown(result: CalibrationResult, interrupted = false): string {
  const { options } = result;
  const ms = (value: number, prefix = ''): string => (Number.isFinite(value) ? `${prefix}${value} ms` : '–');
  const rows = result.arms.map((arm) => {
    const n = arm.runs.length;
    const pct = (k: number): string => `${k}/${n} (${Math.round((100 * k) / Math.max(1, n))}%)`;
    const truth =
      arm.truth.kind === 'exactly' ? `${arm.truth.ms} ms` : `≥ ${arm.truth.ms} ms (the delay + the proxy's own cost)`;
    const held =
      arm.truth.kind === 'exactly'
        ? `holds 0: ${pct(arm.covered)}`
        : `reaches ${arm.truth.ms} ms: ${pct(arm.covered)}; estimate ≥ ${arm.truth.ms} ms: ${pct(arm.estimatesAtLeastTruth)}`;
    return `| ${arm.name}${result.options.chain ? ` | ${arm.hop}` : ''} | ${truth} | ${n} | ${held} | ${ms(arm.medianEstimateMs)} | ${ms(arm.meanHalfWidthMs, '±')} |`;
  });
  return [
    `# Calibration`,
    '',
    `${options.seeds} runs per arm; each run: chat, streamed, 16 tokens, ${options.requests} pairs, ${options.concurrency} in flight, ${options.chain ? 'a chain of three paths (direct → gateway → edge), each hop against the path inside it, ' : ''}paths interleaved (Thue–Morse order), overhead = Hodges–Lehmann shift with a Wilcoxon signed-rank 95% interval.`,
    '',
    `| arm${options.chain ? ' | hop' : ''} | true overhead | runs | 95% interval consistent with the truth | median estimate | mean half-width |`,
    `|---|---|---|---|---|---|${options.chain ? '---|' : ''}`,
    ...rows,
    '',
    `\`npm run compare\` between consecutive A/A runs (unchanged code, same mock): the --fail-on-regression ${result.compareOnUnchanged.gatePct} gate tripped in ${result.compareOnUnchanged.gateTripped} of ${result.compareOnUnchanged.comparisons}; some cell was called significant in ${result.compareOnUnchanged.anySignificant} of ${result.compareOnUnchanged.comparisons}.`,
    '',
    Number.isFinite(result.resolvableMs)
      ? `Smallest overhead a run of ${options.requests} pairs resolves here (80% power, 95% confidence): **${result.resolvableMs} ms**; about ${result.pairsForOneMs.toLocaleString('en-US')} pairs would narrow the interval to ±1 ms.`
      : `Smallest overhead a run of ${options.requests} pairs resolves here: not known (no A/A run finished).`,
    '',
    interrupted
      ? `INTERRUPTED after ${Math.min(...result.arms.map((a) => a.runs.length))} of ${options.seeds} runs per arm: no verdict either way (the table holds what was measured). Run it again to the end.`
      : isCalibrated(result)
        ? `Calibrated: the A/A interval${options.chain ? ' of every hop' : ''} held 0 in at least 90% of runs, and the known delay was not under-estimated.`
        : `NOT calibrated on this machine: the A/A interval${options.chain ? ' of some hop' : ''} held 0 in fewer than 90% of runs, or the known delay was estimated below itself. Do not trust small overheads here.`,
    '',
  ].join('\n');
}

/** `streamlab calibrate`. */
export async function calibrateCommand(argv: readonly string[]): Promise<number> {
  const options = resolveCalibrateOptions(argv);
  if (options.help) {
    process.stdout.write(`${CALIBRATE_USAGE}\n`);
    return 0;
  }
  const outDir = options.out ?? defaultOutDir('calibrate');
  const step = stepPrinter('calibrate');
  return withInterrupt('stopping and writing what was measured', async (signal) => {
    const result = await runCalibration(options, signal, step);
    mkdirSync(outDir, { recursive: true });
    const interrupted = signal.aborted;
    const markdown = calibrationToMarkdown(result, interrupted);
    // An interrupted calibration has no verdict (null), whatever its partial runs show.
    const json = `${JSON.stringify({ ...result, interrupted, calibrated: interrupted ? null : isCalibrated(result) }, null, 2)}\n`;
    writeFileAtomic(join(outDir, 'calibration.json'), json);
    writeFileAtomic(join(outDir, 'calibration.md'), markdown);
    process.stdout.write(options.json ? json : markdown);
    process.stderr.write(`results: ${outDir}/ (calibration.json, calibration.md)\n`);
    if (signal.aborted) return 130;
    return isCalibrated(result) ? 0 : 1;
  });
}
