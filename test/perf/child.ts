/**
 * The benchmarks' child processes (servers, load generators, workers), one way:
 * - `startNode` spawns `node … script` from the repo root and remembers it, so a benchmark
 *   that runs over its deadline can stop everything it started;
 * - `firstJsonLine` reads the child's first stdout line (its `listening` or result line) and
 *   then keeps draining stdout: a server that logs a line per request (the gateway's access
 *   log) must never block on a full pipe, which once hung `PERF_ONLY=gateway` for good;
 * - `withDeadline` fails a benchmark loudly when it has not ended in its stated time.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const started = new Set<ChildProcess>();

export function startNode(
  script: string,
  args: readonly string[],
  options: { nodeArgs?: readonly string[]; env?: NodeJS.ProcessEnv; stderr?: 'inherit' | 'ignore' } = {},
): ChildProcess {
  const stdio: StdioOptions = ['ignore', 'pipe', options.stderr ?? 'inherit'];
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), script, ...args], {
    cwd: ROOT,
    env: options.env ?? process.env,
    stdio,
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

/** The child's first stdout line, parsed; stdout is drained from then on. Rejects if the child exits first. */
export async function firstJsonLine(child: ChildProcess, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const lines = createInterface({ input: child.stdout! });
  const exitedFirst = once(child, 'exit').then(([code]) => {
    throw new Error(`the child exited (${String(code)}) before writing its first line`);
  });
  const timeout = AbortSignal.timeout(timeoutMs);
  const timedOut = once(timeout, 'abort').then(() => {
    throw new Error(`no first line from the child within ${timeoutMs} ms`);
  });
  try {
    const [line] = (await Promise.race([once(lines, 'line'), exitedFirst, timedOut])) as [string];
    return JSON.parse(line) as Record<string, unknown>;
  } finally {
    lines.close();
    exitedFirst.catch(() => undefined);
    timedOut.catch(() => undefined);
    // readline paused the stream on close: keep it flowing so the child never blocks writing.
    child.stdout!.resume();
  }
}

/** Resolves when the child has exited, also when it already had (an 'exit' event is emitted once: a late `once` would wait forever). */
export async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await once(child, 'exit');
}

/** Runs a benchmark; past `ms` it stops every child it started and rejects, naming the benchmark. */
export async function withDeadline<T>(name: string, ms: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      for (const child of started) child.kill('SIGKILL');
      reject(
        new Error(`benchmark "${name}" did not end within ${Math.round(ms / 1000)} s: stopped it and its processes`),
      );
    }, ms);
  });
  try {
    return await Promise.race([run(), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
