import padjust from '@stdlib/stats-padjust';
import type { CompareMetric } from '../config/report-options.ts';
import { mannWhitneyU, type MannWhitneyResult } from '../metrics/mann-whitney.ts';
import { quantileDifferences } from '../metrics/quantile-difference.ts';
import type { Interval } from '../metrics/stats.ts';
import type { Sample } from '../metrics/sample.ts';
import { forEachSample, readRunSummary } from './read-run.ts';

export const COMPARE_SCHEMA_VERSION = 1;
export const COMPARED_QUANTILES = [0.5, 0.95, 0.99] as const;

const SAMPLE_FIELD: Record<CompareMetric, 'ttftMs' | 'e2eMs' | 'tpotMs' | 'ttfbMs'> = {
  ttft: 'ttftMs',
  e2e: 'e2eMs',
  tpot: 'tpotMs',
  ttfb: 'ttfbMs',
};

export interface QuantileChange {
  /** 0.5, 0.95, 0.99. */
  q: number;
  baselineMs: number;
  candidateMs: number;
  /** candidate − baseline, with its bootstrap interval. */
  differenceMs: Interval;
  /** differenceMs.estimate as a percentage of the baseline. */
  changePct: number;
  /** Mann–Whitney rejects "no shift" at alpha after the Holm adjustment across the whole comparison, and the interval excludes zero. */
  significant: boolean;
}

export interface MetricComparison {
  metric: CompareMetric;
  baselineN: number;
  candidateN: number;
  quantiles: QuantileChange[];
  /** `pValue` is the test's own; `pAdjusted` is Holm-adjusted over every scenario × metric of the comparison (what significance uses). */
  mannWhitney: { u: number; z: number; pValue: number; pAdjusted: number; probabilityCandidateGreater: number } | null;
  /** 'too few samples' below 5 values on either side. */
  verdict: 'slower' | 'faster' | 'no significant change' | 'too few samples';
}

export interface ScenarioComparison {
  scenario: string;
  baseline: { requests: number; ok: number };
  candidate: { requests: number; ok: number };
  metrics: MetricComparison[];
}

export interface Regression {
  scenario: string;
  metric: CompareMetric;
  q: number;
  changePct: number;
}

/** compare.json. */
export interface RunComparison {
  schemaVersion: typeof COMPARE_SCHEMA_VERSION;
  baseline: { dir: string; startedAt: string };
  candidate: { dir: string; startedAt: string };
  alpha: number;
  /** How the false-positive rate is controlled across the comparison's many cells. */
  multipleTesting: { method: 'holm'; tests: number; familyWiseErrorRate: number };
  confidence: number;
  resamples: number;
  scenarios: ScenarioComparison[];
  onlyInBaseline: string[];
  onlyInCandidate: string[];
  /** Significant slow-downs, largest first; the gate reads these. */
  regressions: Regression[];
}

export interface CompareSettings {
  metrics: readonly CompareMetric[];
  alpha: number;
  confidence: number;
  resamples: number;
  seed: number;
}

export type Collected = Map<string, { requests: number; ok: number; values: Record<CompareMetric, number[]> }>;

async function collect(dir: string, metrics: readonly CompareMetric[]): Promise<Collected> {
  const byScenario: Collected = new Map();
  await forEachSample(dir, (sample: Sample) => {
    let entry = byScenario.get(sample.scenario);
    if (!entry) {
      entry = { requests: 0, ok: 0, values: { ttft: [], e2e: [], tpot: [], ttfb: [] } };
      byScenario.set(sample.scenario, entry);
    }
    entry.requests++;
    if (sample.outcome !== 'ok') return;
    entry.ok++;
    for (const metric of metrics) {
      const value = sample[SAMPLE_FIELD[metric]];
      if (value !== null) entry.values[metric].push(value);
    }
  });
  return byScenario;
}

/**
 * One metric of one scenario: three quantile differences and one rank test. `pAdjusted` is the
 * test's p-value after the Holm adjustment over the whole comparison (`compareCollected`, which
 * also passes the test it already ran); alone, it is the raw p-value.
 */
export function compareMetric(
  metric: CompareMetric,
  a: readonly number[],
  b: readonly number[],
  settings: Omit<CompareSettings, 'metrics'>,
  pAdjusted?: number,
  test: MannWhitneyResult | null = mannWhitneyU(a, b),
): MetricComparison {
  const differences = test
    ? quantileDifferences(a, b, COMPARED_QUANTILES, {
        resamples: settings.resamples,
        confidence: settings.confidence,
        seed: settings.seed,
      })
    : null;
  const p = test ? (pAdjusted ?? test.pValue) : 1;
  const rejects = test !== null && p < settings.alpha;
  const quantiles = (differences ?? []).map((d): QuantileChange => {
    const excludesZero = d.difference.low > 0 || d.difference.high < 0;
    return {
      q: d.q,
      baselineMs: d.a,
      candidateMs: d.b,
      differenceMs: d.difference,
      changePct: d.a !== 0 ? Math.round((d.difference.estimate / d.a) * 1000) / 10 : 0,
      significant: rejects && excludesZero,
    };
  });
  const verdict: MetricComparison['verdict'] = !test
    ? 'too few samples'
    : !rejects
      ? 'no significant change'
      : test.probabilityBGreater > 0.5
        ? 'slower'
        : 'faster';
  return {
    metric,
    baselineN: a.length,
    candidateN: b.length,
    quantiles,
    mannWhitney: test
      ? {
          u: test.u,
          z: Math.round(test.z * 1000) / 1000,
          pValue: test.pValue,
          pAdjusted: p,
          probabilityCandidateGreater: Math.round(test.probabilityBGreater * 1000) / 1000,
        }
      : null,
    verdict,
  };
}

/** Compares run `candidateDir` against run `baselineDir`, scenario by scenario (matched by name). */
export async function compareRuns(
  baselineDir: string,
  candidateDir: string,
  settings: CompareSettings,
): Promise<RunComparison> {
  const summaries = [readRunSummary(baselineDir), readRunSummary(candidateDir)] as const;
  const [a, b] = await Promise.all([collect(baselineDir, settings.metrics), collect(candidateDir, settings.metrics)]);
  const { scenarios, tests } = compareCollected(a, b, settings);
  const regressions = scenarios
    .flatMap((s) =>
      s.metrics.flatMap((m) =>
        m.quantiles
          .filter((q) => q.significant && q.changePct > 0)
          .map((q) => ({ scenario: s.scenario, metric: m.metric, q: q.q, changePct: q.changePct })),
      ),
    )
    .sort((x, y) => y.changePct - x.changePct);
  return {
    schemaVersion: COMPARE_SCHEMA_VERSION,
    baseline: { dir: baselineDir, startedAt: summaries[0].run.startedAt },
    candidate: { dir: candidateDir, startedAt: summaries[1].run.startedAt },
    alpha: settings.alpha,
    multipleTesting: { method: 'holm', tests, familyWiseErrorRate: settings.alpha },
    confidence: settings.confidence,
    resamples: settings.resamples,
    scenarios,
    onlyInBaseline: [...a.keys()].filter((name) => !b.has(name)),
    onlyInCandidate: [...b.keys()].filter((name) => !a.has(name)),
    regressions,
  };
}

/**
 * Every scenario × metric of two runs. With many cells, some would pass p < alpha by chance
 * (32 cells at 5%: four in five A/A comparisons would flag something), so the p-values are
 * Holm-adjusted together first: the chance that any cell of an unchanged run is flagged stays
 * at most alpha.
 */
export function compareCollected(
  a: Collected,
  b: Collected,
  settings: CompareSettings,
): { scenarios: ScenarioComparison[]; tests: number } {
  const pairs = [...a].filter(([name]) => b.has(name)).map(([name, base]) => ({ name, base, candidate: b.get(name)! }));
  // Each cell's rank test runs once: its p-value joins the family, then the cell is judged with it.
  const tests = pairs.flatMap(({ base, candidate }) =>
    settings.metrics.map((metric) => mannWhitneyU(base.values[metric], candidate.values[metric])),
  );
  const tested = tests.filter((t): t is MannWhitneyResult => t !== null).map((t) => t.pValue);
  const adjusted = tested.length > 0 ? padjust(tested, 'holm') : [];
  let next = 0;
  const pAdjusted = tests.map((t) => (t === null ? undefined : adjusted[next++]));
  let cell = 0;
  const scenarios = pairs.map(({ name, base, candidate }) => ({
    scenario: name,
    baseline: { requests: base.requests, ok: base.ok },
    candidate: { requests: candidate.requests, ok: candidate.ok },
    metrics: settings.metrics.map((metric) => {
      const at = cell++;
      return compareMetric(metric, base.values[metric], candidate.values[metric], settings, pAdjusted[at], tests[at]);
    }),
  }));
  return { scenarios, tests: tested.length };
}

/** The regressions a `--fail-on-regression PCT` gate fails on. */
export function regressionsOver(comparison: RunComparison, pct: number): Regression[] {
  return comparison.regressions.filter((r) => r.changePct > pct);
}

/**
 * A CI gate must be able to fail, and must fail when it checked nothing: the reasons
 * `--fail-on-regression PCT` fails (empty when it passes). Besides a regression over PCT: no
 * scenario compared; a baseline scenario the candidate lacks (a run that dropped a scenario
 * would otherwise pass); a compared scenario in which no metric had enough samples to test
 * (a truncated or failing run).
 */
export function gateFailures(comparison: RunComparison, pct: number): string[] {
  const reasons = regressionsOver(comparison, pct).map(
    (r) =>
      `${r.scenario}: ${r.metric} p${Math.round(r.q * 100)} ${r.changePct > 0 ? '+' : ''}${r.changePct}% (over ${pct}%)`,
  );
  if (comparison.scenarios.length === 0)
    reasons.push(
      `nothing was compared: no scenario is in both runs (baseline: ${comparison.onlyInBaseline.join(', ') || 'none'}; candidate: ${comparison.onlyInCandidate.join(', ') || 'none'})`,
    );
  else if (comparison.onlyInBaseline.length > 0)
    reasons.push(
      `the candidate lacks ${comparison.onlyInBaseline.length} of the baseline's scenarios: ${comparison.onlyInBaseline.join(', ')}`,
    );
  for (const s of comparison.scenarios) {
    if (s.metrics.every((m) => m.mannWhitney === null))
      reasons.push(
        `${s.scenario}: too few samples to test any metric (baseline ${s.baseline.ok} ok of ${s.baseline.requests}, candidate ${s.candidate.ok} ok of ${s.candidate.requests})`,
      );
  }
  return reasons;
}
