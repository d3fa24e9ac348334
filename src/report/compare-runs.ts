import type { CompareMetric } from '../config/report-options.ts';
import { mannWhitneyU } from '../metrics/mann-whitney.ts';
import { quantileDifferences } from '../metrics/quantile-difference.ts';
import type { Interval } from '../metrics/stats.ts';
import type { Sample } from '../metrics/sample.ts';
import { forEachSample, readRunSummary } from './read-run.ts';

export const COMPARE_SCHEMA_VERSION = 1;
export const COMPARED_QUANTILES = [0.5, 0.95, 0.99] as const;

const SAMPLE_FIELD: Record<CompareMetric, 'ttftMs' | 'e2eMs' | 'tpotMs' | 'ttfbMs'> = { ttft: 'ttftMs', e2e: 'e2eMs', tpot: 'tpotMs', ttfb: 'ttfbMs' };

export interface QuantileChange {
  /** 0.5, 0.95, 0.99. */
  q: number;
  baselineMs: number;
  candidateMs: number;
  /** candidate − baseline, with its bootstrap interval. */
  differenceMs: Interval;
  /** differenceMs.estimate as a percentage of the baseline. */
  changePct: number;
  /** Mann–Whitney rejects "no shift" at alpha and the interval excludes zero. */
  significant: boolean;
}

export interface MetricComparison {
  metric: CompareMetric;
  baselineN: number;
  candidateN: number;
  quantiles: QuantileChange[];
  mannWhitney: { u: number; z: number; pValue: number; probabilityCandidateGreater: number } | null;
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

type Collected = Map<string, { requests: number; ok: number; values: Record<CompareMetric, number[]> }>;

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

/** One metric of one scenario: three quantile differences and one rank test. */
export function compareMetric(metric: CompareMetric, a: readonly number[], b: readonly number[], settings: Omit<CompareSettings, 'metrics'>): MetricComparison {
  const test = mannWhitneyU(a, b);
  const differences = test ? quantileDifferences(a, b, COMPARED_QUANTILES, { resamples: settings.resamples, confidence: settings.confidence, seed: settings.seed }) : null;
  const rejects = test !== null && test.pValue < settings.alpha;
  const quantiles = (differences ?? []).map((d): QuantileChange => {
    const excludesZero = d.difference.low > 0 || d.difference.high < 0;
    return { q: d.q, baselineMs: d.a, candidateMs: d.b, differenceMs: d.difference, changePct: d.a !== 0 ? Math.round((d.difference.estimate / d.a) * 1000) / 10 : 0, significant: rejects && excludesZero };
  });
  const verdict: MetricComparison['verdict'] = !test ? 'too few samples' : !rejects ? 'no significant change' : test.probabilityBGreater > 0.5 ? 'slower' : 'faster';
  return {
    metric,
    baselineN: a.length,
    candidateN: b.length,
    quantiles,
    mannWhitney: test ? { u: test.u, z: Math.round(test.z * 1000) / 1000, pValue: test.pValue, probabilityCandidateGreater: Math.round(test.probabilityBGreater * 1000) / 1000 } : null,
    verdict,
  };
}

/** Compares run `candidateDir` against run `baselineDir`, scenario by scenario (matched by name). */
export async function compareRuns(baselineDir: string, candidateDir: string, settings: CompareSettings): Promise<RunComparison> {
  const summaries = [readRunSummary(baselineDir), readRunSummary(candidateDir)] as const;
  const [a, b] = await Promise.all([collect(baselineDir, settings.metrics), collect(candidateDir, settings.metrics)]);
  const scenarios: ScenarioComparison[] = [];
  for (const [name, base] of a) {
    const candidate = b.get(name);
    if (!candidate) continue;
    scenarios.push({
      scenario: name,
      baseline: { requests: base.requests, ok: base.ok },
      candidate: { requests: candidate.requests, ok: candidate.ok },
      metrics: settings.metrics.map((metric) => compareMetric(metric, base.values[metric], candidate.values[metric], settings)),
    });
  }
  const regressions = scenarios
    .flatMap((s) => s.metrics.flatMap((m) => m.quantiles.filter((q) => q.significant && q.changePct > 0).map((q) => ({ scenario: s.scenario, metric: m.metric, q: q.q, changePct: q.changePct }))))
    .sort((x, y) => y.changePct - x.changePct);
  return {
    schemaVersion: COMPARE_SCHEMA_VERSION,
    baseline: { dir: baselineDir, startedAt: summaries[0].run.startedAt },
    candidate: { dir: candidateDir, startedAt: summaries[1].run.startedAt },
    alpha: settings.alpha,
    confidence: settings.confidence,
    resamples: settings.resamples,
    scenarios,
    onlyInBaseline: [...a.keys()].filter((name) => !b.has(name)),
    onlyInCandidate: [...b.keys()].filter((name) => !a.has(name)),
    regressions,
  };
}

/** The regressions a `--fail-on-regression PCT` gate fails on. */
export function regressionsOver(comparison: RunComparison, pct: number): Regression[] {
  return comparison.regressions.filter((r) => r.changePct > pct);
}
