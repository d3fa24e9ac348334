import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../files.ts';
import { dirname } from 'node:path';
import type { LabRunInfo } from '../bench/summary.ts';
import type { LabTarget } from '../config/lab-options.ts';
import { LabError } from '../errors.ts';
import { API_STYLES, type ApiStyle, type TargetAuth } from '../endpoint/types.ts';
import type { AzureLabRecord } from '../../infra/azure-plan.ts';
import type { AcaRunRecord } from '../../infra/aca-plan.ts';

/**
 * `.lab/state.json`, schema version 1: what a deployed lab exposes to the bench and the
 * verifier. Written by `npm run lab:deploy`; read here. Other fields (resource ids, process
 * ids) may be present and are ignored by readers that do not need them.
 *
 *     { "schemaVersion": 1, "target": "local" | "azure",
 *       "deployment": "gpt-4o-mini", "apiVersion": "2024-10-21",
 *       "paths": { "direct":  { "baseUrl": "…", "apiStyle": "azure", "auth": { "kind": "api-key", "envName": "…" } },
 *                  "gateway": { "baseUrl": "…", "apiStyle": "azure", "auth": { "kind": "subscription-key", "envName": "…" } } } }
 *
 * Keys are never in this file's paths: auth names the environment variable that holds them.
 * A lab that made its own keys (the local lab's mock key and subscription key) keeps them in
 * `secrets`, keyed by that variable's name, and the file is written with mode 0600; a set
 * environment variable of the same name wins over it.
 */
export interface LabPath {
  baseUrl: string;
  apiStyle: ApiStyle;
  auth: TargetAuth;
}

/** A background process the lab started, with what identifies it beyond its (reusable) pid. */
export interface LabProcess {
  role: string;
  pid: number;
  /** The kernel's start time for the pid (see process-identity.ts). */
  startTime: string;
  logFile: string;
}

export interface LabState {
  schemaVersion: 1;
  target: LabTarget;
  deployment: string;
  apiVersion: string;
  paths: Record<string, LabPath>;
  labId?: string;
  createdAt?: string;
  /** The gateway's policy file, which `lab:verify` lints when no --policy is given. */
  policyFile?: string;
  processes?: LabProcess[];
  secrets?: Record<string, string>;
  /** A lab deployed with a backends file: the file, and each backend the lab started (its mock's URL, for faults). */
  backends?: { file: string; started: Record<string, { url: string }> };
  /** A sharded bench on Azure Container Apps jobs (`npm run scale -- run aca`): names, steps, executions (infra/aca-plan.ts). */
  scale?: AcaRunRecord;
  /** An Azure lab: every name, resource id and finished step (infra/azure-plan.ts). */
  azure?: AzureLabRecord;
}

/** What a bench run records about the lab it measured (never a key). */
export function labRunInfo(state: LabState): LabRunInfo {
  return { target: state.target, labId: state.labId ?? null, policyFile: state.policyFile ?? null };
}

/** Writes the state atomically, mode 0600 in a 0700 directory (it may hold keys). */
export function writeLabState(path: string, state: LabState): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

export function removeLabState(path: string): void {
  rmSync(path, { force: true });
}

/** The environment a command runs with: the lab's own keys, unless the environment sets them. */
export function withLabSecrets(state: LabState | undefined, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (state?.secrets === undefined) return env;
  const merged: NodeJS.ProcessEnv = { ...state.secrets };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') merged[name] = value;
  return merged;
}

/** A state file that is there but is not a lab state (not JSON, or missing what every lab records): lab:cleanup recovers from it. */
export class UnreadableStateError extends LabError {
  readonly reason: string;
  constructor(path: string, reason: string) {
    // The cleanup command for this file (the default one needs no --state).
    const cleanup =
      path === '.lab/state.json' || path === './.lab/state.json'
        ? 'npm run lab:cleanup'
        : `npm run lab:cleanup -- --state '${path.replaceAll("'", "'\\''")}'`;
    super(
      'E_LAB_STATE',
      `Failed to read lab state "${path}": ${reason}. Run ${cleanup}: it stops the processes the file still names and moves the file aside.`,
    );
    this.reason = reason;
  }
}

/** Reads the lab state, or undefined when there is none. A malformed file is an error. */
export function readLabState(path: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LabError('E_LAB_STATE', `Failed to read lab state "${path}": ${(error as Error).message}.`);
  }
  let value: Partial<LabState>;
  try {
    value = JSON.parse(text) as Partial<LabState>;
  } catch {
    throw new UnreadableStateError(path, 'not JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new UnreadableStateError(path, 'not a lab state (not an object)');
  const problem = validate(value);
  if (problem) throw new UnreadableStateError(path, problem);
  return renamedRecords(value as LabState & { dist?: AcaRunRecord });
}

/**
 * A state written before `dist` became `scale` holds its Container Apps run under `dist`: read
 * as `scale`, so it is cleaned up and continued as one (and written back as `scale`). Until
 * the release after next, when the old name goes.
 */
function renamedRecords(state: LabState & { dist?: AcaRunRecord }): LabState {
  const { dist, ...rest } = state;
  return dist === undefined ? state : { ...rest, scale: dist };
}

function validate(value: Partial<LabState> & { dist?: AcaRunRecord }): string | undefined {
  if (value.schemaVersion !== 1) return `schemaVersion is ${String(value.schemaVersion)}, expected 1`;
  if (typeof value.deployment !== 'string' || typeof value.apiVersion !== 'string')
    return 'deployment or apiVersion missing';
  if (value.paths === null || typeof value.paths !== 'object') return 'no paths';
  // A deploy records what it started or created before its paths, so one stopped half-way stays cleanable.
  if (
    Object.keys(value.paths).length === 0 &&
    !Array.isArray(value.processes) &&
    value.azure === undefined &&
    value.scale === undefined &&
    value.dist === undefined
  )
    return 'no paths';
  // A state that holds only a scale run (npm run scale -- run aca) has no Azure lab record.
  if (
    value.target === 'azure' &&
    (value.azure !== undefined || (value.scale === undefined && value.dist === undefined)) &&
    (typeof value.azure?.resourceGroup !== 'string' ||
      typeof value.azure.labId !== 'string' ||
      typeof value.azure.steps !== 'object')
  )
    return 'the azure record is incomplete';
  if (Array.isArray(value.paths)) return 'paths is a list, expected an object of paths by name';
  for (const [name, path] of Object.entries(value.paths)) {
    if (typeof path?.baseUrl !== 'string' || !API_STYLES.includes(path.apiStyle) || typeof path.auth?.kind !== 'string')
      return `path "${name}" is incomplete`;
    if (!/^https?:\/\//.test(path.baseUrl) || !URL.canParse(path.baseUrl))
      return `path "${name}" has baseUrl "${path.baseUrl.slice(0, 80)}", not an http(s) URL`;
    const problem = authProblem(path.auth);
    if (problem) return `path "${name}": ${problem}`;
  }
  if (value.processes !== undefined) {
    if (!Array.isArray(value.processes)) return 'processes is not a list';
    for (const [i, p] of value.processes.entries()) {
      if (
        !isObject(p) ||
        typeof p.role !== 'string' ||
        !Number.isSafeInteger(p.pid) ||
        p.pid <= 0 ||
        typeof p.startTime !== 'string' ||
        typeof p.logFile !== 'string'
      )
        return `processes[${i}] is not a process record (role, pid > 0, startTime, logFile)`;
    }
  }
  if (
    value.secrets !== undefined &&
    (!isObject(value.secrets) || Object.values(value.secrets).some((v) => typeof v !== 'string'))
  )
    return 'secrets is not an object of strings';
  if (value.azure !== undefined) {
    const a = value.azure as unknown as Record<string, unknown>;
    if (
      !isObject(a) ||
      !['subscriptionId', 'resourceGroup', 'labId', 'location'].every((k) => typeof a[k] === 'string') ||
      !isObject(a['steps'])
    )
      return 'the azure record is incomplete (subscriptionId, resourceGroup, labId, location, steps)';
  }
  // `dist` is the name an older release wrote the scale record under.
  if (value.scale !== undefined && value.dist !== undefined)
    return 'it records two scale runs, one under "scale" and one under the older name "dist"';
  for (const key of ['scale', 'dist'] as const) {
    const record = value[key];
    if (record === undefined) continue;
    const d = record as unknown as Record<string, unknown>;
    if (
      !isObject(d) ||
      !['subscriptionId', 'resourceGroup', 'distId'].every((k) => typeof d[k] === 'string') ||
      !Array.isArray(d['regions']) ||
      !Array.isArray(d['done']) ||
      !isObject(d['executions'])
    )
      return `the ${key} record is incomplete (subscriptionId, resourceGroup, distId, regions, done, executions)`;
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** What is wrong with a path's auth record, if anything (its key variable must be named; keys themselves are never here). */
function authProblem(auth: TargetAuth): string | undefined {
  switch (auth.kind) {
    case 'none':
    case 'entra':
      return undefined;
    case 'api-key':
    case 'subscription-key':
      return typeof auth.envName === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(auth.envName)
        ? undefined
        : `auth ${auth.kind} names no key variable (envName)`;
    default:
      return `auth kind "${String((auth as { kind: unknown }).kind).slice(0, 40)}" is not one of none, api-key, subscription-key, entra`;
  }
}
