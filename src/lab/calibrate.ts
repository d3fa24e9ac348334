import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench } from '../bench/run-bench.ts';
import type { PathComparison } from '../bench/summary.ts';
import { resolveBenchOptions, type BenchOptions } from '../config/bench-options.ts';
import type { CalibrateOptions } from '../config/calibrate-options.ts';
import { TARGET_DEFAULTS } from '../config/target-flags.ts';
import type { PairedShift } from '../metrics/paired-shift.ts';
import { round3 } from '../metrics/stats.ts';
import { COMPARE_DEFAULTS } from '../config/report-options.ts';
import { compareRuns, regressionsOver } from '../report/compare-runs.ts';
import { writeSummaryFiles } from '../report/write-summary.ts';
import { LAB_SCRIPTS, stopLabProcesses } from './local-lab.ts';
import { spawnServer, type StartedServer } from './spawn-server.ts';
import type { LabState } from './state.ts';
import { benchTargets } from './targets.ts';

/** One arm of the calibration: many runs of the same paired bench, each with its own seed. */
export interface CalibrationArm {
  name: 'A/A' | 'known delay';
  /** Which comparison: `gateway over direct` (two paths), or with --chain each hop and `end to end: edge over direct`. */
  hop: string;
  /**
   * What the arm's overhead is known to be: exactly 0 for A/A; for the delay, at least the
   * delay (plus the proxy's own relay cost and timer granularity, which nothing here measures
   * independently: below the delay is physically impossible, above it is the proxy's cost).
   */
  truth: { kind: 'exactly' | 'at-least'; ms: number };
  runs: Array<{ seed: number; shift: PairedShift | null }>;
  /** Runs whose 95% interval is consistent with the truth: holds 0 (A/A); reaches the delay or above (known delay). */
  covered: number;
  /** Runs whose estimate is at least the delay (known delay arm). */
  estimatesAtLeastTruth: number;
  medianEstimateMs: number;
  meanHalfWidthMs: number;
}

export interface CalibrationResult {
  options: CalibrateOptions;
  arms: CalibrationArm[];
  /**
   * `npm run compare --fail-on-regression 10` between consecutive A/A runs (unchanged code, same
   * mock): how often the gate tripped, and how often any cell was called significant.
   */
  compareOnUnchanged: { comparisons: number; gateTripped: number; anySignificant: number; gatePct: number };
  /**
   * The smallest overhead a run of `requests` pairs resolves on this machine, with 80% power at
   * 95% confidence: (1.96 + 0.84) / 1.96 × the A/A interval's mean half-width.
   */
  resolvableMs: number;
  /** Pairs per run needed to resolve 1 ms, at the A/A spread. */
  pairsForOneMs: number;
}

/** The mock's model for calibration: real first-token timing, short answers. */
const MOCK_ARGS = ['--itl-ms', '4', '--output-tokens', '32'];

/**
 * `npm run calibrate`: an A/A (two lab paths to the same mock: the truth is 0) and a known
 * delay (a proxy that forwards every chunk `delayMs` late: the truth is at least that), each
 * run `seeds` times with the bench's own interleaving and estimator. It says how often the
 * interval was consistent with the truth and the smallest overhead a run of this size can
 * resolve here.
 */
export async function runCalibration(
  options: CalibrateOptions,
  signal: AbortSignal,
  step: (text: string) => void,
): Promise<CalibrationResult> {
  const dir = mkdtempSync(join(tmpdir(), 'calibrate-'));
  const key = randomBytes(24).toString('base64url');
  const env = { ...process.env, CALIBRATE_KEY: key };
  const started: StartedServer[] = [];
  try {
    step('start: a mock, and a proxy in front of it that adds a known delay');
    const mock = await spawnServer(
      {
        role: 'mock',
        script: LAB_SCRIPTS.mock,
        nodeArgs: ['--max-semi-space-size=64'],
        args: ['--port', '0', ...MOCK_ARGS],
        env: { ...process.env, MOCK_API_KEY: key },
        logFile: join(dir, 'mock.log'),
      },
      signal,
    );
    started.push(mock);
    const proxy = await spawnServer(
      {
        role: 'delay-proxy',
        script: LAB_SCRIPTS.delayProxy,
        args: ['--upstream', mock.listening.url, '--delay-ms', String(options.delayMs)],
        env: process.env,
        logFile: join(dir, 'proxy.log'),
      },
      signal,
    );
    started.push(proxy);
    // One arm per comparison of a chain: each seed runs the whole chain once, and each hop (and
    // the end-to-end figure) is scored against its own truth.
    const arm = async (
      label: string,
      urls: readonly string[],
      truths: Record<string, { name: CalibrationArm['name']; truth: CalibrationArm['truth'] }>,
    ): Promise<CalibrationArm[]> => {
      const state = labState(urls);
      const runs: Record<string, CalibrationArm['runs']> = Object.fromEntries(
        Object.keys(truths).map((hop) => [hop, []]),
      );
      for (let seed = 1; seed <= options.seeds && !signal.aborted; seed++) {
        const shifts = await pairedRun(options, state, seed, env, runDir(label, seed), signal);
        for (const hop of Object.keys(truths)) runs[hop]!.push({ seed, shift: shifts.get(hop) ?? null });
        step(
          `${label} run ${seed}/${options.seeds}: ${Object.keys(truths)
            .map((hop) => {
              const shift = shifts.get(hop);
              return `${Object.keys(truths).length > 1 ? `${hop} ` : ''}${shift ? `${shift.estimate} ms (95% CI ${shift.low} to ${shift.high})` : 'no interval'}`;
            })
            .join('; ')}`,
        );
      }
      return Object.entries(truths).map(([hop, { name, truth }]) => summarise(name, hop, truth, runs[hop]!));
    };
    const runDir = (name: string, seed: number): string => join(dir, `${name.replace(/\W+/g, '-')}-${seed}`);
    const zero = { name: 'A/A' as const, truth: { kind: 'exactly' as const, ms: 0 } };
    const delayed = { name: 'known delay' as const, truth: { kind: 'at-least' as const, ms: options.delayMs } };
    const [mockUrl, proxyUrl] = [mock.listening.url, proxy.listening.url];
    const aaArms = options.chain
      ? await arm('A/A', [mockUrl, mockUrl, mockUrl], {
          'gateway over direct': zero,
          'edge over gateway': zero,
          'end to end: edge over direct': zero,
        })
      : await arm('A/A', [mockUrl, mockUrl], { 'gateway over direct': zero });
    const aa = aaArms[0]!;
    const compareOnUnchanged = await compareConsecutive(aa.runs.map((r) => runDir('A/A', r.seed)));
    const delayArms = options.chain
      ? await arm('known delay', [mockUrl, mockUrl, proxyUrl], {
          'gateway over direct': zero,
          'edge over gateway': delayed,
          'end to end: edge over direct': delayed,
        })
      : await arm('known delay', [mockUrl, proxyUrl], { 'gateway over direct': delayed });
    const arms = [...aaArms, ...delayArms];
    const resolvableMs = round3(((1.96 + 0.84) / 1.96) * aa.meanHalfWidthMs);
    return {
      options,
      arms,
      compareOnUnchanged,
      resolvableMs,
      pairsForOneMs: Math.ceil(options.requests * aa.meanHalfWidthMs ** 2),
    };
  } finally {
    await stopLabProcesses({ processes: started.map((s) => s.process) } as LabState);
    rmSync(dir, { recursive: true, force: true });
  }
}

const GATE_PCT = 10;

/** Each A/A run against the next: the same code and mock, so every flagged change is a false alarm. */
async function compareConsecutive(dirs: readonly string[]): Promise<CalibrationResult['compareOnUnchanged']> {
  let gateTripped = 0;
  let anySignificant = 0;
  for (let i = 0; i + 1 < dirs.length; i++) {
    const comparison = await compareRuns(dirs[i]!, dirs[i + 1]!, COMPARE_DEFAULTS);
    if (regressionsOver(comparison, GATE_PCT).length > 0) gateTripped++;
    if (comparison.scenarios.some((s) => s.metrics.some((m) => m.quantiles.some((q) => q.significant))))
      anySignificant++;
  }
  return { comparisons: Math.max(0, dirs.length - 1), gateTripped, anySignificant, gatePct: GATE_PCT };
}

/** A lab state of two paths (direct, gateway) or a chain of three (direct, gateway, edge). */
function labState(urls: readonly string[]): LabState {
  const auth = { kind: 'api-key' as const, envName: 'CALIBRATE_KEY' };
  const names = ['direct', 'gateway', 'edge'];
  return {
    schemaVersion: 1,
    target: 'local',
    deployment: TARGET_DEFAULTS.deployment,
    apiVersion: TARGET_DEFAULTS.apiVersion,
    paths: Object.fromEntries(urls.map((baseUrl, i) => [names[i]!, { baseUrl, apiStyle: 'azure' as const, auth }])),
  };
}

/** One run of the chain: its time-to-first-token shift per comparison (`gateway over direct`, …, `end to end: edge over direct`). */
async function pairedRun(
  options: CalibrateOptions,
  state: LabState,
  seed: number,
  env: NodeJS.ProcessEnv,
  outDir: string,
  signal: AbortSignal,
): Promise<Map<string, PairedShift>> {
  const bench: BenchOptions = {
    ...resolveBenchOptions([], env),
    apis: ['chat'],
    streams: [true],
    maxTokens: [16],
    requests: options.requests,
    load: options.concurrency > 1 ? { kind: 'closed', concurrency: options.concurrency } : { kind: 'sequential' },
    warmup: 2,
    seed,
  };
  const { summary } = await runBench({
    options: bench,
    targets: benchTargets(bench, state),
    outDir,
    env,
    signal,
    toolVersion: 'calibrate',
  });
  writeSummaryFiles(outDir, summary);
  const ttft = summary.comparisons.filter(
    (c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs',
  );
  return new Map(
    ttft.map((c) => [
      `${c.hop === 'end-to-end' ? 'end to end: ' : ''}${c.path} over ${c.baseline}`,
      c.medianDifferenceMs,
    ]),
  );
}

function summarise(
  name: CalibrationArm['name'],
  hop: string,
  truth: CalibrationArm['truth'],
  runs: CalibrationArm['runs'],
): CalibrationArm {
  const shifts = runs.map((r) => r.shift).filter((s): s is PairedShift => s !== null);
  const estimates = shifts.map((s) => s.estimate).sort((a, b) => a - b);
  const isConsistent = (s: PairedShift): boolean =>
    truth.kind === 'exactly' ? s.low <= truth.ms && truth.ms <= s.high : s.high >= truth.ms;
  return {
    name,
    hop,
    truth,
    runs,
    covered: shifts.filter(isConsistent).length,
    estimatesAtLeastTruth: shifts.filter((s) => s.estimate >= truth.ms).length,
    medianEstimateMs: estimates.length > 0 ? round3(estimates[Math.floor((estimates.length - 1) / 2)]!) : NaN,
    meanHalfWidthMs:
      shifts.length > 0 ? round3(shifts.reduce((sum, s) => sum + (s.high - s.low) / 2, 0) / shifts.length) : NaN,
  };
}
