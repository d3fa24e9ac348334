import { LabError } from '../errors.ts';

/** The command in progress, for a reader that goes away (see watchOutput). */
let current: AbortController | undefined;
let outputWatched = false;

/**
 * A reader that closes the pipe (`npm run calibrate 2>&1 | head`) makes the next write fail
 * with EPIPE. Unhandled, that error ends the process at once and orphans the mock, gateway or
 * proxy it started; handled here, it stops the command as Ctrl-C does (what it started is
 * stopped, what it measured is written), and later writes to the closed pipe are dropped.
 */
function watchOutput(): void {
  if (outputWatched) return;
  outputWatched = true;
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      current?.abort();
    });
}

/**
 * Runs `run` with an AbortSignal that SIGINT/SIGTERM (or a closed output pipe) abort, so a
 * command can stop early yet still write what it measured (and clean up). Further signals while
 * it winds down are absorbed rather than killing the process half-way through its cleanup.
 */
export async function withInterrupt<T>(message: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) return;
    process.stderr.write(`\ninterrupted: ${message}\n`);
    abort.abort();
  };
  watchOutput();
  current = abort;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(abort.signal);
  } catch (error) {
    // A step that failed because it was interrupted (a server that was starting, a request in
    // flight) is an interruption, not a failure: exit 130 like any interrupted command.
    if (abort.signal.aborted)
      throw new LabError(
        'E_INTERRUPTED',
        `Interrupted before anything was measured: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    throw error;
  } finally {
    if (current === abort) current = undefined;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
