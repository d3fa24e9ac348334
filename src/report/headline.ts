import type { BenchSummary, PathComparison, StreamComparison } from '../bench/summary.ts';
import type { ComplianceReport } from '../compliance/types.ts';
import { formatMs } from '../metrics/format-ms.ts';
import { describeShift } from '../metrics/paired-shift.ts';

export { formatMs };

/** `256-token`, or undefined when the answer length is unknown. */
const tokensLabel = (c: StreamComparison): string | undefined => (c.outputTokensP50 !== null ? `${Math.round(c.outputTokensP50).toLocaleString('en-US')}-token` : undefined);
const soonerPhrase = (c: StreamComparison, answer: string): string =>
  `streaming shows the first token ${c.soonerFactor}x sooner (${formatMs(c.streamTtftP50Ms)}) than waiting for the ${answer} answer (${formatMs(c.nonStreamE2eP50Ms)})`;

/** The run's findings in plain words, one sentence per comparison. */
export function headlines(summary: BenchSummary): string[] {
  const lines: string[] = [];
  for (const c of summary.comparisons.filter((c): c is StreamComparison => c.kind === 'stream-vs-non-stream')) {
    lines.push(`${c.api} via ${c.path}: ${soonerPhrase(c, tokensLabel(c) ?? 'full')}, p50.`);
  }
  for (const c of summary.comparisons.filter((c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs')) {
    lines.push(`${c.api} ${c.stream ? 'stream' : 'no-stream'} max-${c.maxTokens}: ${describeShift(c.medianDifferenceMs, c.path, `to time to first token over ${c.baseline}`, c.baseline)}${c.interleaved ? '' : ' (paths run one after the other: drift can bias this)'}.`);
  }
  const harness = harnessWarning(summary);
  if (harness) lines.push(harness);
  return lines;
}

/** Said when the load generator, not the target, limited the run (src/load/harness-monitor.ts). */
export function harnessWarning(summary: BenchSummary): string | undefined {
  const h = summary.run.harness;
  if (!h?.isHarnessBound) return undefined;
  return `Warning: the load generator limited this run, not the target: its own event loop was late by ${formatMs(h.eventLoopDelayMs.p99)} at p99 (max ${formatMs(h.eventLoopDelayMs.max)}), and ${h.stalledSamples} of ${h.samples} requests overlapped a stall over ${h.stallThresholdMs} ms (marked harnessStalled in samples.jsonl). Lower --concurrency or --rate, or spread the load over more processes.`;
}

const largestCap = (caps: ReadonlyArray<number | 'max'>): number | 'max' | undefined => (caps.includes('max') ? 'max' : caps.length > 0 ? Math.max(...(caps as number[])) : undefined);

/**
 * The lab's finding in one sentence: what streaming buys (longest answer, chat, direct path),
 * what the gateway costs in time to first token (chat, streamed, same answer length), and the
 * compliance verdict. Parts without data are left out rather than guessed.
 */
export function labHeadline(summary: BenchSummary | undefined, compliance: ComplianceReport | undefined): string {
  const parts: string[] = [];
  const streams = (summary?.comparisons ?? []).filter((c): c is StreamComparison => c.kind === 'stream-vs-non-stream' && c.api === 'chat');
  const cap = largestCap(streams.map((c) => c.maxTokens));
  const stream = streams.find((c) => c.maxTokens === cap && c.path === 'direct') ?? streams.find((c) => c.maxTokens === cap);
  if (stream) {
    const tokens = tokensLabel(stream);
    parts.push(soonerPhrase(stream, tokens !== undefined ? `full ${tokens}` : 'full'));
  }
  const overhead = (summary?.comparisons ?? []).find((c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs' && c.api === 'chat' && c.stream && c.maxTokens === cap);
  if (overhead) {
    parts.push(describeShift(overhead.medianDifferenceMs, `the ${overhead.path}`, 'to time to first token', overhead.baseline));
  }
  if (compliance) {
    const failed = compliance.checks.filter((c) => c.status === 'fail').map((c) => c.id);
    parts.push(`SSE compliance: ${compliance.verdict}${failed.length > 0 ? ` (failed: ${failed.join(', ')})` : ''}`);
  }
  return parts.length > 0 ? parts.join('; ') : 'nothing was measured';
}
