import { LabError } from '../errors.ts';

/**
 * Runs `run` with an AbortSignal that SIGINT/SIGTERM abort, so a command can stop early yet
 * still write what it measured (and clean up). Further signals while it winds down are
 * absorbed rather than killing the process half-way through its cleanup.
 */
export async function withInterrupt<T>(message: string, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const abort = new AbortController();
  const onSignal = (): void => {
    if (abort.signal.aborted) return;
    process.stderr.write(`\ninterrupted: ${message}\n`);
    abort.abort();
  };
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
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
