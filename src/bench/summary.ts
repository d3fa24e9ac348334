import type { LabTarget } from '../config/lab-options.ts';
import { LabError } from '../errors.ts';
import type { HarnessHealth } from '../load/harness-monitor.ts';
import {
  blockRoundsFor,
  pairedShift,
  pairsForHalfWidth,
  shiftVerdict,
  type PairedShift,
  type ShiftVerdict,
} from '../metrics/paired-shift.ts';
import { counterbalancePeriod } from '../load/interleave.ts';
import type { ScenarioAggregate, ScenarioSummary } from './aggregate.ts';

export const SUMMARY_SCHEMA_VERSION = 1;

/** Streaming against waiting for the whole answer, per API, output cap and path. */
export interface StreamComparison {
  kind: 'stream-vs-non-stream';
  api: string;
  maxTokens: number | 'max';
  path: string;
  streamTtftP50Ms: number;
  streamE2eP50Ms: number;
  nonStreamE2eP50Ms: number;
  /** How many times sooner a user sees text: non-stream E2E p50 / stream TTFT p50. */
  soonerFactor: number;
  /** Median output tokens of the streamed answers. */
  outputTokensP50: number | null;
}

/**
 * What a path adds over another, from requests paired round by round. The paths of a run are
 * a chain from the model outward (`direct` first, then each hop in run order: gateway, edge,
 * …): each hop is compared with the path just inside it (`hop: 'hop'`), and with three paths
 * or more the outermost also with the innermost (`hop: 'end-to-end'`).
 */
export interface PathComparison {
  kind: 'path-overhead';
  api: string;
  stream: boolean;
  maxTokens: number | 'max';
  /** The path just inside `path` (a hop), or the innermost (end to end). */
  baseline: string;
  path: string;
  /** `hop`: `path` over the path just inside it; `end-to-end`: the outermost path over the innermost. Absent in runs written before chains. */
  hop?: 'hop' | 'end-to-end';
  /**
   * `deliveryMs` (runs with --stamp): each stream's median per-frame delivery delay (arrival
   * minus the upstream's emission stamp), so the shift is what the hop adds to every frame.
   */
  metric: 'ttftMs' | 'e2eMs' | 'deliveryMs';
  /**
   * The shift path − baseline: the Hodges–Lehmann estimate over blocks of paired rounds, with
   * its Wilcoxon signed-rank 95% interval (docs/decisions/0006). `pairs` = rounds with both.
   */
  medianDifferenceMs: PairedShift;
  /** How the words follow the interval: no measurable difference, adds, or a suspect negative. */
  verdict: ShiftVerdict;
  /** Requests per path that would narrow the interval to ±1 ms at the spread observed. */
  pairsForOneMs: number;
  /** Whether the paths ran interleaved in time (false: one after the other, open to drift). */
  interleaved: boolean;
}

export type Comparison = StreamComparison | PathComparison;

export interface RunMetadata {
  tool: { name: string; version: string };
  startedAt: string;
  endedAt: string;
  interrupted: boolean;
  node: string;
  host: { platform: string; cpus: number; cpuModel: string };
  targets: Array<{
    label: string;
    baseUrl: string;
    apiStyle: string;
    deployment: string;
    apiVersion: string;
    auth: string;
  }>;
  load: unknown;
  client: string;
  seed: number;
  retry429: string;
  warmup: number;
  /** The load generator's own event-loop delay, and the samples taken while it stalled. */
  harness?: HarnessHealth;
  /** A shard of a sharded run (`--shard i/N`): which one, and how it lined up with the others. */
  shard?: ShardInfo;
  /** A merged run (`npm run merge`): every shard, its start and whether it ended cleanly. */
  shards?: MergedShard[];
  /** The lab the paths came from (absent for a bare --endpoint): which gateway policy was measured. */
  lab?: LabRunInfo;
}

export interface ShardInfo {
  index: number;
  count: number;
  runId: string;
  /** sha256 of everything that must match across shards (targets, matrix, load, seed, timeouts, client…). */
  configHash: string;
  /** The common start (`--start-at`), ISO; null when none was given. */
  startAt: string | null;
  /** How late this shard began against `startAt`, ms (0 when it was early and waited). */
  startLateMs: number | null;
}

export interface MergedShard {
  index: number;
  host: string;
  startLateMs: number | null;
  interrupted: boolean;
  requests: number;
  errors: number;
  harness: HarnessHealth | null;
}

export interface LabRunInfo {
  target: LabTarget;
  labId: string | null;
  policyFile: string | null;
}

export interface BenchSummary {
  schemaVersion: typeof SUMMARY_SCHEMA_VERSION;
  run: RunMetadata;
  scenarios: ScenarioSummary[];
  comparisons: Comparison[];
}

/** Builds summary.json from the scenarios' aggregates. */
export function buildSummary(
  aggregates: readonly ScenarioAggregate[],
  run: RunMetadata,
  seed: number,
  withHistograms = false,
): BenchSummary {
  const scenarios = aggregates.map((a) => a.summary(seed, withHistograms));
  return {
    schemaVersion: SUMMARY_SCHEMA_VERSION,
    run,
    scenarios,
    comparisons: [...streamComparisons(scenarios), ...pathComparisons(aggregates)],
  };
}

function streamComparisons(scenarios: readonly ScenarioSummary[]): StreamComparison[] {
  const out: StreamComparison[] = [];
  for (const streamed of scenarios.filter((s) => s.stream)) {
    const whole = scenarios.find(
      (s) => !s.stream && s.api === streamed.api && s.maxTokens === streamed.maxTokens && s.path === streamed.path,
    );
    if (!whole?.e2eMs || !streamed.ttftMs || !streamed.e2eMs) continue;
    out.push({
      kind: 'stream-vs-non-stream',
      api: streamed.api,
      maxTokens: streamed.maxTokens,
      path: streamed.path,
      streamTtftP50Ms: streamed.ttftMs.p50,
      streamE2eP50Ms: streamed.e2eMs.p50,
      nonStreamE2eP50Ms: whole.e2eMs.p50,
      soonerFactor: Math.round((whole.e2eMs.p50 / streamed.ttftMs.p50) * 100) / 100,
      outputTokensP50: streamed.outputTokens?.p50 ?? null,
    });
  }
  return out;
}

/** The first path in run order is the baseline (`direct` when the lab has one). */
/** The run's paths as a chain from the model outward: `direct` first, then the others in run order. */
export function chainOf(labels: readonly string[]): string[] {
  const paths = [...new Set(labels)];
  return paths.includes('direct') ? ['direct', ...paths.filter((p) => p !== 'direct')] : paths;
}

function pathComparisons(aggregates: readonly ScenarioAggregate[]): PathComparison[] {
  const out: PathComparison[] = [];
  const chain = chainOf(aggregates.map((a) => a.cell.target.label));
  const pairsToCompare: Array<{ baseline: string; path: string; hop: 'hop' | 'end-to-end' }> = chain
    .slice(1)
    .map((path, i) => ({ baseline: chain[i]!, path, hop: 'hop' }));
  if (chain.length >= 3) pairsToCompare.push({ baseline: chain[0]!, path: chain.at(-1)!, hop: 'end-to-end' });
  for (const { baseline, path, hop } of pairsToCompare) {
    for (const other of aggregates.filter((a) => a.cell.target.label === path)) {
      const base = aggregates.find(
        (a) =>
          a.cell.target.label === baseline &&
          a.cell.api === other.cell.api &&
          a.cell.stream === other.cell.stream &&
          a.cell.maxTokens === other.cell.maxTokens,
      );
      if (!base) continue;
      const { paths: together, interleaved } = other.pairing;
      // Rounds in flight at once share their moment: they form one block (whole counterbalancing periods).
      const blockRounds = blockRoundsFor(other.load?.meanInFlight ?? 1, together, counterbalancePeriod(together));
      for (const metric of ['ttftMs', 'e2eMs', 'deliveryMs'] as const) {
        const byIndex = (aggregate: ScenarioAggregate) =>
          metric === 'ttftMs'
            ? aggregate.ttftByIndex
            : metric === 'e2eMs'
              ? aggregate.e2eByIndex
              : aggregate.deliveryByIndex;
        const [a, b] = [byIndex(base), byIndex(other)];
        const { differences, firstRound } = roundDifferences(a, b);
        const shift = pairedShift(differences, blockRounds, 0.95, firstRound);
        if (!shift) continue;
        out.push({
          kind: 'path-overhead',
          api: other.cell.api,
          stream: other.cell.stream,
          maxTokens: other.cell.maxTokens,
          baseline,
          path,
          hop,
          metric,
          medianDifferenceMs: shift,
          verdict: shiftVerdict(shift),
          pairsForOneMs: pairsForHalfWidth(shift),
          interleaved,
        });
      }
    }
  }
  return out;
}

/** b − a for every round from the first to the last either path has (undefined where either has no value), and the first round's number. */
function roundDifferences(
  a: ReadonlyMap<number, number>,
  b: ReadonlyMap<number, number>,
): { differences: Array<number | undefined>; firstRound: number } {
  if (a.size === 0 && b.size === 0) return { differences: [], firstRound: 0 };
  let firstRound = Infinity;
  let lastRound = -Infinity;
  for (const map of [a, b]) {
    for (const round of map.keys()) {
      if (round < firstRound) firstRound = round;
      if (round > lastRound) lastRound = round;
    }
  }
  const differences = Array.from({ length: lastRound - firstRound + 1 }, (_, i) => {
    const valueA = a.get(firstRound + i);
    const valueB = b.get(firstRound + i);
    return valueA !== undefined && valueB !== undefined ? valueB - valueA : undefined;
  });
  return { differences, firstRound };
}

type ScenarioMatch = Partial<Pick<ScenarioSummary, 'api' | 'stream' | 'maxTokens' | 'path'>>;

/** The first scenario matching every given field, with successful requests; an error naming what is missing otherwise. */
export function findScenario(summary: BenchSummary, match: ScenarioMatch): ScenarioSummary {
  const found = summary.scenarios.find((s) =>
    (Object.keys(match) as Array<keyof ScenarioMatch>).every((key) => s[key] === match[key]),
  );
  if (!found)
    throw new LabError(
      'E_LAB_RESULT',
      `Failed to find scenario ${JSON.stringify(match)}: the run measured ${summary.scenarios.map((s) => s.name).join(', ') || 'no scenario'}. Check the lab's bench flags.`,
    );
  if (!found.ttftMs || !found.e2eMs)
    throw new LabError(
      'E_LAB_RESULT',
      `Failed to read scenario "${found.name}": no request succeeded (${JSON.stringify(found.errors)}). See its samples.jsonl for the errors.`,
    );
  return found;
}
