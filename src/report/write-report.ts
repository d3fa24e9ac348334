import { existsSync } from 'node:fs';
import { writeFileAtomic } from '../files.ts';
import { join } from 'node:path';
import { collectReportData } from './html/report-data.ts';
import { renderReportPage } from './html/page.ts';
import type { BenchSummary } from '../bench/summary.ts';
import { writeSummaryFiles } from './write-summary.ts';

/** Everything a bench run writes beside its samples.jsonl: summary.json, .csv, .md and report.html. */
export async function writeRunReports(dir: string, summary: BenchSummary): Promise<void> {
  writeSummaryFiles(dir, summary);
  await writeHtmlReport(dir);
}

/** Writes report.html for the run in `dir` (summary.json, samples.jsonl, compliance.json when present). Returns its path. */
export async function writeHtmlReport(dir: string, out = join(dir, 'report.html')): Promise<string> {
  const data = await collectReportData(dir);
  writeFileAtomic(out, renderReportPage(data));
  return out;
}

/** Re-renders report.html when `dir` holds a bench run (after a verify wrote compliance.json beside it). */
export async function refreshHtmlReport(dir: string): Promise<string | undefined> {
  return existsSync(join(dir, 'summary.json')) && existsSync(join(dir, 'samples.jsonl'))
    ? writeHtmlReport(dir)
    : undefined;
}
