import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import { join } from 'node:path';
import { createLoadAgent, createRequester, type Requester } from '../client/requester.ts';
import type { Timeline } from '../client/timeline.ts';
import type { BenchOptions } from '../config/bench-options.ts';
import { InvalidOptionError } from '../errors.ts';
import { HarnessMonitor } from '../load/harness-monitor.ts';
import { interleavedSlot } from '../load/interleave.ts';
import { runLoad } from '../load/run-load.ts';
import { toSample } from '../metrics/sample.ts';
import { azureSearchDataSources, deploymentFor } from '../endpoint/build-request.ts';
import { countTokens, loadTokenizer, maxOutputTokens } from '../endpoint/tokens.ts';
import type { Scenario, Target } from '../endpoint/types.ts';
import { checkAuth } from '../endpoint/auth.ts';
import { formatControlHeaders } from '../protocol/index.ts';
import { ScenarioAggregate } from './aggregate.ts';
import { expandMatrix, groupCells, type BenchCell } from './matrix.ts';
import { buildSummary, type BenchSummary, type LabRunInfo, type RunMetadata } from './summary.ts';

export interface BenchProgress {
  cell: number;
  cells: number;
  name: string;
  completed: number;
  planned: number | undefined;
  errors: number;
  ratePerSec: number;
  /** Computed on demand: it sorts every TTFT so far, so only call it when printing. */
  ttftP50Ms: () => number | null;
}

export interface BenchRunInput {
  options: BenchOptions;
  targets: Target[];
  outDir: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  toolVersion: string;
  lab?: LabRunInfo;
  onProgress?: (progress: BenchProgress) => void;
}

export interface BenchRunResult {
  summary: BenchSummary;
  outDir: string;
  interrupted: boolean;
}

const BAILOUT_MIN_REQUESTS = 10;

/**
 * What must be the same on every shard of a run: where requests go, the matrix, the load and
 * its bounds, the seed, timeouts and client. A merge refuses shards whose hashes differ.
 */
export function configHash(options: BenchOptions, targets: readonly Target[]): string {
  // Left out: what differs per shard or does not change what is measured (the prompts file's
  // name: its prompts are in `rest`).
  const {
    shard,
    runId,
    startAt: _startAt,
    out: _out,
    json: _json,
    help: _help,
    workers: _workers,
    promptsFile: _promptsFile,
    ...rest
  } = options;
  const material = {
    ...rest,
    shards: shard?.count ?? 1,
    runId,
    targets: targets.map((t) => ({
      label: t.label,
      baseUrl: t.baseUrl,
      apiStyle: t.apiStyle,
      deployment: t.deployment,
      apiVersion: t.apiVersion,
      completionsDeployment: t.completionsDeployment ?? null,
    })),
  };
  return createHash('sha256').update(JSON.stringify(material)).digest('hex');
}

/** The per-request seed: the same on every path, so request i gets the same answer everywhere. */
export function requestSeed(runSeed: number, index: number): number {
  return (Math.imul(runSeed, 1_000_003) + index) >>> 0;
}

/**
 * Runs the whole matrix. samples.jsonl is written line by line as requests end (under a
 * temporary name until the run ends), so an interrupted run keeps what it measured; the summary comes back (also after an
 * interruption) for the caller to write with src/report's writeRunReports.
 */
export async function runBench(input: BenchRunInput): Promise<BenchRunResult> {
  const { options, signal } = input;
  const groups = groupCells(expandMatrix(options, input.targets), options.interleave);
  const plans = groups.map((cells) => cells.map((cell) => ({ cell, scenarios: scenariosFor(cell, options) })));
  // Before the first request: an encoding loaded mid-run would stall every stream in flight.
  for (const { cell } of plans.flat()) loadTokenizer(deploymentFor(cell.target, cell.api));
  for (const target of input.targets) checkAuth(target.auth, input.env);
  mkdirSync(input.outDir, { recursive: true });
  // Written under a temporary name and renamed when the run ends (also when interrupted): an
  // earlier run in the same folder keeps its samples until this one has its own.
  const samplesFile = join(input.outDir, 'samples.jsonl');
  const samples = createWriteStream(`${samplesFile}.partial`, { flags: 'w' });
  let completed = false;
  const agent = createLoadAgent();
  const monitor = new HarnessMonitor();
  const startedAt = new Date().toISOString();
  const aggregates: ScenarioAggregate[] = [];
  // A sharded run's first scenario starts at the common --start-at on every shard.
  const firstStartNs = options.startAt
    ? process.hrtime.bigint() + BigInt(Math.round((options.startAt.getTime() - Date.now()) * 1e6))
    : undefined;
  const startLateMs = options.startAt ? Math.max(0, Date.now() - options.startAt.getTime()) : null;
  monitor.start();
  try {
    for (const [groupIndex, group] of plans.entries()) {
      if (signal.aborted) break;
      const paths = await Promise.all(
        group.map(async (plan) => ({
          ...plan,
          aggregate: new ScenarioAggregate(plan.cell, { paths: group.length, interleaved: group.length > 1 }),
          requesters: await Promise.all(
            plan.scenarios.map((scenario) =>
              createRequester(scenario, {
                client: options.client,
                timeouts: options.timeouts,
                retry: {
                  policy: options.retry429,
                  maxWaitMs: options.retryMaxWaitMs,
                  maxAttempts: options.retryMaxAttempts,
                },
                headers: options.stamp ? formatControlHeaders({ stamp: true }) : {},
                agent,
                env: input.env,
              }),
            ),
          ),
        })),
      );
      aggregates.push(...paths.map((p) => p.aggregate));
      const load = await runGroup(
        input,
        paths,
        samples,
        monitor,
        groupIndex,
        plans.length,
        groupIndex === 0 ? firstStartNs : undefined,
      );
      for (const p of paths) p.aggregate.load = load;
    }
    completed = true;
  } finally {
    monitor.stop();
    samples.end();
    await once(samples, 'close');
    agent.destroy();
    if (completed) renameSync(`${samplesFile}.partial`, samplesFile);
    else rmSync(`${samplesFile}.partial`, { force: true });
  }
  const run: RunMetadata = {
    tool: { name: 'apim-streaming-lab', version: input.toolVersion },
    startedAt,
    endedAt: new Date().toISOString(),
    interrupted: signal.aborted,
    node: process.version,
    host: {
      platform: `${os.platform()} ${os.release()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
    },
    targets: input.targets.map((t) => ({
      label: t.label,
      baseUrl: t.baseUrl,
      apiStyle: t.apiStyle,
      deployment: t.deployment,
      apiVersion: t.apiVersion,
      auth: t.auth.kind,
    })),
    load: {
      ...options.load,
      requests: options.requests ?? null,
      durationMs: options.durationMs ?? null,
      interleaved: options.interleave && input.targets.length > 1,
    },
    client: options.client,
    seed: options.seed,
    retry429: options.retry429,
    warmup: options.warmup,
    harness: monitor.health(),
    ...(options.shard && options.runId
      ? {
          shard: {
            index: options.shard.index,
            count: options.shard.count,
            runId: options.runId,
            configHash: configHash(options, input.targets),
            startAt: options.startAt?.toISOString() ?? null,
            startLateMs,
          },
        }
      : {}),
    ...(input.lab ? { lab: input.lab } : {}),
  };
  const summary = buildSummary(aggregates, run, options.seed, options.shard !== undefined);
  return { summary, outDir: input.outDir, interrupted: signal.aborted };
}

function scenariosFor(cell: BenchCell, options: BenchOptions): Scenario[] {
  return options.prompts.map((messages) => {
    let maxTokens: number | undefined;
    if (cell.maxTokens === 'max') {
      const deployment = deploymentFor(cell.target, cell.api);
      maxTokens = maxOutputTokens(deployment, messages);
      // Validated here, not in src/config: it depends on the resolved target's deployment.
      if (maxTokens === undefined) {
        throw new InvalidOptionError(
          '--max-tokens',
          `"max" needs a known base model, and deployment "${deployment}" names none`,
          'numbers, or a deployment whose name contains a known model (e.g. my-org-gpt-4o-mini)',
        );
      }
    } else {
      maxTokens = cell.maxTokens;
    }
    const dataSources = cell.api === 'on-your-data' ? azureSearchDataSources(options.search) : undefined;
    return {
      api: cell.api,
      stream: cell.stream,
      maxTokens,
      target: cell.target,
      messages,
      ...(dataSources ? { dataSources } : {}),
    };
  });
}

interface PathRun {
  cell: BenchCell;
  scenarios: readonly Scenario[];
  requesters: readonly Requester[];
  aggregate: ScenarioAggregate;
}

/**
 * Runs one scenario on all its paths as one load: request k of the sequence goes to the path
 * and round `interleavedSlot` gives (the Thue–Morse order for two paths), so the paths share time and drift.
 * Round r carries the same mock seed and prompt on every path; its samples pair up by `index`.
 * With one path (or --no-interleave) this is the plain per-path run.
 */
async function runGroup(
  input: BenchRunInput,
  paths: readonly PathRun[],
  samples: NodeJS.WritableStream,
  monitor: HarnessMonitor,
  groupIndex: number,
  groupCount: number,
  startNs: bigint | undefined,
) {
  const { options } = input;
  const count = paths.length;
  const startedMs = performance.now();
  const scheduleStartNs = startNs ?? process.hrtime.bigint();
  const name =
    count > 1
      ? `${paths[0]!.cell.name.replace(/\/[^/]+$/, '')} (${paths.map((p) => p.cell.target.label).join(' + ')}, interleaved)`
      : paths[0]!.cell.name;
  const scale = (n: number | undefined): number | undefined => (n === undefined ? undefined : n * count);
  return runLoad<Timeline>({
    model: options.load,
    bounds: {
      warmup: options.warmup * count,
      ...(options.requests !== undefined ? { requests: scale(options.requests)! } : {}),
      ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}),
    },
    seed: options.seed,
    startNs: scheduleStartNs,
    roundOf: (k) => interleavedSlot(k, count).round,
    ...(options.shard ? { share: options.shard } : {}),
    signal: input.signal,
    bailout: { errorRatio: options.bailoutErrorRatio, minRequests: BAILOUT_MIN_REQUESTS },
    isError: (tl) => tl.outcome !== 'ok',
    task: (k, intendedNs, signal) => {
      const { round, path } = interleavedSlot(k, count);
      const run = paths[path]!;
      return run.requesters[round % run.requesters.length]!(intendedNs, signal, {
        ...formatControlHeaders({ seed: requestSeed(options.seed, round) }),
        'x-ms-client-request-id': randomUUID(),
      });
    },
    onResult: (tl, k, isWarmup) => {
      const { round, path } = interleavedSlot(k, count);
      const { cell, scenarios, aggregate } = paths[path]!;
      const scenario = scenarios[round % scenarios.length]!;
      const endNs = tl.intendedNs + BigInt(Math.round((tl.endMs ?? 0) * 1e6));
      const sample = toSample(tl, {
        scenario: cell.name,
        path: cell.target.label,
        maxTokens: scenario.maxTokens,
        index: round,
        sequence: k,
        intendedMs: Number(tl.intendedNs - scheduleStartNs) / 1e6,
        isWarmup,
        harnessStalled: monitor.markSample(tl.intendedNs, endNs),
        countTokens: (text) => countTokens(deploymentFor(cell.target, cell.api), text),
      });
      samples.write(`${JSON.stringify(sample)}\n`);
      if (isWarmup) return;
      aggregate.add(sample);
      const completed = paths.reduce((sum, p) => sum + p.aggregate.requests, 0);
      input.onProgress?.({
        cell: groupIndex + 1,
        cells: groupCount,
        name,
        completed,
        planned: scale(options.requests),
        errors: paths.reduce((sum, p) => sum + p.aggregate.requests - p.aggregate.ok, 0),
        ratePerSec: completed / ((performance.now() - startedMs) / 1000),
        ttftP50Ms: () => paths[0]!.aggregate.ttft.summary()?.p50 ?? null,
      });
    },
  });
}
