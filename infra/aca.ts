import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Container, Job } from '@azure/arm-appcontainers';
import { ShareServiceClient, StorageSharedKeyCredential, type ShareDirectoryClient } from '@azure/storage-file-share';
import { createArmClients, type ArmClients, type ArmConnection } from './arm-context.ts';
import { describeArmFailure, ifFound } from './arm-errors.ts';
import {
  DIST_TAG,
  jobOfShard,
  regionOfShard,
  RESULTS_SHARE,
  type AcaExecution,
  type AcaExecutionStatus,
  type AcaRegion,
  type AcaRunRecord,
} from './aca-plan.ts';
import { checkCredential, ensureProviderRegistered, PreflightError } from './preflight.ts';

/** Where every shard's volume is mounted: shards write RESULTS/<run-id>/shard-<i>/ (as on Kubernetes). */
export const ACA_RESULTS_DIR = '/results';
const CONTAINER = 'bench';
const PROVIDERS = ['Microsoft.App', 'Microsoft.Storage'] as const;
const FINAL: readonly AcaExecutionStatus[] = ['Succeeded', 'Failed', 'Stopped', 'Degraded'];

export interface AcaContext {
  clients: ArmClients;
  connection: ArmConnection;
  record: AcaRunRecord;
  /** Writes the record (after each step) into the state file. */
  persist(): void;
  onStep(line: string): void;
  signal: AbortSignal | undefined;
}

export function acaContext(
  connection: ArmConnection,
  record: AcaRunRecord,
  persist: () => void,
  onStep: (line: string) => void,
  signal?: AbortSignal,
): AcaContext {
  return { clients: createArmClients(connection, signal), connection, record, persist, onStep, signal };
}

const tags = (record: AcaRunRecord): Record<string, string> => ({
  [DIST_TAG]: record.distId,
  'streamlab-run-id': record.runId,
});
/** A Container Apps secret name for a key variable: lower case, digits and dashes. */
export const secretNameOf = (envName: string): string => `key-${envName.toLowerCase().replace(/_/g, '-')}`;

/**
 * Before anything is created: the credential, the providers (registered when they are not),
 * the storage account names (global), and a resource group of the same name that is not this
 * run's. Collects every problem and throws them together, as the lab's preflight does.
 */
export async function preflightAca(context: AcaContext): Promise<void> {
  await checkCredential(context.connection.credential);
  const problems: string[] = [];
  const { clients, record } = context;
  const registration = {
    clients,
    pollIntervalMs: context.connection.pollIntervalMs ?? 5_000,
    registrationPolls: 60,
    onNote: context.onStep,
  };
  await Promise.all(
    PROVIDERS.map((ns) =>
      ensureProviderRegistered(registration, ns).catch(
        (error: unknown) => void problems.push(`provider ${ns}: ${describeArmFailure(error)}`),
      ),
    ),
  );
  const group = await ifFound(
    clients.resources.resourceGroups.get(record.resourceGroup, { abortSignal: context.signal }),
  );
  if (group !== undefined && group.tags?.[DIST_TAG] !== record.distId)
    problems.push(
      `resource group ${record.resourceGroup} exists and is not this run's (tag ${DIST_TAG}=${group.tags?.[DIST_TAG] ?? 'absent'})`,
    );
  for (const region of record.regions) {
    if (record.done.includes(`${region.location}:storage`)) continue;
    const name = await clients.storage.storageAccounts.checkNameAvailability(
      { name: region.storageAccount, type: 'Microsoft.Storage/storageAccounts' },
      { abortSignal: context.signal },
    );
    if (name.nameAvailable === false)
      problems.push(
        `storage account name ${region.storageAccount} is not available (${name.reason ?? '?'}). Fix: npm run scale -- cleanup aca, then run again (a new id is drawn)`,
      );
  }
  if (problems.length > 0) throw new PreflightError(problems);
}

/** Runs a named step once: skipped when the record says it is done, recorded (and persisted) when it finishes. */
async function step(context: AcaContext, id: string, title: string, run: () => Promise<void>): Promise<void> {
  if (context.record.done.includes(id)) return;
  context.onStep(`${title}…`);
  await run();
  context.record.done.push(id);
  context.persist();
}

/**
 * Creates (or, on a re-run, keeps) everything the shards need, step by step: a tagged resource
 * group; per region a storage account with the results share and a Container Apps environment
 * that mounts the share. The shards' jobs are put when they start (startShards).
 */
export async function provisionAca(context: AcaContext): Promise<void> {
  const { clients, record } = context;
  await step(context, 'resource-group', `resource group ${record.resourceGroup}`, async () => {
    await clients.resources.resourceGroups.createOrUpdate(
      record.resourceGroup,
      { location: record.regions[0]!.location, tags: tags(record) },
      { abortSignal: context.signal },
    );
  });
  for (const region of record.regions) {
    await step(
      context,
      `${region.location}:storage`,
      `storage ${region.storageAccount} (${region.location}) with share ${region.share}`,
      async () => {
        const account = await clients.storage.storageAccounts
          .create(
            record.resourceGroup,
            region.storageAccount,
            {
              location: region.location,
              kind: 'StorageV2',
              sku: { name: 'Standard_LRS' },
              tags: tags(record),
              minimumTlsVersion: 'TLS1_2',
              allowBlobPublicAccess: false,
              enableHttpsTrafficOnly: true,
            },
            clients.lro,
          )
          .pollUntilDone();
        await clients.storage.fileShares.create(
          record.resourceGroup,
          region.storageAccount,
          region.share,
          { shareQuota: 5 },
          { abortSignal: context.signal },
        );
        region.fileEndpoint =
          account.primaryEndpoints?.file ?? `https://${region.storageAccount}.file.core.windows.net/`;
      },
    );
    await step(
      context,
      `${region.location}:environment`,
      `Container Apps environment ${region.environment} (${region.location})`,
      async () => {
        // zoneRedundant (Azure's default) makes the SDK send `properties`, which Microsoft's published schema requires.
        await clients.apps.managedEnvironments
          .createOrUpdate(
            record.resourceGroup,
            region.environment,
            { location: region.location, tags: tags(record), zoneRedundant: false },
            clients.lro,
          )
          .pollUntilDone();
        const accountKey = await storageKey(context, region);
        await clients.apps.managedEnvironmentsStorages.createOrUpdate(
          record.resourceGroup,
          region.environment,
          RESULTS_SHARE,
          {
            properties: {
              azureFile: {
                accountName: region.storageAccount,
                accountKey,
                shareName: region.share,
                accessMode: 'ReadWrite',
              },
            },
          },
          { abortSignal: context.signal },
        );
      },
    );
  }
}

/**
 * Creates or updates shard i's manual-trigger job: its template carries the shard's index, the
 * common start time and the results mount; the key variables (and a private registry's
 * password) are Container Apps secrets (`secrets` holds their values; nothing else does).
 */
async function putShardJob(
  context: AcaContext,
  shard: number,
  secrets: Readonly<Record<string, string>>,
  startAt: string,
): Promise<void> {
  const { clients, record } = context;
  const region = regionOfShard(record, shard);
  const environment = await clients.apps.managedEnvironments.get(record.resourceGroup, region.environment, {
    abortSignal: context.signal,
  });
  await clients.apps.jobs
    .createOrUpdate(
      record.resourceGroup,
      jobOfShard(record, shard),
      jobBody(record, region, environment.id!, secrets, shard, startAt),
      clients.lro,
    )
    .pollUntilDone();
}

async function storageKey(context: AcaContext, region: AcaRegion): Promise<string> {
  const keys = await context.clients.storage.storageAccounts.listKeys(
    context.record.resourceGroup,
    region.storageAccount,
    { abortSignal: context.signal },
  );
  const key = keys.keys?.[0]?.value;
  if (key === undefined) throw new Error(`storage account ${region.storageAccount} listed no key`);
  return key;
}

/** The secret that holds a private registry's password. */
const REGISTRY_SECRET = 'registry-password';

/** The shard container: the bench with the run's flags and the shard's index; keys as secret references, never values. */
function shardContainer(record: AcaRunRecord, shard: number, startAt: string): Container {
  return {
    name: CONTAINER,
    image: record.image,
    args: [
      'bench',
      ...record.benchArgs,
      '--shards',
      String(record.shards),
      '--run-id',
      record.runId,
      '--start-at',
      startAt,
      '--out',
      ACA_RESULTS_DIR,
    ],
    env: [
      ...record.keyEnv.map((name) => ({ name, secretRef: secretNameOf(name) })),
      { name: 'SHARD_INDEX', value: String(shard) },
    ],
    resources: { cpu: record.cpu, memory: record.memory },
    volumeMounts: [{ volumeName: 'results', mountPath: ACA_RESULTS_DIR }],
  };
}

function jobBody(
  record: AcaRunRecord,
  region: AcaRegion,
  environmentId: string,
  secrets: Readonly<Record<string, string>>,
  shard: number,
  startAt: string,
): Job {
  const registry = record.registry;
  return {
    location: region.location,
    tags: tags(record),
    environmentId,
    configuration: {
      triggerType: 'Manual',
      replicaTimeout: record.replicaTimeoutS,
      // A failed shard is not silently re-run: the merge names it, and a re-run of the command starts it again.
      replicaRetryLimit: 0,
      manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 },
      secrets: [
        ...record.keyEnv.map((name) => ({ name: secretNameOf(name), value: secrets[name] })),
        ...(registry ? [{ name: REGISTRY_SECRET, value: secrets[registry.passwordEnv] }] : []),
      ],
      // A private image is pulled with the registry's credentials, the password held as a secret.
      ...(registry
        ? { registries: [{ server: registry.server, username: registry.username, passwordSecretRef: REGISTRY_SECRET }] }
        : {}),
    },
    template: {
      containers: [shardContainer(record, shard, startAt)],
      volumes: [{ name: 'results', storageType: 'AzureFile', storageName: RESULTS_SHARE }],
    },
  };
}

/**
 * Starts one execution per shard that has not succeeded (all of them on a first run; the failed
 * ones on a re-run). The common start time goes into each shard's job template first, and the
 * execution starts with no override: Azure would replace the template with one, and lose the
 * results mount.
 */
export async function startShards(
  context: AcaContext,
  startAt: Date,
  secrets: Readonly<Record<string, string>>,
): Promise<number[]> {
  const { clients, record } = context;
  const started: number[] = [];
  for (let shard = 0; shard < record.shards; shard++) {
    const previous = record.executions[String(shard)];
    if (
      previous !== undefined &&
      previous.status !== 'Failed' &&
      previous.status !== 'Stopped' &&
      previous.status !== 'Degraded'
    )
      continue;
    const region = regionOfShard(record, shard);
    const job = jobOfShard(record, shard);
    await putShardJob(context, shard, secrets, startAt.toISOString());
    const execution = await clients.apps.jobs.start(record.resourceGroup, job, clients.lro).pollUntilDone();
    if (execution.name === undefined) throw new Error(`job ${job} started an execution without a name`);
    record.executions[String(shard)] = {
      region: region.location,
      name: execution.name,
      status: 'Running',
      failed: previous ? [...previous.failed, previous.name] : [],
      startAt: startAt.toISOString(),
    };
    context.persist();
    started.push(shard);
    context.onStep(
      `shard ${shard}: execution ${execution.name} started in ${region.location}${previous ? ` (re-run; ${previous.name} ${previous.status})` : ''}`,
    );
  }
  return started;
}

/** Polls every running execution until all are final, reporting each change of state. */
export async function waitForShards(
  context: AcaContext,
  pollMs: number,
  onChange: (shard: number, execution: AcaExecution) => void,
): Promise<void> {
  const { clients, record } = context;
  for (;;) {
    const running = Object.entries(record.executions).filter(([, e]) => !FINAL.includes(e.status));
    if (running.length === 0) return;
    for (const [shard, execution] of running) {
      const now = await clients.apps.jobExecution(
        record.resourceGroup,
        jobOfShard(record, Number(shard)),
        execution.name,
        { abortSignal: context.signal },
      );
      const status = (now.status ?? 'Unknown') as AcaExecutionStatus;
      if (status !== execution.status) {
        execution.status = status;
        context.persist();
        onChange(Number(shard), execution);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/**
 * Copies RESULTS/<run-id>/shard-<i>/ of every shard from its region's share into `outDir`
 * (OUT/<run-id>/shard-<i>/), whatever the execution's outcome: a shard interrupted mid-run
 * still wrote what it measured. Returns the shards whose folder was found.
 */
export async function downloadShards(context: AcaContext, outDir: string): Promise<number[]> {
  const { record } = context;
  const found: number[] = [];
  const retryOptions = context.connection.clientOptions?.retryOptions?.maxRetries === 0 ? { maxTries: 1 } : {};
  for (const region of record.regions) {
    const key = await storageKey(context, region);
    const service = new ShareServiceClient(
      region.fileEndpoint ?? `https://${region.storageAccount}.file.core.windows.net/`,
      new StorageSharedKeyCredential(region.storageAccount, key),
      { retryOptions },
    );
    const share = service.getShareClient(region.share);
    for (let shard = 0; shard < record.shards; shard++) {
      if (regionOfShard(record, shard) !== region) continue;
      const folder = `${record.runId}/shard-${shard}`;
      const copied = await copyDirectory(
        share.getDirectoryClient(folder),
        join(outDir, `shard-${shard}`),
        context.signal,
      );
      if (copied > 0) found.push(shard);
    }
  }
  return found.sort((a, b) => a - b);
}

async function copyDirectory(
  directory: ShareDirectoryClient,
  localDir: string,
  signal: AbortSignal | undefined,
): Promise<number> {
  let copied = 0;
  try {
    for await (const entry of directory.listFilesAndDirectories({ abortSignal: signal })) {
      if (entry.kind === 'directory') {
        copied += await copyDirectory(directory.getDirectoryClient(entry.name), join(localDir, entry.name), signal);
        continue;
      }
      const body = await directory
        .getFileClient(entry.name)
        .downloadToBuffer(undefined, undefined, { abortSignal: signal });
      const target = join(localDir, entry.name);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, body);
      copied++;
    }
  } catch (error) {
    // A shard that never started has no folder: that is for the merge to name, not a crash.
    if ((error as { statusCode?: number }).statusCode === 404) return copied;
    throw error;
  }
  return copied;
}

export type AcaTeardown = { kind: 'deleted' } | { kind: 'already-gone' };

/**
 * Deletes the run's resource group, and with it the environments, jobs and storage, only if it
 * still carries this run's tag (else refuses and deletes nothing). Already gone: nothing to do.
 */
export async function teardownAca(context: AcaContext): Promise<AcaTeardown> {
  const { clients, record } = context;
  const group = await ifFound(
    clients.resources.resourceGroups.get(record.resourceGroup, { abortSignal: context.signal }),
  );
  if (group === undefined) return { kind: 'already-gone' };
  if (group.tags?.[DIST_TAG] !== record.distId) {
    throw new AcaRefusedError(
      `Refused to delete resource group "${record.resourceGroup}": its tag ${DIST_TAG} is ${group.tags?.[DIST_TAG] === undefined ? 'absent' : `"${group.tags[DIST_TAG]}"`}, not this run's id "${record.distId}". Nothing was deleted and the state is kept.`,
    );
  }
  await clients.resources.resourceGroups.beginDeleteAndWait(record.resourceGroup, clients.lro);
  return { kind: 'deleted' };
}

export class AcaRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AcaRefusedError';
  }
}
