import { join } from 'node:path';
import type { BenchSummary } from '../bench/summary.ts';
import type { RunAcaOptions } from '../config/scale-options.ts';
import { LabError } from '../errors.ts';
import { mergeShards } from '../shards/merge-shards.ts';
import type { ArmConnection } from '../../infra/arm-context.ts';
import { describeArmFailure } from '../../infra/arm-errors.ts';
import { planAcaRun, sameAcaRun, type AcaPlanInput, type AcaRunRecord } from '../../infra/aca-plan.ts';
import {
  AcaRefusedError,
  acaContext,
  downloadShards,
  preflightAca,
  provisionAca,
  startShards,
  teardownAca,
  waitForShards,
  type AcaContext,
} from '../../infra/aca.ts';
import { PreflightError } from '../../infra/preflight.ts';
import { readLabState, removeLabState, writeLabState, type LabState } from './state.ts';

export interface AcaRunInput {
  options: RunAcaOptions;
  env: NodeJS.ProcessEnv;
  connect(subscriptionId: string): Promise<ArmConnection>;
  signal?: AbortSignal;
  /** Progress, one line per change (stderr). */
  onLine(line: string): void;
  /** How often executions are polled (default 10 s; tests make it short). */
  pollMs?: number;
}

export type AcaRunOutcome =
  | { kind: 'merged'; dir: string; summary: BenchSummary; tornDown: boolean; shards: number }
  | { kind: 'failed-shards'; dir: string; failed: Array<{ shard: number; execution: string; status: string }> }
  | { kind: 'interrupted'; dir: string };

/**
 * The state file's `scale` record, read and written beside whatever lab the file holds (a
 * record an older release wrote under `dist` is read as `scale`, and written back as `scale`).
 */
function saveScale(stateFile: string, record: AcaRunRecord | undefined): void {
  const state = readLabState(stateFile);
  if (record === undefined) {
    if (state === undefined) return;
    delete state.scale;
    // A state that held only the scale run goes with it.
    if (Object.keys(state.paths).length === 0 && state.azure === undefined && (state.processes ?? []).length === 0)
      removeLabState(stateFile);
    else writeLabState(stateFile, state);
    return;
  }
  const next: LabState = state ?? { schemaVersion: 1, target: 'azure', deployment: '', apiVersion: '', paths: {} };
  next.scale = record;
  writeLabState(stateFile, next);
}

function planInputOf(options: RunAcaOptions): AcaPlanInput {
  const { subscriptionId, runId, shards, image, benchArgs, keyEnv, cpu, memory, replicaTimeoutS, regions, registry } =
    options;
  return { subscriptionId, runId, shards, image, benchArgs, keyEnv, cpu, memory, replicaTimeoutS, regions, registry };
}

/**
 * `npm run scale -- run aca`: provisions (or reuses) one Container Apps environment per region
 * with an Azure Files share and a manual job, starts one execution per shard with its
 * SHARD_INDEX, waits, downloads the shard folders, merges them exactly, and tears down what it
 * created. A shard that fails leaves everything in place: the same command re-runs only the
 * failed shards, then merges. Every step is recorded in the state file (`scale`).
 */
export async function runAca(input: AcaRunInput): Promise<AcaRunOutcome> {
  const { options } = input;
  const existing = readLabState(options.stateFile)?.scale;
  if (existing !== undefined) {
    const problem = sameAcaRun(existing, planInputOf(options));
    if (problem !== undefined)
      throw new LabError(
        'E_LAB_STATE',
        `Failed to run "aca": ${options.stateFile} ${problem}. Finish that run with its own flags, or tear it down with npm run scale -- cleanup aca.`,
      );
    input.onLine(
      `continuing run ${existing.runId} (${existing.distId}): ${existing.done.length} provisioning step(s) done, ${Object.values(existing.executions).filter((e) => e.status === 'Succeeded').length} of ${existing.shards} shards succeeded`,
    );
  }
  const record = existing ?? planAcaRun(planInputOf(options));
  const context = acaContext(
    await input.connect(record.subscriptionId),
    record,
    () => saveScale(options.stateFile, record),
    input.onLine,
    input.signal,
  );
  const dir = join(options.out, record.runId);
  try {
    if (existing === undefined) await preflightAca(context);
    context.persist();
    const secretEnv = [...record.keyEnv, ...(record.registry ? [record.registry.passwordEnv] : [])];
    const secrets = Object.fromEntries(secretEnv.map((name) => [name, input.env[name] ?? '']));
    await provisionAca(context);
    const startAt = new Date(Date.now() + options.startDelayMs);
    const started = await startShards(context, startAt, secrets);
    if (started.length > 0) input.onLine(`${started.length} shard(s) start together at ${startAt.toISOString()}`);
    const begun = performance.now();
    await waitForShards(context, input.pollMs ?? 10_000, (shard, execution) =>
      input.onLine(
        `shard ${shard} (${execution.region}, ${execution.name}): ${execution.status} after ${Math.round((performance.now() - begun) / 1000)} s`,
      ),
    );
  } catch (error) {
    if (input.signal?.aborted) return { kind: 'interrupted', dir };
    throw wrapAzure(error);
  }
  input.onLine(`downloading shard folders into ${dir}/`);
  await downloadShards(context, dir);
  const failed = Object.entries(record.executions)
    .filter(([, e]) => e.status !== 'Succeeded')
    .map(([shard, e]) => ({ shard: Number(shard), execution: e.name, status: e.status }));
  if (failed.length > 0) return { kind: 'failed-shards', dir, failed };
  const { summary, shards } = await mergeShards(dir);
  if (options.keep) return { kind: 'merged', dir, summary, tornDown: false, shards: shards.length };
  await teardown(context);
  saveScale(options.stateFile, undefined);
  return { kind: 'merged', dir, summary, tornDown: true, shards: shards.length };
}

async function teardown(context: AcaContext): Promise<string> {
  try {
    const outcome = await teardownAca(context);
    const line =
      outcome.kind === 'deleted'
        ? `deleted resource group ${context.record.resourceGroup} (environments, jobs, storage)`
        : `resource group ${context.record.resourceGroup} is already gone`;
    context.onStep(line);
    return line;
  } catch (error) {
    throw wrapAzure(error);
  }
}

/** `npm run scale -- cleanup aca` (and lab:cleanup when the state holds a scale run): tag-checked, idempotent. */
export async function cleanupAca(
  stateFile: string,
  connect: (subscriptionId: string) => Promise<ArmConnection>,
  onLine: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ kind: 'nothing' } | { kind: 'cleaned'; line: string }> {
  const record = readLabState(stateFile)?.scale;
  if (record === undefined) return { kind: 'nothing' };
  const context = acaContext(
    await connect(record.subscriptionId),
    record,
    () => saveScale(stateFile, record),
    onLine,
    signal,
  );
  const line = await teardown(context);
  saveScale(stateFile, undefined);
  return { kind: 'cleaned', line };
}

function wrapAzure(error: unknown): unknown {
  if (error instanceof LabError) return error;
  if (error instanceof PreflightError || error instanceof AcaRefusedError)
    return new LabError('E_AZURE', error.message);
  return new LabError(
    'E_AZURE',
    `Failed on Azure: ${describeArmFailure(error)} What finished is recorded; run the same command again to continue.`,
  );
}
