import { writeFileAtomic } from '../files.ts';
import { join } from 'node:path';
import {
  resolveCompareOptions,
  resolveReportOptions,
  COMPARE_DEFAULTS,
  COMPARE_METRICS,
} from '../config/report-options.ts';
import { comparisonToMarkdown } from '../report/compare-markdown.ts';
import { compareRuns, gateFailures } from '../report/compare-runs.ts';
import { writeHtmlReport } from '../report/write-report.ts';
import { shownDefault } from '../config/help-defaults.ts';

export const REPORT_USAGE = `Usage: npm run report -- DIR [--out FILE]

Writes DIR/report.html from a bench run's files (summary.json, samples.jsonl, and
compliance.json when lab:verify wrote into DIR). Every bench run writes it already; use this
after a verify, or on a copied run. The page is one self-contained file: it opens offline.
  --out FILE                  where to write the page (default: DIR/report.html)`;

export const COMPARE_USAGE = `Usage: npm run compare -- A B [options]

Compares run B (the candidate) with run A (the baseline), scenario by scenario: the change in
p50, p95 and p99 with ${Math.round(COMPARE_DEFAULTS.confidence * 100)}% bootstrap intervals, and a Mann–Whitney U test on the raw samples.
A change is significant only when p < alpha and the interval excludes zero.
  --metrics ${COMPARE_METRICS.join(',')}   per-request metrics to compare ${shownDefault(COMPARE_DEFAULTS.metrics)}
  --fail-on-regression PCT    exit 1 when a significant slow-down exceeds PCT percent (CI gate)
  --alpha P                   significance level ${shownDefault(COMPARE_DEFAULTS.alpha)}
  --confidence C              interval confidence ${shownDefault(COMPARE_DEFAULTS.confidence)}
  --resamples N               bootstrap resamples ${shownDefault(COMPARE_DEFAULTS.resamples)}
  --seed N                    bootstrap seed ${shownDefault(COMPARE_DEFAULTS.seed)}: the same inputs give the same intervals
  --out DIR                   where compare.md and compare.json go (default: B, the candidate's folder)
  --json                      print compare.json on stdout instead of the table

With --fail-on-regression the gate also fails (exit 1, saying why) when it compared nothing:
no scenario in both runs, a baseline scenario missing from the candidate, or a scenario with
too few samples to test. Comparing a run with itself is refused.

Exit code: 0, 1 the gate failed, 2 bad usage.`;

/** `streamlab report DIR`. */
export async function reportCommand(argv: readonly string[]): Promise<number> {
  const options = resolveReportOptions(argv);
  if (options.help) {
    process.stdout.write(`${REPORT_USAGE}\n`);
    return 0;
  }
  const file = await writeHtmlReport(options.dir, options.out);
  process.stdout.write(`${file}\n`);
  return 0;
}

/** `streamlab compare A B`. */
export async function compareCommand(argv: readonly string[]): Promise<number> {
  const options = resolveCompareOptions(argv);
  if (options.help) {
    process.stdout.write(`${COMPARE_USAGE}\n`);
    return 0;
  }
  const comparison = await compareRuns(options.baseline, options.candidate, options);
  const outDir = options.out ?? options.candidate;
  const markdown = comparisonToMarkdown(comparison, options.failOnRegressionPct);
  writeFileAtomic(join(outDir, 'compare.json'), `${JSON.stringify(comparison, null, 2)}\n`);
  writeFileAtomic(join(outDir, 'compare.md'), markdown);
  process.stdout.write(options.json ? `${JSON.stringify(comparison, null, 2)}\n` : markdown);
  process.stderr.write(`results: ${outDir}/ (compare.md, compare.json)\n`);
  if (options.failOnRegressionPct === undefined) {
    if (comparison.scenarios.length === 0) process.stderr.write('No scenario is in both runs: nothing was compared.\n');
    return 0;
  }
  const failures = gateFailures(comparison, options.failOnRegressionPct);
  process.stderr.write(
    failures.length > 0
      ? `The gate (--fail-on-regression ${options.failOnRegressionPct}) fails:\n${failures.map((f) => `  - ${f}`).join('\n')}\n`
      : `The gate (--fail-on-regression ${options.failOnRegressionPct}) passes: ${comparison.scenarios.length} scenario(s) compared, no significant slow-down over ${options.failOnRegressionPct}%.\n`,
  );
  return failures.length > 0 ? 1 : 0;
}
