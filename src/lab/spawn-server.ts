import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from '../errors.ts';
import { processStartTime } from './process-identity.ts';
import type { LabProcess } from './state.ts';

export interface StartedServer {
  process: LabProcess;
  /** The server's `{"event":"listening",…}` line. */
  listening: Record<string, unknown> & { url: string };
}

const START_TIMEOUT_MS = 15_000;

/**
 * Starts a lab server (mock or gateway) as a detached background process that outlives this
 * one, with stdout and stderr in `logFile`, and waits for its `listening` line. Keys go in
 * through `env`, never argv (argv is visible to every user in `ps`).
 */
export interface ServerSpec {
  role: string;
  script: string;
  nodeArgs?: readonly string[];
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
}

export async function spawnServer(spec: ServerSpec, signal?: AbortSignal): Promise<StartedServer> {
  const { role, logFile } = spec;
  const log = openSync(logFile, 'w', 0o600);
  let exitCode: number | null = null;
  let child;
  try {
    child = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.script, ...spec.args], {
      detached: true,
      stdio: ['ignore', log, log],
      env: spec.env,
    });
  } finally {
    closeSync(log);
  }
  child.once('exit', (code) => {
    exitCode = code ?? 1;
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new LabError('E_PROCESS_START', `Failed to start the ${role}: no process id.`);
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const line = readFileSync(logFile, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('{"event":"listening"'));
    if (line !== undefined) {
      const startTime = processStartTime(pid);
      if (startTime === undefined) break;
      return { process: { role, pid, startTime, logFile }, listening: JSON.parse(line) as StartedServer['listening'] };
    }
    if (exitCode !== null || signal?.aborted) break;
    await sleep(25);
  }
  if (exitCode === null) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  const tail = readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.includes('Unknown user config'))
    .slice(-5)
    .join('\n');
  throw new LabError(
    'E_PROCESS_START',
    `Failed to start the ${role}: ${exitCode !== null ? `it exited with code ${exitCode}` : signal?.aborted ? 'interrupted' : `no listening line within ${START_TIMEOUT_MS / 1000} s`}.${tail ? `\n${tail}` : ''}`,
  );
}
