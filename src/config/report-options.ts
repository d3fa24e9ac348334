import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidOptionError } from '../errors.ts';
import { listOf, parseCommandLine, positiveNumber } from '../flags.ts';
import { outputDirFlag, outputFileFlag } from '../files.ts';

/** `npm run report -- DIR`: (re)writes DIR/report.html from a bench run's files. */
export interface ReportOptions {
  dir: string;
  /** Where to write the page (default DIR/report.html). */
  out: string | undefined;
  help: boolean;
}

/** Per-request metrics `compare` can test; all are "lower is better" latencies in ms. */
export const COMPARE_METRICS = ['ttft', 'e2e', 'tpot', 'ttfb'] as const;
export type CompareMetric = (typeof COMPARE_METRICS)[number];

/** `npm run compare -- A B`: B (the candidate) against A (the baseline). */
export interface CompareOptions {
  baseline: string;
  candidate: string;
  metrics: CompareMetric[];
  /** A change is significant only when Mann–Whitney's p is below this and the CI excludes 0. */
  alpha: number;
  confidence: number;
  resamples: number;
  /** Exit 1 when a significant regression is larger than this many percent. */
  failOnRegressionPct: number | undefined;
  /** Where compare.md and compare.json go (default: the candidate's directory). */
  out: string | undefined;
  json: boolean;
  seed: number;
  help: boolean;
}

export const COMPARE_DEFAULTS = {
  metrics: ['ttft', 'e2e'] as CompareMetric[],
  alpha: 0.05,
  confidence: 0.95,
  resamples: 1000,
  seed: 1,
};

const REPORT_OPTIONS = { out: { type: 'string' }, help: { type: 'boolean' } } as const;

const COMPARE_OPTIONS = {
  metrics: { type: 'string' },
  alpha: { type: 'string' },
  confidence: { type: 'string' },
  resamples: { type: 'string' },
  'fail-on-regression': { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  seed: { type: 'string' },
  help: { type: 'boolean' },
} as const;

function positionals(found: readonly string[], names: readonly string[], help: boolean, example: string): string[] {
  if (help) return names.map(() => '');
  if (found.length !== names.length) {
    throw new InvalidOptionError(
      names.join(' '),
      `expected ${names.length} run director${names.length === 1 ? 'y' : 'ies'}, got ${found.length}${found.length > 0 ? ` (${found.join(' ')})` : ''}`,
      example,
    );
  }
  return [...found];
}

/** `npm run merge -- DIR`: the OUT/<run-id> folder the shards wrote into. */
export interface MergeOptions {
  dir: string;
  json: boolean;
  help: boolean;
}

export function resolveMergeOptions(argv: readonly string[]): MergeOptions {
  const { values, positionals: found } = parseCommandLine(
    argv,
    { json: { type: 'boolean' }, help: { type: 'boolean' } },
    'npm run merge -- --help',
  );
  const help = values['help'] === true;
  const [dir] = positionals(found, ['DIR'], help, 'the OUT/<run-id> folder the shards wrote into');
  return { dir: dir!, json: values['json'] === true, help };
}

export function resolveReportOptions(argv: readonly string[]): ReportOptions {
  const { values, positionals: found } = parseCommandLine(argv, REPORT_OPTIONS, 'npm run report -- --help');
  const help = values['help'] === true;
  const [dir] = positionals(
    found,
    ['DIR'],
    help,
    'a directory written by npm run bench, e.g. npm run report -- reports/my-run',
  );
  return {
    dir: dir!,
    out: values['out'] !== undefined ? outputFileFlag('--out', values['out'] as string) : undefined,
    help,
  };
}

/** A run compared with itself (the same folder, or a copy of it) can show no change: refused. */
function refuseSameRun(a: string, b: string): void {
  const real = (dir: string): string | undefined => (existsSync(dir) ? realpathSync(dir) : undefined);
  if (real(a) !== undefined && real(a) === real(b))
    throw new InvalidOptionError(
      'B',
      `"${b}" is the same run as A`,
      'two different runs: the baseline, then the candidate',
    );
  const startedAt = (dir: string): string | undefined => {
    try {
      return (JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { run?: { startedAt?: string } }).run
        ?.startedAt;
    } catch {
      return undefined;
    }
  };
  const at = startedAt(a);
  if (at !== undefined && at === startedAt(b))
    throw new InvalidOptionError(
      'B',
      `"${b}" holds the same run as "${a}" (both started at ${at}): a copy`,
      'two different runs: the baseline, then the candidate',
    );
}

export function resolveCompareOptions(argv: readonly string[]): CompareOptions {
  const { values, positionals: found } = parseCommandLine(argv, COMPARE_OPTIONS, 'npm run compare -- --help');
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const help = values['help'] === true;
  const [baseline, candidate] = positionals(
    found,
    ['A', 'B'],
    help,
    'two directories written by npm run bench: the baseline, then the candidate',
  );
  if (!help) refuseSameRun(baseline!, candidate!);
  if (str('out') !== undefined) outputDirFlag('--out', str('out')!);
  const fraction = (flag: string, fallback: number, min: number, max: number): number =>
    positiveNumber(`--${flag}`, str(flag), { integer: false, min, max }) ?? fallback;
  return {
    baseline: baseline!,
    candidate: candidate!,
    metrics:
      str('metrics') !== undefined ? listOf('--metrics', str('metrics')!, COMPARE_METRICS) : COMPARE_DEFAULTS.metrics,
    alpha: fraction('alpha', COMPARE_DEFAULTS.alpha, 0.0001, 0.5),
    confidence: fraction('confidence', COMPARE_DEFAULTS.confidence, 0.5, 0.999),
    resamples:
      positiveNumber('--resamples', str('resamples'), { min: 100, max: 100_000 }) ?? COMPARE_DEFAULTS.resamples,
    failOnRegressionPct: positiveNumber('--fail-on-regression', str('fail-on-regression'), {
      integer: false,
      min: 0,
      max: 10_000,
    }),
    out: str('out'),
    json: values['json'] === true,
    seed: positiveNumber('--seed', str('seed'), { min: 0, max: 2 ** 32 - 1 }) ?? COMPARE_DEFAULTS.seed,
    help,
  };
}
