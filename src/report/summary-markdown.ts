import type { BenchSummary } from '../bench/summary.ts';
import type { Distribution } from '../metrics/stats.ts';
import { headlines } from './headline.ts';

const fmt = (d: Distribution | null, key: keyof Distribution): string =>
  d ? d[key].toLocaleString('en-US', { maximumFractionDigits: 1 }) : '–';

/** The scenario table, one row per scenario, as Markdown or as aligned text. */
export function scenarioRows(summary: BenchSummary): string[][] {
  const header = [
    'scenario',
    'ok/req',
    'errors',
    'TTFT p50',
    'p95',
    'p99',
    'E2E p50',
    'p95',
    'p99',
    'ITL p50',
    'TPOT p50',
    'tokens p50',
    'tok/s p50',
  ];
  const rows = summary.scenarios.map((s) => [
    s.name,
    `${s.ok}/${s.requests}${s.lengthLimited > 0 ? ` (${s.lengthLimited} truncated)` : ''}`,
    Object.entries(s.errors)
      .map(([code, n]) => `${code}×${n}`)
      .join(' ') || '–',
    fmt(s.ttftMs, 'p50'),
    fmt(s.ttftMs, 'p95'),
    fmt(s.ttftMs, 'p99'),
    fmt(s.e2eMs, 'p50'),
    fmt(s.e2eMs, 'p95'),
    fmt(s.e2eMs, 'p99'),
    fmt(s.itlMs, 'p50'),
    fmt(s.tpotMs, 'p50'),
    fmt(s.outputTokens, 'p50'),
    fmt(s.tokensPerSec, 'p50'),
  ]);
  return [header, ...rows];
}

export function summaryToMarkdown(summary: BenchSummary): string {
  const [header = [], ...rows] = scenarioRows(summary);
  const lines = [
    '# Streaming benchmark',
    '',
    `Run ${summary.run.startedAt} → ${summary.run.endedAt}${summary.run.interrupted ? ' (interrupted: partial results)' : ''}; client ${summary.run.client}; load ${JSON.stringify(summary.run.load)}; seed ${summary.run.seed}.`,
    '',
    ...headlines(summary).map((h) => `- ${h}`),
    '',
    'Times in ms, from the intended start of each request. TTFT = first content token.',
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ];
  return lines.join('\n');
}

/** Aligned plain-text table for stdout. */
export function summaryToTable(summary: BenchSummary): string {
  const rows = scenarioRows(summary);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const text = rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  return [...text, '', ...headlines(summary)].join('\n');
}
