import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvalidOptionError, LabError } from '../errors.ts';
import { LAB_KEY_ENV, readBackendsFlag } from '../config/lab-options.ts';
import { TARGET_DEFAULTS } from '../config/target-flags.ts';
import { isAlive, isSameProcess } from './process-identity.ts';
import { startEdgeNginx } from './edge-nginx.ts';
import type { EdgeOption } from '../config/lab-options.ts';
import { spawnServer, type StartedServer } from './spawn-server.ts';
import { readLabState, removeLabState, writeLabState, type LabProcess, type LabState } from './state.ts';
import { provisionedBackends } from '../protocol/index.ts';

export const LAB_POLICIES = ['streaming', 'buffered'] as const;

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The lab's servers, each a CLI that prints one `listening` JSON line. */
export const LAB_SCRIPTS = {
  mock: join(ROOT, 'stand-ins/azure-openai/cli.ts'),
  gateway: join(ROOT, 'stand-ins/apim/cli.ts'),
  delayProxy: join(ROOT, 'stand-ins/delay-proxy/cli.ts'),
};

export interface LocalDeployOptions {
  stateFile: string;
  /** `streaming`, `buffered` (infra/policies/) or a policy file path. */
  policy: string;
  seed: number;
  /** Mock timing overrides, as `npm run mock` takes them (e.g. `['--itl-ms', '8']`). */
  mockArgs: readonly string[];
  /** Gateway overrides (e.g. `['--token-window-ms', '6000']`). */
  gatewayArgs?: readonly string[];
  /**
   * APIM backends instead of one mock: every single backend of the file without a url is played
   * by its own mock (with `mockArgs` plus its entry in `backendMockArgs`); the gateway routes
   * them as the file says (pools, circuit breakers).
   */
  backends?: { file: string; backendMockArgs?: Readonly<Record<string, readonly string[]>> } | undefined;
  /** An edge in front of the gateway (the `edge` path, outermost in the chain): Debian's nginx started here, or a URL the user runs. */
  edge?: EdgeOption | undefined;
}

/** The state's path to one backend's mock: `backend-<name>`. */
export const backendPath = (name: string): string => `backend-${name}`;

export type DeployOutcome =
  | { kind: 'deployed'; state: LabState; ignored: string[]; staleNote: string | undefined }
  | { kind: 'already-up'; state: LabState };

/** The policy file for `--policy`: a lab policy by name, or an existing file. */
export function resolvePolicyFile(policy: string): string {
  if ((LAB_POLICIES as readonly string[]).includes(policy)) return join(ROOT, 'infra/policies', `${policy}.xml`);
  if (!existsSync(policy))
    throw new InvalidOptionError(
      '--policy',
      `"${policy}" is neither a lab policy nor a file`,
      `${LAB_POLICIES.join(', ')}, or a path to an APIM policy XML`,
    );
  return resolve(policy);
}

/** True when every process the state records is still running and still ours. */
export function isLabRunning(state: LabState): boolean {
  const processes = state.processes ?? [];
  return processes.length > 0 && processes.every((p) => isSameProcess(p.pid, p.startTime));
}

/**
 * `lab:deploy --target local`: the mock and the gateway as background processes on free
 * loopback ports, with fresh keys, recorded in the state file. A lab that is up is left as it
 * is; a stale one (its processes gone) is cleared first.
 */
export async function deployLocal(options: LocalDeployOptions, signal?: AbortSignal): Promise<DeployOutcome> {
  const policyFile = resolvePolicyFile(options.policy);
  const backendsFile = options.backends ? resolve(options.backends.file) : undefined;
  const table = backendsFile ? readBackendsFlag(backendsFile).table : undefined;
  const mocked = table ? provisionedBackends(table) : [];
  for (const name of Object.keys(options.backends?.backendMockArgs ?? {})) {
    if (!mocked.includes(name))
      throw new InvalidOptionError(
        '--backends',
        `mock settings are given for "${name}", which is not a backend of ${backendsFile} the lab starts`,
        mocked.join(', ') || 'a single backend without url',
      );
  }
  const existing = readLabState(options.stateFile);
  let staleNote: string | undefined;
  if (existing !== undefined) {
    if (existing.target !== 'local')
      throw new LabError(
        'E_LAB_STATE',
        `Failed to deploy "local": "${options.stateFile}" records an ${existing.target} lab. Run npm run lab:cleanup first.`,
      );
    if (isLabRunning(existing)) return { kind: 'already-up', state: existing };
    const stopped = await stopLabProcesses(existing);
    removeLabState(options.stateFile);
    staleNote = `a stale lab state was found (processes gone${stopped.length > 0 ? `; stopped the rest: ${stopped.join(', ')}` : ''}) and cleared`;
  }
  const keys = { mock: randomBytes(24).toString('base64url'), subscription: randomBytes(24).toString('base64url') };
  const logDir = dirname(options.stateFile);
  const state: LabState = {
    schemaVersion: 1,
    target: 'local',
    deployment: TARGET_DEFAULTS.deployment,
    apiVersion: TARGET_DEFAULTS.apiVersion,
    paths: {},
    labId: randomUUID(),
    createdAt: new Date().toISOString(),
    policyFile,
    processes: [],
    secrets: { [LAB_KEY_ENV.direct]: keys.mock, [LAB_KEY_ENV.gateway]: keys.subscription },
  };
  // Secrets go to children through the environment only.
  const childEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => ({ ...process.env, ...extra });
  const started: StartedServer[] = [];
  try {
    writeLabState(options.stateFile, state);
    // One mock per backend the lab plays (a backends file), or the one mock of the classic lab.
    const mocks: Array<{ name: string | undefined; server: StartedServer }> = [];
    for (const name of table ? mocked : [undefined]) {
      const extra = name === undefined ? [] : (options.backends?.backendMockArgs?.[name] ?? []);
      const server = await spawnServer(
        {
          role: name === undefined ? 'mock' : `mock:${name}`,
          script: LAB_SCRIPTS.mock,
          nodeArgs: ['--max-semi-space-size=64'],
          args: ['--port', '0', '--seed', String(options.seed), ...options.mockArgs, ...extra],
          env: childEnv({ MOCK_API_KEY: keys.mock }),
          logFile: join(logDir, name === undefined ? 'mock.log' : `mock-${name}.log`),
        },
        signal,
      );
      started.push(server);
      state.processes!.push(server.process);
      mocks.push({ name, server });
      writeLabState(options.stateFile, state);
    }
    // With no backend to play (every url given in the file), direct is the file's first backend.
    const upstream = mocks[0]?.server.listening.url ?? new URL([...table!.singles.values()][0]!.url!).origin;
    const backendArgs = table
      ? [
          '--backends',
          backendsFile!,
          ...(mocks.length > 0
            ? ['--backend-url', mocks.map((m) => `${m.name}=${m.server.listening.url}/openai`).join(',')]
            : []),
        ]
      : ['--backend', upstream];
    const gateway = await spawnServer(
      {
        role: 'gateway',
        script: LAB_SCRIPTS.gateway,
        args: [...backendArgs, '--policy', policyFile, '--port', '0', ...(options.gatewayArgs ?? [])],
        env: childEnv({ GATEWAY_SUBSCRIPTION_KEY: keys.subscription, GATEWAY_BACKEND_KEY: keys.mock }),
        logFile: join(logDir, 'gateway.log'),
      },
      signal,
    );
    started.push(gateway);
    state.processes!.push(gateway.process);
    const mockAuth = { kind: 'api-key', envName: LAB_KEY_ENV.direct } as const;
    state.paths = {
      // direct: the upstream itself (with a backends file, the first backend the lab plays: the primary).
      direct: { baseUrl: upstream, apiStyle: 'azure', auth: mockAuth },
      gateway: {
        baseUrl: gateway.listening.url,
        apiStyle: 'azure',
        auth: { kind: 'subscription-key', envName: LAB_KEY_ENV.gateway },
      },
    };
    if (table) {
      for (const { name, server } of mocks)
        state.paths[backendPath(name!)] = { baseUrl: server.listening.url, apiStyle: 'azure', auth: mockAuth };
      state.backends = {
        file: backendsFile!,
        started: Object.fromEntries(mocks.map(({ name, server }) => [name!, { url: server.listening.url }])),
      };
    }
    await waitUntilAnswering(
      [...mocks.map((m) => `${m.server.listening.url}/_mock/health`), `${gateway.listening.url}/_gateway/health`],
      signal,
    );
    if (options.edge?.kind === 'nginx') {
      const edge = await startEdgeNginx(
        { labDir: logDir, upstreamUrl: gateway.listening.url, buffered: options.edge.buffered },
        signal,
      );
      state.processes!.push(edge.process);
      writeLabState(options.stateFile, state);
      state.paths['edge'] = {
        baseUrl: edge.url,
        apiStyle: 'azure',
        auth: { kind: 'subscription-key', envName: LAB_KEY_ENV.gateway },
      };
    } else if (options.edge?.kind === 'url') {
      state.paths['edge'] = {
        baseUrl: options.edge.url,
        apiStyle: 'azure',
        auth: { kind: 'subscription-key', envName: options.edge.keyEnv ?? LAB_KEY_ENV.gateway },
      };
    }
    writeLabState(options.stateFile, state);
    return {
      kind: 'deployed',
      state,
      ignored: (gateway.listening['ignored'] as string[] | undefined) ?? [],
      staleNote,
    };
  } catch (error) {
    await stopLabProcesses(state);
    removeLocalFiles(options.stateFile, state);
    throw error;
  }
}

async function waitUntilAnswering(urls: readonly string[], signal?: AbortSignal): Promise<void> {
  for (const url of urls) {
    for (let attempt = 0; ; attempt++) {
      try {
        if ((await fetch(url, { signal: signal ?? null })).ok) break;
      } catch (error) {
        if (signal?.aborted) throw error;
      }
      if (attempt >= 100) throw new LabError('E_PROCESS_START', `Failed to reach "${url}": no answer within 5 s.`);
      await sleep(50);
    }
  }
}

/**
 * Stops the processes a state records, each only if it is still the process the lab started
 * (same pid and start time): SIGTERM, then SIGKILL after 5 s. Returns what it stopped.
 */
export async function stopLabProcesses(state: LabState): Promise<string[]> {
  const stopped: string[] = [];
  for (const p of state.processes ?? []) {
    if (!isSameProcess(p.pid, p.startTime)) continue;
    process.kill(p.pid, 'SIGTERM');
    if (!(await waitForExit(p, 5_000))) {
      process.kill(p.pid, 'SIGKILL');
      await waitForExit(p, 2_000);
    }
    stopped.push(`${p.role} (pid ${p.pid})`);
  }
  return stopped;
}

async function waitForExit(p: LabProcess, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!isAlive(p.pid) || !isSameProcess(p.pid, p.startTime)) return true;
    await sleep(20);
  }
  return false;
}

/** Removes the state file and the logs it records, then the directory if that left it empty. */
export function removeLocalFiles(stateFile: string, state: LabState): void {
  for (const p of state.processes ?? []) rmSync(p.logFile, { force: true });
  // The edge's config, logs and temp paths (edge-nginx.ts), only when the lab started one.
  if ((state.processes ?? []).some((p) => p.role === 'edge'))
    rmSync(join(dirname(stateFile), 'edge-nginx'), { recursive: true, force: true });
  removeLabState(stateFile);
  try {
    rmdirSync(dirname(stateFile));
  } catch {
    // Not empty (other files are not ours to remove), or already gone.
  }
}

export type CleanupOutcome = { kind: 'nothing' } | { kind: 'cleaned'; stopped: string[]; notOurs: string[] };

/** What `lab:cleanup` did with a state file it could not read. */
export interface RecoveryOutcome {
  reason: string;
  /** Where the unreadable file now is (beside the old name, so nothing it said is lost). */
  movedTo: string;
  stopped: string[];
  /** Azure resource groups the text names: left alone (cleanup deletes only what a readable state records), with the command to remove each. */
  azureGroups: string[];
}

/**
 * `lab:cleanup` on a state file that cannot be read (not JSON, or not a lab state): whatever
 * it still says is salvaged, never guessed. The processes it names by pid and start time are
 * stopped when they are still those processes (the kernel's start time proves it, as for a
 * readable state); the resource groups it names are reported with the command to delete them
 * (an Azure group is deleted only from a readable record, which checks its tag). The file is
 * moved aside so that the next deploy starts clean, and no command's advice loops back here.
 */
export async function recoverUnreadableState(stateFile: string, reason: string): Promise<RecoveryOutcome> {
  const text = readFileSync(stateFile, 'utf8');
  const processes: LabProcess[] = [];
  // Every "pid": N … "startTime": "…" pair the text still holds, in whatever shape is left.
  for (const match of text.matchAll(
    /"role"\s*:\s*"([^"]*)"[^{}]*?"pid"\s*:\s*(\d+)[^{}]*?"startTime"\s*:\s*"([^"]*)"/g,
  )) {
    processes.push({ role: match[1]!, pid: Number(match[2]), startTime: match[3]!, logFile: '' });
  }
  const stopped = await stopLabProcesses({ processes } as LabState);
  const azureGroups = [...new Set([...text.matchAll(/rg-streamlab-(?:dist-)?[a-z0-9]+/g)].map((m) => m[0]))];
  const movedTo = `${stateFile}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  renameSync(stateFile, movedTo);
  return { reason, movedTo, stopped, azureGroups };
}

/**
 * `lab:cleanup` for a local lab: stops exactly the recorded processes that are still ours,
 * removes the state and logs. With no state it does nothing, so a second run is a no-op.
 */
export async function cleanupLocal(stateFile: string): Promise<CleanupOutcome> {
  const state = readLabState(stateFile);
  if (state === undefined) return { kind: 'nothing' };
  if (state.target !== 'local')
    throw new LabError(
      'E_LAB_STATE',
      `Failed to clean up "${stateFile}": it records an ${state.target} lab, and this version cleans up local labs only. Nothing was changed.`,
    );
  const notOurs = (state.processes ?? [])
    .filter((p) => !isSameProcess(p.pid, p.startTime))
    .map((p) => `${p.role} (pid ${p.pid}: ${isAlive(p.pid) ? 'now another process, not signalled' : 'already gone'})`);
  const stopped = await stopLabProcesses(state);
  removeLocalFiles(stateFile, state);
  return { kind: 'cleaned', stopped, notOurs };
}
