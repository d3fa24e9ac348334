import type { BenchSummary, PathComparison, StreamComparison } from '../bench/summary.ts';
import type { ComplianceReport } from '../compliance/types.ts';
import { formatMs } from '../metrics/format-ms.ts';
import { describeShift } from '../metrics/paired-shift.ts';

export { formatMs };

/** `256-token`, or undefined when the answer length is unknown. */
const tokensLabel = (c: StreamComparison): string | undefined =>
  c.outputTokensP50 !== null ? `${Math.round(c.outputTokensP50).toLocaleString('en-US')}-token` : undefined;
const soonerPhrase = (c: StreamComparison, answer: string): string =>
  `streaming shows the first token ${c.soonerFactor}x sooner (${formatMs(c.streamTtftP50Ms)}) than waiting for the ${answer} answer (${formatMs(c.nonStreamE2eP50Ms)})`;

/** The run's findings in plain words, one sentence per comparison. */
export function headlines(summary: BenchSummary): string[] {
  const lines: string[] = [];
  for (const c of summary.comparisons.filter((c): c is StreamComparison => c.kind === 'stream-vs-non-stream')) {
    lines.push(`${c.api} via ${c.path}: ${soonerPhrase(c, tokensLabel(c) ?? 'full')}, p50.`);
  }
  for (const c of summary.comparisons.filter(
    (c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs',
  )) {
    const scope = c.hop === 'end-to-end' ? ', end to end' : '';
    lines.push(
      `${c.api} ${c.stream ? 'stream' : 'no-stream'} max-${c.maxTokens}${scope}: ${describeShift(c.medianDifferenceMs, c.path, `to time to first token over ${c.baseline}`, c.baseline)}${c.interleaved ? '' : ' (paths run one after the other: drift can bias this)'}.`,
    );
  }
  const harness = harnessSentence(summary.run.harness);
  if (harness) lines.push(harness);
  return lines;
}

/** The warning, only when the load generator limited the run (src/load/harness-monitor.ts). */
export function harnessWarning(summary: BenchSummary): string | undefined {
  return summary.run.harness?.isHarnessBound ? harnessSentence(summary.run.harness) : undefined;
}

/** What the harness's self-watch found, in words: a warning when it limited the run, a note when a pause touched some requests, else nothing. */
export function harnessSentence(h: BenchSummary['run']['harness']): string | undefined {
  if (!h || h.samples === 0) return undefined;
  const share = h.stalledTimeShare !== undefined ? `, ${formatShare(h.stalledTimeShare)} of the run in pauses` : '';
  const touched = `${h.stalledSamples} of ${h.samples} requests (${formatShare(h.stalledSamples / h.samples)}) overlapped a pause over ${h.stallThresholdMs} ms and are marked harnessStalled in samples.jsonl`;
  if (h.isHarnessBound) {
    return `Warning: the load generator limited this run, not the target: its own event loop woke up ${formatMs(h.eventLoopDelayMs.p99)} late at p99 (max ${formatMs(h.eventLoopDelayMs.max)}${share}), and ${touched}. Lower --concurrency or --rate, or spread the load over more processes (--workers).`;
  }
  if (h.stalledSamples === 0) return undefined;
  return `Note: the load generator's event loop paused (up to ${formatMs(h.eventLoopDelayMs.max)} late${share}; p99 ${formatMs(h.eventLoopDelayMs.p99)} late, so it did not limit the run): ${touched}.`;
}

const formatShare = (x: number): string =>
  x === 0 ? '0%' : x < 0.001 ? 'under 0.1%' : `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;

const largestCap = (caps: ReadonlyArray<number | 'max'>): number | 'max' | undefined =>
  caps.includes('max') ? 'max' : caps.length > 0 ? Math.max(...(caps as number[])) : undefined;

/**
 * The lab's finding in one sentence: what streaming buys (longest answer, chat, direct path),
 * what the gateway costs in time to first token (chat, streamed, same answer length), and the
 * compliance verdict. Parts without data are left out rather than guessed. Starts with a
 * capital, ends without a full stop (callers add it).
 */
export function labHeadline(summary: BenchSummary | undefined, compliance: ComplianceReport | undefined): string {
  const parts: string[] = [];
  const streams = (summary?.comparisons ?? []).filter(
    (c): c is StreamComparison => c.kind === 'stream-vs-non-stream' && c.api === 'chat',
  );
  const cap = largestCap(streams.map((c) => c.maxTokens));
  const stream =
    streams.find((c) => c.maxTokens === cap && c.path === 'direct') ?? streams.find((c) => c.maxTokens === cap);
  if (stream) {
    const tokens = tokensLabel(stream);
    parts.push(soonerPhrase(stream, tokens !== undefined ? `full ${tokens}` : 'full'));
  }
  const overhead = (summary?.comparisons ?? []).find(
    (c): c is PathComparison =>
      c.kind === 'path-overhead' && c.metric === 'ttftMs' && c.api === 'chat' && c.stream && c.maxTokens === cap,
  );
  if (overhead) {
    parts.push(
      describeShift(overhead.medianDifferenceMs, `the ${overhead.path}`, 'to time to first token', overhead.baseline),
    );
  }
  if (compliance) {
    const failed = compliance.checks.filter((c) => c.status === 'fail').map((c) => c.id);
    parts.push(`SSE compliance: ${compliance.verdict}${failed.length > 0 ? ` (failed: ${failed.join(', ')})` : ''}`);
  }
  const sentence = parts.length > 0 ? parts.join('; ') : 'nothing was measured';
  return `${sentence.charAt(0).toUpperCase()}${sentence.slice(1)}`;
}

/**
 * A run in which no request succeeded measured nothing: said, with what each path answered
 * (or that nothing answered there), and the exit code is 1. Undefined when something succeeded.
 */
export function nothingSucceeded(summary: BenchSummary): string | undefined {
  const requests = summary.scenarios.reduce((n, s) => n + s.requests, 0);
  if (requests === 0 || summary.scenarios.some((s) => s.ok > 0)) return undefined;
  const byPath = new Map<string, Record<string, number>>();
  for (const s of summary.scenarios) {
    const errors = byPath.get(s.path) ?? {};
    for (const [code, count] of Object.entries(s.errors)) errors[code] = (errors[code] ?? 0) + count;
    byPath.set(s.path, errors);
  }
  const urls = new Map(summary.run.targets.map((t) => [t.label, t.baseUrl]));
  const unanswered = new Set(['connect_error', 'timeout_connect']);
  const lines = [...byPath].map(([path, errors]) => {
    const codes = Object.entries(errors)
      .map(([code, count]) => `${code} ${count}`)
      .join(', ');
    const silent = Object.keys(errors).every((code) => unanswered.has(code));
    return `  ${path} (${urls.get(path) ?? '?'}): ${silent ? 'nothing answers there' : 'every request failed'} (${codes})`;
  });
  return `Nothing succeeded: all ${requests} requests failed, so nothing was measured.\n${lines.join('\n')}\nIs the lab running (npm run lab:deploy), and are the URL and key right?`;
}
