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
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
