import type { BenchSummary } from '../../bench/summary.ts';
import type { ScenarioSummary } from '../../bench/aggregate.ts';
import type { ComplianceReport } from '../../compliance/types.ts';
import { LogHistogram } from '../../metrics/log-histogram.ts';
import { interTokenGapsMs, type Sample } from '../../metrics/sample.ts';
import { forEachSample, readRunCompliance, readRunSummary } from '../read-run.ts';

/** The raw values of one scenario the report draws (ok requests only). */
export interface ScenarioValues {
  ttftMs: number[];
  e2eMs: number[];
}

/** One request's token arrivals, for the "watch it stream" chart. */
export interface RequestTrace {
  scenario: string;
  path: string;
  why: 'median E2E' | 'slowest first token';
  index: number;
  ttftMs: number;
  e2eMs: number;
  arrivalsMs: number[];
  requestId: string | null;
}

export interface ReportData {
  dir: string;
  summary: BenchSummary;
  compliance: ComplianceReport | undefined;
  values: Map<string, ScenarioValues>;
  /** Pooled inter-token gaps of streamed requests, per path. */
  itlByPath: Map<string, LogHistogram>;
  /** Pooled per-frame delivery latency (stamped runs), per path. */
  deliveryByPath: Map<string, LogHistogram>;
  traces: RequestTrace[];
  unreadableLines: number;
}

const capRank = (c: number | 'max'): number => (c === 'max' ? Infinity : c);

/** Per path, the streamed scenario whose answers are longest (chat first): where streaming shows most. */
export function traceScenarios(scenarios: readonly ScenarioSummary[]): ScenarioSummary[] {
  const byPath = new Map<string, ScenarioSummary>();
  for (const s of scenarios.filter((x) => x.stream && x.e2eMs)) {
    const best = byPath.get(s.path);
    const better =
      !best ||
      (s.api === 'chat') > (best.api === 'chat') ||
      ((s.api === 'chat') === (best.api === 'chat') && capRank(s.maxTokens) > capRank(best.maxTokens));
    if (better) byPath.set(s.path, s);
  }
  return [...byPath.values()];
}

function histogramOf(map: Map<string, LogHistogram>, path: string): LogHistogram {
  let h = map.get(path);
  if (!h) map.set(path, (h = new LogHistogram()));
  return h;
}

/** Reads a run directory in one pass over samples.jsonl; memory stays bounded by the scenario count and the two latency arrays. */
export async function collectReportData(dir: string): Promise<ReportData> {
  const summary = readRunSummary(dir);
  const values = new Map<string, ScenarioValues>(summary.scenarios.map((s) => [s.name, { ttftMs: [], e2eMs: [] }]));
  const itlByPath = new Map<string, LogHistogram>();
  const deliveryByPath = new Map<string, LogHistogram>();
  const medians = new Map(traceScenarios(summary.scenarios).map((s) => [s.name, s.e2eMs!.p50]));
  const median = new Map<string, Sample>();
  const slowest = new Map<string, Sample>();
  const { unreadable } = await forEachSample(dir, (sample) => {
    if (sample.outcome !== 'ok') return;
    const v = values.get(sample.scenario);
    if (v) {
      if (sample.ttftMs !== null) v.ttftMs.push(sample.ttftMs);
      if (sample.e2eMs !== null) v.e2eMs.push(sample.e2eMs);
    }
    const arrivals = sample.arrivalsMs;
    if (sample.stream && arrivals && arrivals.length > 1) {
      const itl = histogramOf(itlByPath, sample.path);
      for (const gap of interTokenGapsMs(arrivals)) itl.add(gap);
    }
    if (sample.deliveryMs) {
      const delivery = histogramOf(deliveryByPath, sample.path);
      for (const d of sample.deliveryMs) delivery.add(d);
    }
    const p50 = medians.get(sample.scenario);
    if (p50 === undefined || !arrivals || sample.e2eMs === null || sample.ttftMs === null) return;
    const m = median.get(sample.scenario);
    if (!m || Math.abs(sample.e2eMs - p50) < Math.abs(m.e2eMs! - p50)) median.set(sample.scenario, sample);
    const s = slowest.get(sample.scenario);
    if (!s || sample.ttftMs > s.ttftMs!) slowest.set(sample.scenario, sample);
  });
  const trace = (sample: Sample, why: RequestTrace['why']): RequestTrace => ({
    scenario: sample.scenario,
    path: sample.path,
    why,
    index: sample.index,
    ttftMs: sample.ttftMs!,
    e2eMs: sample.e2eMs!,
    arrivalsMs: sample.arrivalsMs!,
    requestId: sample.ids.requestId ?? sample.ids.apimRequestId,
  });
  const traces: RequestTrace[] = [];
  for (const name of medians.keys()) {
    const m = median.get(name);
    const s = slowest.get(name);
    if (m) traces.push(trace(m, 'median E2E'));
    if (s && s !== m) traces.push(trace(s, 'slowest first token'));
  }
  return {
    dir,
    summary,
    compliance: readRunCompliance(dir),
    values,
    itlByPath,
    deliveryByPath,
    traces,
    unreadableLines: unreadable,
  };
}
