import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HISTOGRAM_METRICS, ScenarioAggregate, type ScenarioLoad, type ScenarioSummary } from '../bench/aggregate.ts';
import { buildSummary, type BenchSummary, type MergedShard } from '../bench/summary.ts';
import type { Target } from '../endpoint/types.ts';
import { InvalidOptionError } from '../errors.ts';
import type { Sample } from '../metrics/sample.ts';
import { addEncodedHistograms } from '../metrics/stats.ts';
import { collectReportData } from '../report/html/report-data.ts';
import { renderReportPage } from '../report/html/page.ts';
import { readRunCompliance, readRunSummary } from '../report/read-run.ts';
import { writeSummaryFiles } from '../report/write-summary.ts';
import { describeValue, shardSummaryProblem } from './shard-summary-shape.ts';

const SHARD_DIR = /^shard-(\d+)$/;

/**
 * The most shards one run may have: what `npm run bench -- --shards N` accepts
 * (src/config/bench-options.ts; the scale renderers allow at most 1000). A run id, a summary
 * edited by hand, claiming more is refused before anything is sized by it.
 */
export const MAX_SHARDS = 10_000;

/** What a merge writes into DIR, each replaced whole: renamed into place only once all are written. */
export const MERGE_OUTPUTS = ['samples.jsonl', 'summary.json', 'summary.csv', 'summary.md', 'report.html'] as const;

const refuse = (dir: string, reason: string, fix: string): InvalidOptionError =>
  new InvalidOptionError('DIR', `"${dir}": ${reason}`, fix);

type Shard = { index: number; dir: string; summary: BenchSummary };

/** The shards of a run directory, checked: all present once, one run, one configuration, the same scenarios, each summary.json of the shape a shard writes. */
function readShards(dir: string): Shard[] {
  if (!existsSync(dir)) throw refuse(dir, 'no such directory', 'the OUT/<run-id> folder the shards wrote into');
  if (!statSync(dir).isDirectory())
    throw refuse(dir, 'it is a file, not a directory', 'the OUT/<run-id> folder the shards wrote into');
  const found = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && SHARD_DIR.test(d.name))
    .map((d) => ({ dir: join(dir, d.name), summary: readRunSummary(join(dir, d.name)) }));
  if (found.length === 0)
    throw refuse(dir, 'it holds no shard-<i> folder', 'the OUT/<run-id> folder the shards wrote into');
  const shards = found.map(({ dir: shardDir, summary }) => {
    const shard = summary.run.shard as Partial<NonNullable<BenchSummary['run']['shard']>> | undefined;
    if (!shard || typeof shard !== 'object')
      throw refuse(
        dir,
        `${shardDir} is not a shard (its summary.json has no run.shard)`,
        'folders written by npm run bench -- --shard i/N',
      );
    if (
      !Number.isInteger(shard.index) ||
      !Number.isInteger(shard.count) ||
      typeof shard.runId !== 'string' ||
      typeof shard.configHash !== 'string'
    )
      throw refuse(
        dir,
        `${shardDir}'s run.shard is not a shard's record (index, count, runId, configHash)`,
        'folders written by npm run bench -- --shard i/N',
      );
    if (shard.count! < 1 || shard.count! > MAX_SHARDS)
      throw refuse(
        dir,
        `${join(shardDir, 'summary.json')}: run.shard.count is ${shard.count}`,
        `run.shard.count: a whole number from 1 to ${MAX_SHARDS.toLocaleString('en-US')}, as npm run bench -- --shard i/N writes it`,
      );
    const problem = shardSummaryProblem(summary);
    if (problem)
      throw refuse(
        dir,
        `${join(shardDir, 'summary.json')}: ${problem.field} is ${problem.is}`,
        `${problem.field}: ${problem.allowed}, as npm run bench -- --shard i/N writes it`,
      );
    const samples = join(shardDir, 'samples.jsonl');
    if (!existsSync(samples))
      throw refuse(
        dir,
        `${shardDir} has no samples.jsonl`,
        'each shard folder as the shard wrote it (summary.json with samples.jsonl)',
      );
    if (!statSync(samples).isFile())
      throw refuse(
        dir,
        `${samples} is not a file (a directory?)`,
        'each shard folder as the shard wrote it (summary.json with samples.jsonl, a file)',
      );
    return { index: shard.index!, dir: shardDir, summary };
  });
  const [first] = shards;
  const { count, runId, configHash } = first!.summary.run.shard!;
  for (const shard of shards) {
    const info = shard.summary.run.shard!;
    if (info.runId !== runId)
      throw refuse(dir, `${shard.dir} belongs to run "${info.runId}", not "${runId}"`, 'the shards of one run only');
    if (info.count !== count)
      throw refuse(
        dir,
        `${shard.dir} was one of ${info.count} shards, the others of ${count}`,
        'the shards of one run only',
      );
    if (info.configHash !== configHash)
      throw refuse(
        dir,
        `${shard.dir} ran another configuration (hash ${info.configHash.slice(0, 12)}… against ${configHash.slice(0, 12)}…)`,
        'shards started with the same flags (only --shard differs)',
      );
  }
  const seen = new Map<number, string>();
  for (const shard of shards) {
    if (shard.index < 0 || shard.index >= count)
      throw refuse(
        dir,
        `${shard.dir} claims shard index ${shard.index}, outside 0..${count - 1} of a ${count}-shard run`,
        'the shard folders of one run, as they were written',
      );
    const other = seen.get(shard.index);
    if (other !== undefined)
      throw refuse(dir, `shard ${shard.index} twice (${other} and ${shard.dir})`, 'one folder per shard index');
    seen.set(shard.index, shard.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  const listed =
    missing.length > 20 ? `${missing.slice(0, 20).join(', ')} … (${missing.length} in all)` : missing.join(', ');
  if (missing.length > 0)
    throw refuse(
      dir,
      `shard${missing.length > 1 ? 's' : ''} ${listed} of ${count} missing (a shard that failed to start, or has not finished)`,
      `all ${count} shard folders, or re-run the missing shards with the same flags`,
    );
  const sorted = shards.sort((a, b) => a.index - b.index);
  checkSameScenarios(dir, sorted);
  return sorted;
}

const scenarioKey = (s: ScenarioSummary): string => JSON.stringify([s.name, s.path, s.api, s.stream, s.maxTokens]);

/** Every shard ran the same scenarios (one configuration): a scenario missing from a shard, or only in one, would lose or half-count its samples. */
function checkSameScenarios(dir: string, shards: readonly Shard[]): void {
  const describe = (s: ScenarioSummary): string =>
    `"${s.name}" (path ${s.path}, ${s.api}, stream ${s.stream}, max tokens ${s.maxTokens})`;
  for (const shard of shards) {
    const names = new Set<string>();
    for (const s of shard.summary.scenarios) {
      if (names.has(s.name))
        throw refuse(
          dir,
          `${join(shard.dir, 'summary.json')} lists scenario "${s.name}" twice`,
          'each scenario once, as npm run bench -- --shard i/N writes it',
        );
      names.add(s.name);
    }
  }
  const [first, ...rest] = shards;
  const expected = new Map(first!.summary.scenarios.map((s) => [s.name, s]));
  for (const shard of rest) {
    const here = new Map(shard.summary.scenarios.map((s) => [s.name, s]));
    const fix = `the same scenarios in every shard (shards started with the same flags; ${first!.dir} lists ${expected.size})`;
    for (const [name, s] of here) {
      const want = expected.get(name);
      if (want === undefined)
        throw refuse(
          dir,
          `${join(shard.dir, 'summary.json')} has scenario ${describe(s)}, which ${join(first!.dir, 'summary.json')} lacks`,
          fix,
        );
      if (scenarioKey(want) !== scenarioKey(s))
        throw refuse(
          dir,
          `${join(shard.dir, 'summary.json')} has scenario ${describe(s)}, ${join(first!.dir, 'summary.json')} ${describe(want)}`,
          fix,
        );
    }
    for (const [name, s] of expected)
      if (!here.has(name))
        throw refuse(
          dir,
          `${join(shard.dir, 'summary.json')} lacks scenario ${describe(s)}, which ${join(first!.dir, 'summary.json')} has`,
          fix,
        );
  }
}

/** Each output a merge replaces is absent or a file: a directory (or anything else) of that name is refused before anything is written. */
function checkOutputs(dir: string): void {
  for (const name of MERGE_OUTPUTS) {
    const path = join(dir, name);
    if (existsSync(path) && !statSync(path).isFile())
      throw refuse(
        dir,
        `${path} exists and is not a file (${statSync(path).isDirectory() ? 'a directory' : 'not a regular file'}), and a merge writes it`,
        `${MERGE_OUTPUTS.join(', ')} in DIR absent or files (replaced whole); move it away`,
      );
  }
}

/** One scenario's load results from every shard: counts add, rates add; percentiles of lag are not merged (each shard keeps its own). */
function mergeLoad(loads: ReadonlyArray<ScenarioSummary['load']>): ScenarioLoad | null {
  const present = loads.filter((l): l is NonNullable<ScenarioSummary['load']> => l !== null);
  if (present.length === 0) return null;
  const stoppedBy =
    present.find((l) => l.stoppedBy === 'bailout')?.stoppedBy ??
    present.find((l) => l.stoppedBy === 'aborted')?.stoppedBy ??
    present[0]!.stoppedBy;
  const sum = (pick: (l: (typeof present)[number]) => number | null): number | null =>
    present.every((l) => pick(l) !== null) ? present.reduce((s, l) => s + pick(l)!, 0) : null;
  return {
    stoppedBy,
    schedulerLagMs: null,
    achievedRatePerSec: sum((l) => l.achievedRatePerSec),
    meanInFlight: sum((l) => l.meanInFlight),
  };
}

export interface MergeResult {
  summary: BenchSummary;
  shards: MergedShard[];
}

/**
 * `npm run merge -- DIR`: the shards of one run, as if one machine had run it. Samples are
 * concatenated into DIR/samples.jsonl; the summary is recomputed from them with the same code
 * a single run uses (so percentiles are exact, and intervals and comparisons are those of the
 * union: a round never splits across shards, so pairs stay whole); each metric's HDR
 * histograms are added (never percentiles averaged or maxed), and must count what the samples
 * hold. Refuses, naming what is wrong, missing or duplicate shards, mismatched runs or
 * scenarios, a summary.json of the wrong shape, a samples.jsonl line that is not a sample of
 * the shard's scenarios, and outputs it cannot replace.
 *
 * Writes every output (MERGE_OUTPUTS) itself: all into a temporary folder inside DIR first,
 * then renamed into place, so a refused or failed merge leaves an earlier merge's files
 * byte-identical.
 */
export async function mergeShards(dir: string): Promise<MergeResult> {
  const shards = readShards(dir);
  checkOutputs(dir);
  let staging: string;
  try {
    staging = mkdtempSync(join(dir, '.merging-'));
  } catch (error) {
    throw refuse(
      dir,
      `nothing can be written into it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      'a run folder the merge can write its outputs into',
    );
  }
  try {
    const result = await mergeInto(dir, shards, staging);
    writeSummaryFiles(staging, result.summary);
    const report = await collectReportData(staging);
    writeFileSync(
      join(staging, 'report.html'),
      renderReportPage({ ...report, dir, compliance: readRunCompliance(dir) }),
    );
    checkOutputs(dir);
    for (const name of MERGE_OUTPUTS) renameSync(join(staging, name), join(dir, name));
    return result;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** One line of a shard's samples.jsonl, checked: a sample (a JSON object) of one of the shard's scenarios. */
function readSampleLine(
  dir: string,
  file: string,
  lineNo: number,
  line: string,
  known: { has(name: string): boolean },
): Sample {
  const at = `${file} line ${lineNo}`;
  const fix =
    'samples.jsonl as the shard wrote it (one JSON sample per line); a shard whose samples are damaged is re-run';
  let sample: unknown;
  try {
    sample = JSON.parse(line);
  } catch {
    throw refuse(dir, `${at} is not JSON (${describeValue(line)})`, fix);
  }
  if (sample === null || typeof sample !== 'object' || Array.isArray(sample))
    throw refuse(dir, `${at} holds ${describeValue(sample)}, not a sample`, fix);
  const { scenario } = sample as { scenario?: unknown };
  if (typeof scenario !== 'string')
    throw refuse(dir, `${at}: scenario is ${describeValue(scenario)}, not a scenario name`, fix);
  if (!known.has(scenario))
    throw refuse(dir, `${at} is a sample of scenario "${scenario}", which the shard's summary.json does not list`, fix);
  return sample as Sample;
}

async function mergeInto(dir: string, shards: readonly Shard[], staging: string): Promise<MergeResult> {
  const base = shards[0]!.summary;
  const targets = new Map(base.run.targets.map((t) => [t.label, t]));
  const paths = new Set(base.scenarios.map((s) => s.path)).size;
  const interleaved = (base.run.load as { interleaved?: boolean }).interleaved === true;
  const aggregates = base.scenarios.map((s) => {
    const t = targets.get(s.path);
    const target: Target = {
      label: s.path,
      baseUrl: t?.baseUrl ?? '',
      apiStyle: (t?.apiStyle ?? 'azure') as Target['apiStyle'],
      deployment: t?.deployment ?? '',
      apiVersion: t?.apiVersion ?? '',
      auth: { kind: 'none' },
    };
    const aggregate = new ScenarioAggregate(
      {
        name: s.name,
        api: s.api as ScenarioAggregate['cell']['api'],
        stream: s.stream,
        maxTokens: s.maxTokens,
        target,
      },
      { paths: interleaved ? paths : 1, interleaved },
    );
    aggregate.load = mergeLoad(
      shards.map((shard) => shard.summary.scenarios.find((x) => x.name === s.name)?.load ?? null),
    );
    return aggregate;
  });
  const byName = new Map(aggregates.map((a) => [a.cell.name, a]));

  // Every line is checked as it is copied: a line that is not a sample of the shard's
  // scenarios is refused (never carried into the merged file, never left out of its summary
  // unsaid), and each shard's samples must count what its summary.json counts.
  const out = createWriteStream(join(staging, 'samples.jsonl'), { flags: 'w' });
  try {
    for (const shard of shards) {
      const file = join(shard.dir, 'samples.jsonl');
      const counted = new Map<string, number>();
      const input = createReadStream(file, 'utf8');
      try {
        let lineNo = 0;
        for await (const line of createInterface({ input, crlfDelay: Infinity })) {
          lineNo++;
          if (line.trim() === '') continue;
          const sample = readSampleLine(dir, file, lineNo, line, byName);
          if (!out.write(`${line}\n`)) await once(out, 'drain');
          if (sample.isWarmup) continue;
          counted.set(sample.scenario, (counted.get(sample.scenario) ?? 0) + 1);
          byName.get(sample.scenario)!.add(sample);
        }
      } finally {
        input.destroy();
      }
      for (const s of shard.summary.scenarios) {
        const n = counted.get(s.name) ?? 0;
        if (n !== s.requests)
          throw refuse(
            dir,
            `${file} holds ${n} measured samples of "${s.name}", ${join(shard.dir, 'summary.json')} counts ${s.requests} requests`,
            'shard folders whose samples.jsonl and summary.json belong together',
          );
      }
    }
  } finally {
    out.end();
    if (!out.closed) await once(out, 'close');
  }

  const merged: MergedShard[] = shards.map(({ index, summary }) => ({
    index,
    host: `${summary.run.host.platform}, ${summary.run.host.cpus} × ${summary.run.host.cpuModel}`,
    startLateMs: summary.run.shard!.startLateMs ?? null,
    interrupted: summary.run.interrupted,
    requests: summary.scenarios.reduce((n, s) => n + s.requests, 0),
    errors: summary.scenarios.reduce((n, s) => n + (s.requests - s.ok), 0),
    harness: summary.run.harness ?? null,
  }));
  const { shard: _shard, harness: _harness, ...run } = base.run;
  const summary = buildSummary(
    aggregates,
    {
      ...run,
      startedAt: shards.map((s) => s.summary.run.startedAt).sort()[0]!,
      endedAt: shards
        .map((s) => s.summary.run.endedAt)
        .sort()
        .at(-1)!,
      interrupted: shards.some((s) => s.summary.run.interrupted),
      shards: merged,
    },
    base.run.seed,
  );
  // The exact merge of the shards' histograms, checked against what the samples hold.
  for (const scenario of summary.scenarios) {
    const histograms: Partial<Record<(typeof HISTOGRAM_METRICS)[number], string>> = {};
    for (const metric of HISTOGRAM_METRICS) {
      const parts = shards
        .map((s) => s.summary.scenarios.find((x) => x.name === scenario.name)?.histograms?.[metric])
        .filter((h): h is string => h !== undefined);
      if (parts.length === 0) continue;
      let added;
      try {
        added = addEncodedHistograms(parts);
      } catch (error) {
        throw refuse(
          dir,
          `a shard's ${metric} histogram of ${scenario.name} cannot be read (${(error as Error).message.split('\n')[0]})`,
          'shard folders as the shards wrote them',
        );
      }
      const { encoded, totalCount } = added;
      const expected = byName.get(scenario.name)!.accumulator(metric).summary()?.n ?? 0;
      if (totalCount !== expected)
        throw refuse(
          dir,
          `the shards' ${metric} histograms of ${scenario.name} count ${totalCount} values, their samples ${expected}`,
          'shard folders whose samples.jsonl and summary.json belong together',
        );
      histograms[metric] = encoded;
    }
    scenario.histograms = histograms;
  }
  return { summary, shards: merged };
}
