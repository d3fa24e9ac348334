import type { MetricComparison, QuantileChange, RunComparison } from './compare-runs.ts';

const METRIC_LABEL: Record<MetricComparison['metric'], string> = {
  ttft: 'TTFT',
  e2e: 'E2E',
  tpot: 'TPOT',
  ttfb: 'TTFB',
};

const ms = (value: number): string =>
  Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(1);
const signed = (value: number): string => `${value > 0 ? '+' : value < 0 ? '−' : '±'}${ms(Math.abs(value))}`;

/** `120 → 132 ms +10.0% (CI +8.0 to +14.1 ms)`, or with `~` when not significant (benchstat's mark). */
function cell(q: QuantileChange | undefined): string {
  if (!q) return '–';
  const change = `${q.changePct > 0 ? '+' : q.changePct < 0 ? '−' : ''}${Math.abs(q.changePct).toFixed(1)}%`;
  const ci = `${signed(q.differenceMs.low)} to ${signed(q.differenceMs.high)} ms`;
  return `${ms(q.baselineMs)} → ${ms(q.candidateMs)} ms ${q.significant ? `**${change}**` : `~ ${change}`} (CI ${ci})`;
}

const pValue = (m: MetricComparison): string =>
  m.mannWhitney ? (m.mannWhitney.pAdjusted < 0.001 ? '<0.001' : m.mannWhitney.pAdjusted.toFixed(3)) : 'n/a';

/** compare.md: a table fit for a pull request or a CI step summary. */
export function comparisonToMarkdown(c: RunComparison, failOnRegressionPct?: number): string {
  const lines = [
    `# Run comparison`,
    '',
    `Baseline **A** \`${c.baseline.dir}\` (${c.baseline.startedAt}) against candidate **B** \`${c.candidate.dir}\` (${c.candidate.startedAt}).`,
    '',
    `Each cell: A → B, the change in percent and the ${Math.round(c.confidence * 100)}% bootstrap interval of B − A (${c.resamples.toLocaleString('en-US')} resamples). ` +
      `**Bold** changes are significant: Mann–Whitney U p < ${c.alpha} on the raw samples after a Holm adjustment over all ${c.multipleTesting.tests} tests of this comparison (so an unchanged run flags anything with probability at most ${c.multipleTesting.familyWiseErrorRate}) *and* an interval that excludes zero; \`~\` means no significant change. The p-value column is the adjusted one.`,
    '',
    '| scenario | metric | n (A/B) | p50 | p95 | p99 | p-value | verdict |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const s of c.scenarios) {
    for (const m of s.metrics) {
      const at = (q: number): QuantileChange | undefined => m.quantiles.find((x) => x.q === q);
      lines.push(
        `| ${s.scenario} | ${METRIC_LABEL[m.metric]} | ${m.baselineN}/${m.candidateN} | ${cell(at(0.5))} | ${cell(at(0.95))} | ${cell(at(0.99))} | ${pValue(m)} | ${m.verdict} |`,
      );
    }
  }
  const failed = c.scenarios.filter(
    (s) => s.baseline.ok < s.baseline.requests || s.candidate.ok < s.candidate.requests,
  );
  if (failed.length > 0) {
    lines.push('', 'Failed requests (left out of the statistics):', '');
    for (const s of failed)
      lines.push(
        `- ${s.scenario}: A ${s.baseline.requests - s.baseline.ok} of ${s.baseline.requests}, B ${s.candidate.requests - s.candidate.ok} of ${s.candidate.requests}`,
      );
  }
  if (c.onlyInBaseline.length > 0) lines.push('', `Only in A (not compared): ${c.onlyInBaseline.join(', ')}`);
  if (c.onlyInCandidate.length > 0) lines.push('', `Only in B (not compared): ${c.onlyInCandidate.join(', ')}`);
  lines.push('', regressionLine(c, failOnRegressionPct), '');
  return lines.join('\n');
}

function regressionLine(c: RunComparison, pct: number | undefined): string {
  const over = pct === undefined ? c.regressions : c.regressions.filter((r) => r.changePct > pct);
  const gate = pct === undefined ? '' : ` over the ${pct}% gate`;
  if (over.length === 0) return `No significant regression${gate}.`;
  const list = over
    .map((r) => `${r.scenario} ${METRIC_LABEL[r.metric]} p${Math.round(r.q * 100)} +${r.changePct.toFixed(1)}%`)
    .join('; ');
  return `**${over.length} significant regression${over.length === 1 ? '' : 's'}${gate}:** ${list}.`;
}
