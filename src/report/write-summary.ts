import { writeFileAtomic } from '../files.ts';
import { join } from 'node:path';
import type { BenchSummary } from '../bench/summary.ts';
import { summaryToCsv } from './summary-csv.ts';
import { summaryToMarkdown } from './summary-markdown.ts';

/** Writes summary.json, summary.csv and summary.md into the run's directory. */
export function writeSummaryFiles(outDir: string, summary: BenchSummary): void {
  writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileAtomic(join(outDir, 'summary.csv'), summaryToCsv(summary));
  writeFileAtomic(join(outDir, 'summary.md'), summaryToMarkdown(summary));
}
