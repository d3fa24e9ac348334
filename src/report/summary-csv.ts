import type { BenchSummary } from '../bench/summary.ts';
import type { Distribution } from '../metrics/stats.ts';

const METRICS = [
  'ttftMs',
  'e2eMs',
  'itlMs',
  'tpotMs',
  'outputTokens',
  'tokensPerSec',
  'firstEventMs',
  'ttfbMs',
  'queueMs',
  'deliveryLatencyMs',
] as const;
const STATS = ['n', 'p50', 'p90', 'p95', 'p99', 'p999', 'mean', 'stdev', 'min', 'max'] as const;

function cell(value: unknown): string {
  const text = String(value ?? '');
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One row per scenario and metric: easy to pivot in a spreadsheet. */
export function summaryToCsv(summary: BenchSummary): string {
  const rows = [
    ['scenario', 'api', 'stream', 'max_tokens', 'path', 'requests', 'ok', 'errors', 'metric', ...STATS].join(','),
  ];
  for (const s of summary.scenarios) {
    const errors = Object.entries(s.errors)
      .map(([code, n]) => `${code}:${n}`)
      .join(' ');
    for (const metric of METRICS) {
      const d = s[metric] as Distribution | null;
      if (!d) continue;
      rows.push(
        [s.name, s.api, s.stream, s.maxTokens, s.path, s.requests, s.ok, errors, metric, ...STATS.map((k) => d[k])]
          .map(cell)
          .join(','),
      );
    }
  }
  return `${rows.join('\n')}\n`;
}
