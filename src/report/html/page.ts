import type { ScenarioSummary } from '../../bench/aggregate.ts';
import type { BenchSummary, PathComparison } from '../../bench/summary.ts';
import type { ComplianceReport } from '../../compliance/types.ts';
import type { Distribution } from '../../metrics/stats.ts';
import { headlines, labHeadline } from '../headline.ts';
import {
  cdfFigures,
  deliveryFigure,
  errorsFigure,
  itlFigure,
  timelineFigure,
  ttftVsCompletion,
  type Figure,
} from './charts.ts';
import type { ReportData } from './report-data.ts';
import { escapeHtml as e, formatNumber } from './svg.ts';

/** Okabe–Ito colours (distinguishable with colour-blindness), lighter twins for dark mode. */
const STYLE = `
:root { color-scheme: light dark; --bg:#fff; --fg:#1b1f24; --muted:#57606a; --grid:#d8dee4; --card:#f6f8fa;
  --c0:#0072b2; --c1:#e69f00; --c2:#009e73; --c3:#cc79a7; --c4:#56b4e9; --c5:#d55e00; --c6:#8a7a00; --c7:#444;
  --pass:#1a7f37; --warn:#9a6700; --fail:#cf222e; }
@media (prefers-color-scheme: dark) { :root { --bg:#0d1117; --fg:#e6edf3; --muted:#9198a1; --grid:#30363d; --card:#161b22;
  --c0:#4aa8e8; --c1:#f0b43c; --c2:#2fc896; --c3:#e09ac4; --c4:#8fd0f5; --c5:#ff7a3d; --c6:#e8d84a; --c7:#bbb;
  --pass:#3fb950; --warn:#d29922; --fail:#f85149; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 16px 24px 48px; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
h1 { font-size: 1.6rem; margin: .2em 0; } h2 { font-size: 1.25rem; margin-top: 2em; border-bottom: 1px solid var(--grid); }
.lead { font-size: 1.15rem; } .muted, figcaption { color: var(--muted); }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; font-size: .9rem; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--grid); text-align: right; vertical-align: top; }
th:first-child, td:first-child, td.text { text-align: left; }
td:first-child { white-space: nowrap; }
.scroll { overflow-x: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 560px), 1fr)); gap: 16px; }
.grid.small { grid-template-columns: repeat(auto-fill, minmax(min(100%, 460px), 1fr)); }
figure { margin: 0; padding: 12px; background: var(--card); border-radius: 8px; }
figure h3 { font-size: 1rem; margin: 0 0 6px; }
svg.chart { width: 100%; height: auto; display: block; font-size: 12px; }
svg .grid { stroke: var(--grid); stroke-width: 1; } svg .axis { stroke: var(--muted); }
svg .tick, svg .axis-label { fill: var(--muted); } svg .axis-label { font-size: 13px; }
svg .line { fill: none; stroke-width: 2; } svg .dashed { stroke-dasharray: 6 4; }
${Array.from({ length: 8 }, (_, i) => `svg .c${i} { stroke: var(--c${i}); } svg .dot.c${i}, svg .bar.c${i}, .swatch.c${i} { fill: var(--c${i}); background: var(--c${i}); }`).join('\n')}
.legend { list-style: none; padding: 0; margin: 6px 0; display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: .85rem; }
.swatch { display: inline-block; width: 18px; height: 4px; margin: 0 6px 3px 0; vertical-align: middle; }
.swatch.dashed { background-image: linear-gradient(90deg, transparent 60%, var(--card) 60%); background-size: 8px 4px; }
.pill { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff; font-weight: 600; font-size: .85rem; }
.pass { background: var(--pass); } .warn { background: var(--warn); } .fail { background: var(--fail); } .skip { background: var(--muted); }
pre { white-space: pre-wrap; word-break: break-word; font-size: .8rem; margin: 4px 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; } dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
`;

const msCell = (d: Distribution | null, key: 'p50' | 'p95' | 'p99'): string => (d ? `${formatNumber(d[key])}` : '–');

function keyNumbers(scenarios: readonly ScenarioSummary[]): string {
  const head =
    '<tr><th>scenario</th><th>requests</th><th>failed</th><th>truncated (finish_reason length)</th><th>TTFT p50 (ms)</th><th>TTFT p95 (ms)</th><th>TTFT p99 (ms)</th><th>E2E p50 (ms)</th><th>E2E p95 (ms)</th><th>E2E p99 (ms)</th><th>output tokens p50</th><th>ITL p50 (ms)</th></tr>';
  const rows = scenarios.map(
    (s) =>
      `<tr><td>${e(s.name)}</td><td>${s.requests}</td><td>${s.requests - s.ok}</td><td>${s.lengthLimited}</td><td>${msCell(s.ttftMs, 'p50')}</td><td>${msCell(s.ttftMs, 'p95')}</td><td>${msCell(s.ttftMs, 'p99')}</td><td>${msCell(s.e2eMs, 'p50')}</td><td>${msCell(s.e2eMs, 'p95')}</td><td>${msCell(s.e2eMs, 'p99')}</td><td>${s.outputTokens ? formatNumber(s.outputTokens.p50) : '–'}</td><td>${msCell(s.itlMs, 'p50')}</td></tr>`,
  );
  return `<div class="scroll"><table><thead>${head}</thead><tbody>${rows.join('')}</tbody></table></div>`;
}

function renderFigure(f: Figure): string {
  return `<figure data-chart="${e(f.id)}"><h3>${e(f.title)}</h3>${f.svg}${f.legend}<figcaption>${e(f.caption)}</figcaption></figure>`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${e(title)}</h2>${body}</section>`;
}

function complianceSection(c: ComplianceReport | undefined): string {
  if (!c)
    return section(
      'compliance',
      'SSE compliance',
      '<p class="muted">No compliance.json in this directory: run <code>npm run lab:verify -- --out</code> with the same directory to include the verdict.</p>',
    );
  const rows = c.checks.map(
    (check) =>
      `<tr><td class="text"><code>${e(check.id)}</code><br><span class="muted">${e(check.title)}</span></td><td class="text"><span class="pill ${check.status}">${check.status}</span></td><td class="text">${e(check.evidence)}${check.details ? `<details><summary>evidence</summary><pre>${e(JSON.stringify(check.details, null, 2))}</pre></details>` : ''}</td></tr>`,
  );
  return section(
    'compliance',
    'SSE compliance',
    `<p>Verdict <span class="pill ${c.verdict}">${c.verdict}</span> for ${e(c.gateway ?? 'the static lint only')} · ${c.checks.length} checks · ${formatNumber(c.durationMs / 1000)} s · ${c.groundTruth ? 'exact (the upstream stamped its frames)' : 'inferred (no emission stamps)'}.</p><div class="scroll"><table><thead><tr><th>check</th><th>status</th><th>evidence</th></tr></thead><tbody>${rows.join('')}</tbody></table></div>`,
  );
}

function shardSkew(shards: ReadonlyArray<{ startLateMs: number | null }>): string {
  const late = shards.map((s) => s.startLateMs).filter((ms): ms is number => ms !== null);
  return late.length > 1 ? `${Math.max(...late) - Math.min(...late)} ms` : 'not recorded';
}

function metadataSection(data: ReportData): string {
  const r = data.summary.run;
  const items: Array<[string, string]> = [
    ['run directory', data.dir],
    ['started', r.startedAt],
    ['ended', `${r.endedAt}${r.interrupted ? ' (interrupted: partial results)' : ''}`],
    ...r.targets.map((t): [string, string] => [
      `target ${t.label}`,
      `${t.baseUrl} · ${t.apiStyle} URLs · deployment ${t.deployment} · api-version ${t.apiVersion} · auth ${t.auth}`,
    ]),
    ['lab', r.lab ? `${r.lab.target}${r.lab.labId ? ` (${r.lab.labId})` : ''}` : 'none (--endpoint)'],
    ['gateway policy', r.lab?.policyFile ?? 'not recorded'],
    ['load model', JSON.stringify(r.load)],
    ['client', r.client],
    ['429 policy', r.retry429],
    ['warm-up requests', String(r.warmup)],
    ['seed', String(r.seed)],
    ...(r.harness
      ? [
          [
            'harness self-watch',
            `event loop late by p50 ${r.harness.eventLoopDelayMs.p50} ms · p99 ${r.harness.eventLoopDelayMs.p99} ms · max ${r.harness.eventLoopDelayMs.max} ms${r.harness.stalledTimeShare !== undefined ? ` (${(r.harness.stalledTimeShare * 100).toFixed(1)}% of the run in pauses over ${r.harness.stallThresholdMs} ms)` : ''}; ${r.harness.stalledSamples} of ${r.harness.samples} requests overlapped a pause${r.harness.isHarnessBound ? '; the harness limited this run' : '; the harness did not limit this run'}`,
          ] as [string, string],
        ]
      : []),
    ...(r.shards
      ? [
          ['shards', `${r.shards.length}, merged (npm run merge); start skew ${shardSkew(r.shards)}`] as [
            string,
            string,
          ],
          ...r.shards.map((sh): [string, string] => [
            `shard ${sh.index}`,
            `${sh.host}; started ${sh.startLateMs === null ? '(no common start)' : `${sh.startLateMs} ms late`}; ${sh.requests} requests, ${sh.errors} failed${sh.interrupted ? '; INTERRUPTED: partial' : ''}${sh.harness?.isHarnessBound ? '; the harness limited this shard' : ''}`,
          ]),
        ]
      : []),
    ['tool', `${r.tool.name} ${r.tool.version}`],
    ['Node.js', r.node],
    ['machine', `${r.host.platform}, ${r.host.cpus} × ${r.host.cpuModel}`],
  ];
  if (data.compliance) items.push(['verified gateway', data.compliance.gateway ?? '–']);
  if (data.unreadableLines > 0)
    items.push(['samples.jsonl', `${data.unreadableLines} unreadable line(s) skipped (an interrupted write)`]);
  return section(
    'metadata',
    'Run metadata',
    `<dl class="meta">${items.map(([k, v]) => `<dt>${e(k)}</dt><dd>${e(v)}</dd>`).join('')}</dl>`,
  );
}

/** The whole page: one file, no external resources, no script. */
export function renderReportPage(data: ReportData): string {
  const { summary } = data;
  const grid = (figures: Array<Figure | null>, small = false): string => {
    const shown = figures.filter((f): f is Figure => f !== null);
    return shown.length > 0
      ? `<div class="grid${small ? ' small' : ''}">${shown.map(renderFigure).join('')}</div>`
      : '';
  };
  const timeline = timelineFigure(data);
  const itl = itlFigure(data);
  const delivery = deliveryFigure(data);
  const body = [
    `<header><h1>Streaming benchmark report</h1><p class="muted">${e(data.dir)} · ${e(summary.run.startedAt)} · ${summary.scenarios.reduce((n, s) => n + s.requests, 0).toLocaleString('en-US')} requests in ${summary.scenarios.length} scenarios${summary.run.interrupted ? ' · <strong>interrupted</strong>' : ''}</p></header>`,
    section(
      'headline',
      'Headline',
      `<p class="lead">${e(labHeadline(summary, data.compliance))}.</p><ul>${headlines(summary)
        .map((h) => `<li>${e(h)}</li>`)
        .join('')}</ul>${keyNumbers(summary.scenarios)}`,
    ),
    ...chainSection(summary, data.compliance),
    section('ttft-vs-completion', 'Time to first token against full completion', grid(ttftVsCompletion(data))),
    section(
      'cdf-ttft',
      'Time to first token, per path (CDF)',
      grid(cdfFigures(data, 'ttftMs'), true) || '<p class="muted">No streamed scenario.</p>',
    ),
    section('cdf-e2e', 'End-to-end time, per path (CDF)', grid(cdfFigures(data, 'e2eMs'), true)),
    section(
      'timeline',
      'Watch it stream',
      timeline
        ? grid([timeline])
        : '<p class="muted">No per-token arrivals in samples.jsonl (no streamed request succeeded, or the run predates them).</p>',
    ),
    section(
      'itl',
      'Inter-token latency',
      itl ? grid([itl]) : '<p class="muted">No streamed request with more than one content event.</p>',
    ),
    section('errors', 'Errors', grid([errorsFigure(data)])),
    section(
      'delivery',
      'Delivery latency per frame',
      delivery
        ? grid([delivery])
        : '<p class="muted">The upstream did not stamp its frames (bench without <code>--stamp</code>, or not this project’s mock): no ground truth for delivery latency.</p>',
    ),
    complianceSection(data.compliance),
    metadataSection(data),
  ].join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Streaming report · ${e(data.dir)}</title><style>${STYLE}</style></head>
<body>
${body}
</body></html>
`;
}

/**
 * With three paths or more (direct, gateway, edge, …): one row per hop, what it adds over the
 * path just inside it in time to first token and end to end, and the whole chain's figure.
 */
function chainSection(summary: BenchSummary, compliance: ComplianceReport | undefined): string[] {
  const comparisons = summary.comparisons.filter(
    (c): c is PathComparison => c.kind === 'path-overhead' && c.hop !== undefined,
  );
  if (!comparisons.some((c) => c.hop === 'end-to-end')) return [];
  const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(1)}`;
  const cell = (c: PathComparison | undefined): string =>
    c === undefined
      ? '–'
      : `${signed(c.medianDifferenceMs.estimate)} ms (95% CI ${signed(c.medianDifferenceMs.low)} to ${signed(c.medianDifferenceMs.high)}; ${c.verdict === 'adds' ? 'adds' : c.verdict === 'no-measurable-difference' ? 'no measurable difference' : 'suspect'})`;
  // The verifier's verdict for each hop, when lab:verify wrote into this run's directory.
  const verdictOf = (path: string, hop: PathComparison['hop']): string => {
    if (hop === 'end-to-end') return compliance ? compliance.verdict : '–';
    const found = compliance?.hops?.find((h) => h.path === path);
    return found ? `${found.verdict}${found.failed.length > 0 ? ` (${found.failed.join(', ')})` : ''}` : '–';
  };
  const rows = comparisons
    .filter((c) => c.metric === 'ttftMs')
    .map((ttft) => {
      const same = (metric: PathComparison['metric']) =>
        comparisons.find(
          (c) =>
            c.metric === metric &&
            c.api === ttft.api &&
            c.stream === ttft.stream &&
            c.maxTokens === ttft.maxTokens &&
            c.path === ttft.path &&
            c.baseline === ttft.baseline,
        );
      const hop =
        ttft.hop === 'end-to-end'
          ? `end to end: ${ttft.path} over ${ttft.baseline}`
          : `${ttft.path} over ${ttft.baseline}`;
      return `<tr><td>${e(`${ttft.api} ${ttft.stream ? 'stream' : 'no-stream'} max-${ttft.maxTokens}`)}</td><td>${e(hop)}</td><td>${e(cell(ttft))}</td><td>${e(cell(same('deliveryMs')))}</td><td>${e(cell(same('e2eMs')))}</td><td>${e(verdictOf(ttft.path, ttft.hop))}</td></tr>`;
    });
  return [
    section(
      'chain',
      'The chain, hop by hop',
      `<p class="muted">Each hop against the path just inside it, from paired requests run interleaved in one load; the hops add up to the end-to-end figure within their intervals. Delivery: each stream's median delay per frame (with <code>--stamp</code>). Compliance: <code>lab:verify --out</code> into this directory.</p><table><thead><tr><th>scenario</th><th>hop</th><th>adds to time to first token</th><th>adds to each frame's delivery</th><th>adds end to end</th><th>compliance</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    ),
  ];
}

const _capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);
