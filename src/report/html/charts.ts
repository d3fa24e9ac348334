import type { ScenarioSummary } from '../../bench/aggregate.ts';
import { cdfPoints } from '../../metrics/log-histogram.ts';
import type { ReportData } from './report-data.ts';
import { renderLegend, renderStackedBars, renderXY, type Series } from './svg.ts';

/** One chart of the report: its SVG, an HTML legend and a caption saying how to read it. */
export interface Figure {
  id: string;
  title: string;
  svg: string;
  legend: string;
  caption: string;
}

const percent = (v: number): string => `${Math.round(v)}%`;
const cap = (c: number | 'max'): string => (c === 'max' ? 'max' : String(c));
const groupKey = (s: ScenarioSummary): string =>
  `${s.api} · ${s.stream ? 'streamed' : 'not streamed'} · max ${cap(s.maxTokens)} tokens`;

function figure(id: string, title: string, svg: string, series: readonly Series[] | null, caption: string): Figure {
  return { id, title, svg, legend: series ? renderLegend(series) : '', caption };
}

/** Paths in run order; the baseline (direct) first. */
export function pathsOf(data: ReportData): string[] {
  const paths = [...new Set(data.summary.scenarios.map((s) => s.path))];
  return paths.includes('direct') ? ['direct', ...paths.filter((p) => p !== 'direct')] : paths;
}

/** Time to first token against full completion, by answer length, per API (medians). */
export function ttftVsCompletion(data: ReportData): Figure[] {
  const paths = pathsOf(data);
  const apis = [...new Set(data.summary.scenarios.map((s) => s.api))];
  return apis.flatMap((api) => {
    const series: Series[] = [];
    paths.forEach((path, p) => {
      const of = (stream: boolean): ScenarioSummary[] =>
        data.summary.scenarios
          .filter((s) => s.api === api && s.path === path && s.stream === stream && s.e2eMs)
          .sort((a, b) => xOf(a) - xOf(b));
      const add = (name: string, color: number, list: ScenarioSummary[], pick: (s: ScenarioSummary) => number) => {
        if (list.length === 0) return;
        series.push({
          name: `${name} (${path})`,
          color,
          dashed: p > 0,
          style: 'line-points',
          points: list.map((s) => [xOf(s), pick(s)] as const),
          labels: list.map(
            (s) =>
              `${s.name}: ${Math.round(pick(s)).toLocaleString('en-US')} ms at ${Math.round(xOf(s))} output tokens`,
          ),
        });
      };
      add('streamed: first token', 0, of(true), (s) => s.ttftMs!.p50);
      add('streamed: full completion', 1, of(true), (s) => s.e2eMs!.p50);
      add('not streamed: full completion', 5, of(false), (s) => s.e2eMs!.p50);
    });
    if (series.length === 0) return [];
    const svg = renderXY({
      id: `ttft-vs-completion-${api}`,
      title: `${api}: time to first token against full completion`,
      xLabel: 'output tokens (median per scenario)',
      yLabel: 'time (ms, median)',
      series,
    });
    return [
      figure(
        `ttft-vs-completion-${api}`,
        `${api}: first token against full completion`,
        svg,
        series,
        'Medians per scenario. The gap between the first-token line and the full-completion lines is what streaming buys a reader; dashed lines are the non-baseline path.',
      ),
    ];
  });
}

function xOf(s: ScenarioSummary): number {
  return s.outputTokens?.p50 ?? (s.maxTokens === 'max' ? 0 : s.maxTokens);
}

/** Empirical CDFs of TTFT (streamed scenarios) and E2E (all), one chart per scenario group, one line per path. */
export function cdfFigures(data: ReportData, metric: 'ttftMs' | 'e2eMs'): Figure[] {
  const paths = pathsOf(data);
  const groups = new Map<string, ScenarioSummary[]>();
  for (const s of data.summary.scenarios) {
    if (metric === 'ttftMs' && !s.stream) continue;
    groups.set(groupKey(s), [...(groups.get(groupKey(s)) ?? []), s]);
  }
  const label = metric === 'ttftMs' ? 'time to first token' : 'end-to-end time';
  return [...groups].flatMap(([key, scenarios], g) => {
    const series: Series[] = scenarios
      .map((s) => ({
        name: `${s.path} (n=${data.values.get(s.name)?.[metric].length ?? 0})`,
        color: paths.indexOf(s.path),
        style: 'step' as const,
        points: cdfPoints(data.values.get(s.name)?.[metric] ?? []).map(([x, y]) => [x, y * 100] as const),
      }))
      .filter((s) => s.points.length > 0);
    if (series.length === 0) return [];
    const id = `cdf-${metric === 'ttftMs' ? 'ttft' : 'e2e'}-${g}`;
    const svg = renderXY(
      {
        id,
        title: `${key}: ${label}, CDF`,
        xLabel: `${label} (ms)`,
        yLabel: 'requests at or below (%)',
        xFromZero: false,
        yDomain: [0, 100],
        yFormat: percent,
        series,
      },
      { width: 440, height: 260 },
    );
    return [
      figure(
        id,
        `${key}: ${label}`,
        svg,
        series,
        'Share of requests at or below each time; a line further right is slower. The top of each curve is the tail (p99).',
      ),
    ];
  });
}

/** Token arrivals of a few representative requests: the stream as a reader saw it. */
export function timelineFigure(data: ReportData): Figure | null {
  if (data.traces.length === 0) return null;
  const series: Series[] = data.traces.map((t, i) => ({
    name: `${t.path} · ${t.why} (request #${t.index}, TTFT ${Math.round(t.ttftMs)} ms, E2E ${Math.round(t.e2eMs)} ms${t.requestId ? `, id ${t.requestId}` : ''})`,
    color: i,
    dashed: t.why === 'slowest first token',
    style: 'step',
    points: [[0, 0] as const, ...t.arrivalsMs.map((a, k) => [a, k + 1] as const)],
  }));
  const svg = renderXY({
    id: 'token-timeline',
    title: 'Token arrivals of representative requests',
    xLabel: 'time since the request was due (ms)',
    yLabel: 'content events received',
    series,
  });
  return figure(
    'token-timeline',
    `Watch it stream: ${data.traces[0]!.scenario.replace(/\/[^/]+$/, '')}`,
    svg,
    series,
    'Each step is one content event arriving. A flat start is the wait for the first token; a single vertical jump at the end would be a buffered stream.',
  );
}

export function itlFigure(data: ReportData): Figure | null {
  const paths = pathsOf(data);
  const series: Series[] = [...data.itlByPath].map(([path, h]) => ({
    name: `${path} (${h.total.toLocaleString('en-US')} gaps)`,
    color: paths.indexOf(path),
    style: 'line',
    points: h.shares(),
  }));
  if (series.length === 0) return null;
  const svg = renderXY({
    id: 'itl-distribution',
    title: 'Inter-token latency distribution',
    xLabel: 'gap between content events (ms, log scale)',
    yLabel: 'share of gaps (%)',
    xLog: true,
    series,
  });
  return figure(
    'itl-distribution',
    'Inter-token latency',
    svg,
    series,
    'All gaps between consecutive content events of streamed requests, pooled per path (20 bins per decade). A second hump far right is stalls or buffering.',
  );
}

export function deliveryFigure(data: ReportData): Figure | null {
  const paths = pathsOf(data);
  const series: Series[] = [...data.deliveryByPath].map(([path, h]) => ({
    name: `${path} (${h.total.toLocaleString('en-US')} frames)`,
    color: paths.indexOf(path),
    style: 'step',
    points: h.cdf().map(([x, y]) => [x, y * 100] as const),
  }));
  if (series.length === 0) return null;
  const svg = renderXY({
    id: 'delivery-latency',
    title: 'Per-frame delivery latency',
    xLabel: 'arrival minus the upstream emission stamp (ms, log scale)',
    yLabel: 'frames at or below (%)',
    xLog: true,
    yDomain: [0, 100],
    yFormat: percent,
    series,
  });
  return figure(
    'delivery-latency',
    'Delivery latency per frame',
    svg,
    series,
    'Ground truth from the mock’s emission stamps: how long each frame took from the upstream to this client. What the gateway adds is the gap between the lines.',
  );
}

export function errorsFigure(data: ReportData): Figure | null {
  const scenarios = data.summary.scenarios;
  if (scenarios.length === 0) return null;
  const codes = [...new Set(scenarios.flatMap((s) => Object.keys(s.errors)))].sort();
  const stacks = [
    { name: 'ok', color: 2, values: scenarios.map((s) => s.ok) },
    ...codes.map((code, i) => ({
      name: code,
      color: [5, 1, 3, 6, 4, 7, 0][i % 7]!,
      values: scenarios.map((s) => s.errors[code] ?? 0),
    })),
  ];
  const failed = scenarios.reduce((n, s) => n + s.requests - s.ok, 0);
  const svg = renderStackedBars({
    id: 'outcomes',
    title: 'Outcomes per scenario',
    xLabel: 'requests',
    categories: scenarios.map((s) => s.name),
    stacks,
  });
  return {
    id: 'outcomes',
    title:
      failed === 0
        ? 'Outcomes: no errors'
        : `Outcomes: ${failed.toLocaleString('en-US')} failed request${failed === 1 ? '' : 's'}`,
    svg,
    legend: renderLegend(stacks),
    caption:
      'Every request ends with an outcome code; failed requests are counted here and left out of the latency statistics.',
  };
}
