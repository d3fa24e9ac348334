import { newLabId } from './azure-plan.ts';

/** Where one region's shards run and write: an environment, its Azure Files share, a manual job. */
export interface AcaRegion {
  location: string;
  environment: string;
  storageAccount: string;
  share: string;
  /** The storage account's file endpoint, as ARM returned it (set once the account exists). */
  fileEndpoint?: string;
}

export type AcaExecutionStatus = 'Running' | 'Processing' | 'Succeeded' | 'Failed' | 'Stopped' | 'Degraded' | 'Unknown';

/** One shard's latest execution. */
export interface AcaExecution {
  region: string;
  name: string;
  status: AcaExecutionStatus;
  /** Earlier executions of this shard that failed (a re-run starts a new one). */
  failed: string[];
  startAt: string;
}

/** What a run is planned from (the `scale run aca` flags that must match on a re-run). */
export interface AcaPlanInput {
  subscriptionId: string;
  runId: string;
  shards: number;
  image: string;
  /** The bench flags every shard runs (the engine adds --shards, --run-id, --start-at, --out). */
  benchArgs: string[];
  /** Names of the environment variables that become secrets (never their values). */
  keyEnv: string[];
  cpu: number;
  memory: string;
  replicaTimeoutS: number;
  regions: string[];
  /** A private registry's pull credentials: the server, the user, and the variable whose value (the password) becomes the jobs' secret. */
  registry?: { server: string; username: string; passwordEnv: string } | undefined;
}

/**
 * A sharded bench on Azure Container Apps jobs, as the lab state records it under `scale`:
 * the plan, every name fixed when planned (a re-run reuses them and creates nothing twice),
 * which provisioning steps finished, and each shard's execution. Keys are never in it: the
 * jobs hold them as Container Apps secrets, read from the environment when the job is created.
 */
export interface AcaRunRecord extends Omit<AcaPlanInput, 'regions'> {
  engine: 'aca';
  distId: string;
  resourceGroup: string;
  regions: AcaRegion[];
  /** Provisioning steps done: `resource-group`, `<location>:storage`, `<location>:environment`, `<location>:job`. */
  done: string[];
  executions: Record<string, AcaExecution>;
  createdAt: string;
}

/**
 * The tag on the run's resource group: cleanup deletes nothing without it. Named (like
 * `distId` and the group) when the command was `dist`; kept, so groups made before still match.
 */
export const DIST_TAG = 'apim-streaming-lab-dist';
/** The file share (and the environment storage that mounts it) shards write into, mounted at RESULTS_DIR. */
export const RESULTS_SHARE = 'results';

/** A fresh record: names from a new id (`sl` + 7 characters, as the lab's), one environment per region. */
export function planAcaRun(input: AcaPlanInput, distId = newLabId()): AcaRunRecord {
  return {
    ...input,
    engine: 'aca',
    distId,
    resourceGroup: `rg-streamlab-dist-${distId}`,
    regions: input.regions.map((location, k) => ({
      location,
      environment: `cae-${distId}-${location}`.slice(0, 60),
      // Storage account names: 3–24 lower-case letters and digits, globally unique.
      storageAccount: `st${distId}${k}`,
      share: RESULTS_SHARE,
    })),
    done: [],
    executions: {},
    createdAt: new Date().toISOString(),
  };
}

/**
 * Shard i's job: one per shard, so that its SHARD_INDEX, its start time and the results mount
 * live in the job's own template. An execution started with a template override runs the
 * override's containers instead (Azure replaces the template, and an execution's container
 * has no volume mounts), so no per-shard setting may travel as an override.
 */
export function jobOfShard(record: AcaRunRecord, shard: number): string {
  return `job-${record.distId}-${shard}`;
}

/** Shard i runs in region i mod R. */
export function regionOfShard(record: AcaRunRecord, shard: number): AcaRegion {
  return record.regions[shard % record.regions.length]!;
}

/** What must match for a re-run to continue a recorded run (else it is another run). */
export function sameAcaRun(record: AcaRunRecord, input: AcaPlanInput): string | undefined {
  if (record.runId !== input.runId) return `it records run "${record.runId}", not "${input.runId}"`;
  const differs = (['shards', 'image', 'cpu', 'memory', 'replicaTimeoutS'] as const).find(
    (k) => record[k] !== input[k],
  );
  if (differs)
    return `run "${record.runId}" was planned with ${differs} ${String(record[differs])}, not ${String(input[differs])}`;
  if (JSON.stringify(record.benchArgs) !== JSON.stringify(input.benchArgs))
    return `run "${record.runId}" was planned with other bench flags (${record.benchArgs.join(' ')})`;
  if (JSON.stringify(record.regions.map((r) => r.location)) !== JSON.stringify(input.regions))
    return `run "${record.runId}" was planned in ${record.regions.map((r) => r.location).join(',')}`;
  if (JSON.stringify(record.keyEnv) !== JSON.stringify(input.keyEnv))
    return `run "${record.runId}" was planned with key variables ${record.keyEnv.join(',')}`;
  if (JSON.stringify(record.registry ?? null) !== JSON.stringify(input.registry ?? null))
    return `run "${record.runId}" was planned with ${record.registry ? `registry ${record.registry.server} as ${record.registry.username}` : 'no registry credentials'}`;
  return undefined;
}
