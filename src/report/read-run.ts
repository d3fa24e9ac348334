import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { SUMMARY_SCHEMA_VERSION, type BenchSummary } from '../bench/summary.ts';
import type { ComplianceReport } from '../compliance/types.ts';
import { LabError } from '../errors.ts';
import type { Sample } from '../metrics/sample.ts';

const notARun = (dir: string, reason: string): LabError =>
  new LabError(
    'E_INVALID_OPTION',
    `Failed to read run "${dir}": ${reason}. Give a directory written by npm run bench (it holds summary.json and samples.jsonl).`,
  );

/** summary.json of a bench run; a clear error when the directory is not one. */
export function readRunSummary(dir: string): BenchSummary {
  const file = join(dir, 'summary.json');
  if (!existsSync(file)) throw notARun(dir, existsSync(dir) ? 'it has no summary.json' : 'no such directory');
  let summary: BenchSummary;
  try {
    summary = JSON.parse(readFileSync(file, 'utf8')) as BenchSummary;
  } catch (error) {
    throw notARun(dir, `summary.json is not JSON (${(error as Error).message})`);
  }
  if (summary === null || typeof summary !== 'object' || Array.isArray(summary))
    throw notARun(
      dir,
      `summary.json holds ${summary === null ? 'null' : Array.isArray(summary) ? 'an array' : `a ${typeof summary}`}, not a run's summary`,
    );
  if (summary.schemaVersion !== SUMMARY_SCHEMA_VERSION)
    throw notARun(
      dir,
      `summary.json has schemaVersion ${String(summary.schemaVersion)}, this version reads ${SUMMARY_SCHEMA_VERSION}`,
    );
  if (summary.run === null || typeof summary.run !== 'object' || !Array.isArray(summary.scenarios))
    throw notARun(dir, 'summary.json lacks its run or its scenarios');
  return summary;
}

/** compliance.json when a verify wrote into the same directory. */
export function readRunCompliance(dir: string): ComplianceReport | undefined {
  const file = join(dir, 'compliance.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ComplianceReport) : undefined;
}

/**
 * Streams samples.jsonl line by line (a 10,000-request run is tens of MB) and hands each
 * measured sample (warm-up left out) to `onSample`. A torn last line, as an interrupted run
 * can leave, is counted and skipped rather than failing the report.
 */
export async function forEachSample(
  dir: string,
  onSample: (sample: Sample) => void,
  name = 'samples.jsonl',
): Promise<{ samples: number; unreadable: number }> {
  const file = join(dir, name);
  if (!existsSync(file)) throw notARun(dir, `it has no ${name}`);
  let samples = 0;
  let unreadable = 0;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let sample: Sample;
    try {
      sample = JSON.parse(line) as Sample;
    } catch {
      unreadable++;
      continue;
    }
    if (sample === null || typeof sample !== 'object' || typeof sample.scenario !== 'string') {
      unreadable++;
      continue;
    }
    if (sample.isWarmup) continue;
    samples++;
    onSample(sample);
  }
  return { samples, unreadable };
}
