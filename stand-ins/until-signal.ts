/**
 * Keeps a server up until SIGINT/SIGTERM, then closes it once and lets the process exit
 * with 0 (the lab's cleanup stops background servers with SIGTERM).
 */
export function closeOnSignal(name: string, close: () => Promise<void>): void {
  let isStopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (isStopping) return;
    isStopping = true;
    process.stderr.write(`${name}: ${signal}, closing\n`);
    void close().then(() => {
      process.exitCode = 0;
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
