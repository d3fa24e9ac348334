import type { BenchSummary, PathComparison, StreamComparison } from '../bench/summary.ts';

const ms = (value: number): string => `${value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1)} ms`;

/** The run's findings in plain words, one sentence per comparison. */
export function headlines(summary: BenchSummary): string[] {
  const lines: string[] = [];
  for (const c of summary.comparisons.filter((c): c is StreamComparison => c.kind === 'stream-vs-non-stream')) {
    const tokens = c.outputTokensP50 !== null ? `${Math.round(c.outputTokensP50).toLocaleString('en-US')}-token` : 'full';
    lines.push(`${c.api} via ${c.path}: streaming shows the first token ${c.soonerFactor}x sooner (${ms(c.streamTtftP50Ms)}) than waiting for the ${tokens} answer (${ms(c.nonStreamE2eP50Ms)}), p50.`);
  }
  for (const c of summary.comparisons.filter((c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs')) {
    const d = c.medianDifferenceMs;
    const significant = d.low > 0 || d.high < 0;
    lines.push(
      `${c.api} ${c.stream ? 'stream' : 'no-stream'} max-${c.maxTokens}: ${c.path} ${d.estimate >= 0 ? 'adds' : 'saves'} ${ms(Math.abs(d.estimate))} to time to first token over ${c.baseline} (median of ${d.pairs} paired requests, 95% CI ${d.low.toFixed(1)} to ${d.high.toFixed(1)} ms${significant ? '' : ', not significant'}).`,
    );
  }
  return lines;
}
