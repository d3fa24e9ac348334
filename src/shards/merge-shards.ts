import { createReadStream, createWriteStream, existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { HISTOGRAM_METRICS, ScenarioAggregate, type ScenarioLoad, type ScenarioSummary } from '../bench/aggregate.ts';
import { buildSummary, type BenchSummary, type MergedShard } from '../bench/summary.ts';
import type { Target } from '../endpoint/types.ts';
import { InvalidOptionError } from '../errors.ts';
import { addEncodedHistograms } from '../metrics/stats.ts';
import { forEachSample, readRunSummary } from '../report/read-run.ts';

const SHARD_DIR = /^shard-(\d+)$/;

const refuse = (dir: string, reason: string, fix: string): InvalidOptionError => new InvalidOptionError('DIR', `"${dir}": ${reason}`, fix);

/** The shards of a run directory, checked: all present once, one run, one configuration. */
function readShards(dir: string): Array<{ index: number; dir: string; summary: BenchSummary }> {
  if (!existsSync(dir)) throw refuse(dir, 'no such directory', 'the OUT/<run-id> folder the shards wrote into');
  if (!statSync(dir).isDirectory()) throw refuse(dir, 'it is a file, not a directory', 'the OUT/<run-id> folder the shards wrote into');
  const found = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && SHARD_DIR.test(d.name))
    .map((d) => ({ dir: join(dir, d.name), summary: readRunSummary(join(dir, d.name)) }));
  if (found.length === 0) throw refuse(dir, 'it holds no shard-<i> folder', 'the OUT/<run-id> folder the shards wrote into');
  const shards = found.map(({ dir: shardDir, summary }) => {
    const shard = summary.run.shard as Partial<NonNullable<BenchSummary['run']['shard']>> | undefined;
    if (!shard || typeof shard !== 'object') throw refuse(dir, `${shardDir} is not a shard (its summary.json has no run.shard)`, 'folders written by npm run bench -- --shard i/N');
    if (!Number.isInteger(shard.index) || !Number.isInteger(shard.count) || typeof shard.runId !== 'string' || typeof shard.configHash !== 'string') throw refuse(dir, `${shardDir}'s run.shard is not a shard's record (index, count, runId, configHash)`, 'folders written by npm run bench -- --shard i/N');
    if (!existsSync(join(shardDir, 'samples.jsonl'))) throw refuse(dir, `${shardDir} has no samples.jsonl`, 'each shard folder as the shard wrote it (summary.json with samples.jsonl)');
    return { index: shard.index!, dir: shardDir, summary };
  });
  const [first] = shards;
  const { count, runId, configHash } = first!.summary.run.shard!;
  for (const shard of shards) {
    const info = shard.summary.run.shard!;
    if (info.runId !== runId) throw refuse(dir, `${shard.dir} belongs to run "${info.runId}", not "${runId}"`, 'the shards of one run only');
    if (info.count !== count) throw refuse(dir, `${shard.dir} was one of ${info.count} shards, the others of ${count}`, 'the shards of one run only');
    if (info.configHash !== configHash) throw refuse(dir, `${shard.dir} ran another configuration (hash ${info.configHash.slice(0, 12)}… against ${configHash.slice(0, 12)}…)`, 'shards started with the same flags (only --shard differs)');
  }
  const seen = new Map<number, string>();
  for (const shard of shards) {
    if (shard.index < 0 || shard.index >= count) throw refuse(dir, `${shard.dir} claims shard index ${shard.index}, outside 0..${count - 1} of a ${count}-shard run`, 'the shard folders of one run, as they were written');
    const other = seen.get(shard.index);
    if (other !== undefined) throw refuse(dir, `shard ${shard.index} twice (${other} and ${shard.dir})`, 'one folder per shard index');
    seen.set(shard.index, shard.dir);
  }
  const missing = Array.from({ length: count }, (_, i) => i).filter((i) => !seen.has(i));
  if (missing.length > 0) throw refuse(dir, `shard${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${count} missing (a shard that failed to start, or has not finished)`, `all ${count} shard folders, or re-run the missing shards with the same flags`);
  return shards.sort((a, b) => a.index - b.index);
}

/** One scenario's load results from every shard: counts add, rates add; percentiles of lag are not merged (each shard keeps its own). */
function mergeLoad(loads: ReadonlyArray<ScenarioSummary['load']>): ScenarioLoad | null {
  const present = loads.filter((l): l is NonNullable<ScenarioSummary['load']> => l !== null);
  if (present.length === 0) return null;
  const stoppedBy = present.find((l) => l.stoppedBy === 'bailout')?.stoppedBy ?? present.find((l) => l.stoppedBy === 'aborted')?.stoppedBy ?? present[0]!.stoppedBy;
  const sum = (pick: (l: (typeof present)[number]) => number | null): number | null => (present.every((l) => pick(l) !== null) ? present.reduce((s, l) => s + pick(l)!, 0) : null);
  return { stoppedBy, schedulerLagMs: null, achievedRatePerSec: sum((l) => l.achievedRatePerSec), meanInFlight: sum((l) => l.meanInFlight) };
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
 * hold. Refuses, naming what is wrong, missing or duplicate shards and mismatched runs.
 */
export async function mergeShards(dir: string): Promise<MergeResult> {
  const shards = readShards(dir);
  // The merged samples go under a temporary name, and take their place only once everything
  // checked out: a refused merge leaves an earlier merge's files as they were.
  const pending = `.samples.jsonl.${process.pid}.merging`;
  try {
    const result = await mergeInto(dir, shards, pending);
    renameSync(join(dir, pending), join(dir, 'samples.jsonl'));
    return result;
  } finally {
    rmSync(join(dir, pending), { force: true });
  }
}

async function mergeInto(dir: string, shards: ReturnType<typeof readShards>, pending: string): Promise<MergeResult> {
  const out = createWriteStream(join(dir, pending), { flags: 'w' });
  for (const shard of shards) {
    const lines = createInterface({ input: createReadStream(join(shard.dir, 'samples.jsonl'), 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) if (line.trim() !== '' && !out.write(`${line}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');

  const base = shards[0]!.summary;
  const targets = new Map(base.run.targets.map((t) => [t.label, t]));
  const paths = new Set(base.scenarios.map((s) => s.path)).size;
  const interleaved = (base.run.load as { interleaved?: boolean }).interleaved === true;
  const aggregates = base.scenarios.map((s) => {
    const t = targets.get(s.path);
    const target: Target = { label: s.path, baseUrl: t?.baseUrl ?? '', apiStyle: (t?.apiStyle ?? 'azure') as Target['apiStyle'], deployment: t?.deployment ?? '', apiVersion: t?.apiVersion ?? '', auth: { kind: 'none' } };
    const aggregate = new ScenarioAggregate({ name: s.name, api: s.api as ScenarioAggregate['cell']['api'], stream: s.stream, maxTokens: s.maxTokens, target }, { paths: interleaved ? paths : 1, interleaved });
    aggregate.load = mergeLoad(shards.map((shard) => shard.summary.scenarios.find((x) => x.name === s.name)?.load ?? null));
    return aggregate;
  });
  const byName = new Map(aggregates.map((a) => [a.cell.name, a]));
  await forEachSample(dir, (sample) => byName.get(sample.scenario)?.add(sample), pending);

  const merged: MergedShard[] = shards.map(({ index, summary }) => ({
    index,
    host: `${summary.run.host.platform}, ${summary.run.host.cpus} × ${summary.run.host.cpuModel}`,
    startLateMs: summary.run.shard!.startLateMs,
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
      endedAt: shards.map((s) => s.summary.run.endedAt).sort().at(-1)!,
      interrupted: shards.some((s) => s.summary.run.interrupted),
      shards: merged,
    },
    base.run.seed,
  );
  // The exact merge of the shards' histograms, checked against what the samples hold.
  for (const scenario of summary.scenarios) {
    const histograms: Partial<Record<(typeof HISTOGRAM_METRICS)[number], string>> = {};
    for (const metric of HISTOGRAM_METRICS) {
      const parts = shards.map((s) => s.summary.scenarios.find((x) => x.name === scenario.name)?.histograms?.[metric]).filter((h): h is string => h !== undefined);
      if (parts.length === 0) continue;
      let added;
      try {
        added = addEncodedHistograms(parts);
      } catch (error) {
        throw refuse(dir, `a shard's ${metric} histogram of ${scenario.name} cannot be read (${(error as Error).message.split('\n')[0]})`, 'shard folders as the shards wrote them');
      }
      const { encoded, totalCount } = added;
      const expected = byName.get(scenario.name)!.accumulator(metric).summary()?.n ?? 0;
      if (totalCount !== expected) throw refuse(dir, `the shards' ${metric} histograms of ${scenario.name} count ${totalCount} values, their samples ${expected}`, 'shard folders whose samples.jsonl and summary.json belong together');
      histograms[metric] = encoded;
    }
    scenario.histograms = histograms;
  }
  return { summary, shards: merged };
}
