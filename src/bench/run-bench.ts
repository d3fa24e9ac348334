import { randomUUID } from 'node:crypto';
import { createWriteStream, mkdirSync } from 'node:fs';
import { once } from 'node:events';
import os from 'node:os';
import { join } from 'node:path';
import { createLoadAgent, createRequester, type Requester } from '../client/requester.ts';
import type { Timeline } from '../client/timeline.ts';
import type { BenchOptions } from '../config/bench-options.ts';
import { InvalidOptionError } from '../errors.ts';
import { runLoad } from '../load/run-load.ts';
import { toSample } from '../metrics/sample.ts';
import { azureSearchDataSources, deploymentFor } from '../endpoint/build-request.ts';
import { countTokens, maxOutputTokens } from '../endpoint/tokens.ts';
import type { Scenario, Target } from '../endpoint/types.ts';
import { formatControlHeaders } from '../protocol/index.ts';
import { ScenarioAggregate } from './aggregate.ts';
import { expandMatrix, type BenchCell } from './matrix.ts';
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

/** The per-request seed: the same on every path, so request i gets the same answer everywhere. */
export function requestSeed(runSeed: number, index: number): number {
  return (Math.imul(runSeed, 1_000_003) + index) >>> 0;
}

/**
 * Runs the whole matrix. samples.jsonl is written line by line as requests end, so an
 * interrupted run keeps what it measured; the summary comes back (also after an
 * interruption) for the caller to write with src/report's writeRunReports.
 */
export async function runBench(input: BenchRunInput): Promise<BenchRunResult> {
  const { options, signal } = input;
  const cells = expandMatrix(options, input.targets);
  const plans = cells.map((cell) => ({ cell, scenarios: scenariosFor(cell, options) }));
  mkdirSync(input.outDir, { recursive: true });
  const samples = createWriteStream(join(input.outDir, 'samples.jsonl'), { flags: 'w' });
  const agent = createLoadAgent();
  const startedAt = new Date().toISOString();
  const aggregates: ScenarioAggregate[] = [];
  try {
    for (const [cellIndex, plan] of plans.entries()) {
      if (signal.aborted) break;
      const requesters = await Promise.all(
        plan.scenarios.map((scenario) =>
          createRequester(scenario, {
            client: options.client,
            timeouts: options.timeouts,
            retry: { policy: options.retry429, maxWaitMs: options.retryMaxWaitMs, maxAttempts: 5 },
            headers: options.stamp ? formatControlHeaders({ stamp: true }) : {},
            agent,
            env: input.env,
          }),
        ),
      );
      const aggregate = new ScenarioAggregate(plan.cell);
      aggregates.push(aggregate);
      aggregate.load = await runCell(input, plan.cell, plan.scenarios, requesters, aggregate, samples, cellIndex, cells.length);
    }
  } finally {
    samples.end();
    await once(samples, 'close');
    agent.destroy();
  }
  const run: RunMetadata = {
    tool: { name: 'apim-streaming-lab', version: input.toolVersion },
    startedAt,
    endedAt: new Date().toISOString(),
    interrupted: signal.aborted,
    node: process.version,
    host: { platform: `${os.platform()} ${os.release()}`, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown' },
    targets: input.targets.map((t) => ({ label: t.label, baseUrl: t.baseUrl, apiStyle: t.apiStyle, deployment: t.deployment, apiVersion: t.apiVersion, auth: t.auth.kind })),
    load: { ...options.load, requests: options.requests ?? null, durationMs: options.durationMs ?? null },
    client: options.client,
    seed: options.seed,
    retry429: options.retry429,
    warmup: options.warmup,
    ...(input.lab ? { lab: input.lab } : {}),
  };
  const summary = buildSummary(aggregates, run, options.seed);
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
        throw new InvalidOptionError('--max-tokens', `"max" needs a known base model, and deployment "${deployment}" names none`, 'numbers, or a deployment whose name contains a known model (e.g. my-org-gpt-4o-mini)');
      }
    } else {
      maxTokens = cell.maxTokens;
    }
    const dataSources = cell.api === 'on-your-data' ? azureSearchDataSources(options.search) : undefined;
    return { api: cell.api, stream: cell.stream, maxTokens, target: cell.target, messages, ...(dataSources ? { dataSources } : {}) };
  });
}

async function runCell(
  input: BenchRunInput,
  cell: BenchCell,
  scenarios: readonly Scenario[],
  requesters: readonly Requester[],
  aggregate: ScenarioAggregate,
  samples: NodeJS.WritableStream,
  cellIndex: number,
  cellCount: number,
) {
  const { options } = input;
  const startedMs = performance.now();
  return runLoad<Timeline>({
    model: options.load,
    bounds: { warmup: options.warmup, ...(options.requests !== undefined ? { requests: options.requests } : {}), ...(options.durationMs !== undefined ? { durationMs: options.durationMs } : {}) },
    seed: options.seed,
    signal: input.signal,
    bailout: { errorRatio: options.bailoutErrorRatio, minRequests: BAILOUT_MIN_REQUESTS },
    isError: (tl) => tl.outcome !== 'ok',
    task: (index, intendedNs, signal) =>
      requesters[index % requesters.length]!(intendedNs, signal, {
        ...formatControlHeaders({ seed: requestSeed(options.seed, index) }),
        'x-ms-client-request-id': randomUUID(),
      }),
    onResult: (tl, index, isWarmup) => {
      const scenario = scenarios[index % scenarios.length]!;
      const sample = toSample(tl, {
        scenario: cell.name,
        path: cell.target.label,
        maxTokens: scenario.maxTokens,
        index,
        isWarmup,
        countTokens: (text) => countTokens(deploymentFor(cell.target, cell.api), text),
      });
      samples.write(`${JSON.stringify(sample)}\n`);
      if (isWarmup) return;
      aggregate.add(sample);
      input.onProgress?.({
        cell: cellIndex + 1,
        cells: cellCount,
        name: cell.name,
        completed: aggregate.requests,
        planned: options.requests,
        errors: aggregate.requests - aggregate.ok,
        ratePerSec: aggregate.requests / ((performance.now() - startedMs) / 1000),
        ttftP50Ms: () => aggregate.ttft.summary()?.p50 ?? null,
      });
    },
  });
}
