import { vi } from 'vitest';

/** What a command wrote to this process's stdout and stderr while captured. */
export interface CapturedOutput {
  /** Everything written to stdout since the capture started (or the last `clear()`). */
  stdout(): string;
  /** Everything written to stderr since the capture started (or the last `clear()`). */
  stderr(): string;
  /** Forgets what was captured so far; the capture goes on. */
  clear(): void;
  /** Puts the real writes back (`vi.restoreAllMocks()` does it too). */
  restore(): void;
}

type Write = typeof process.stdout.write;

/**
 * Captures process.stdout and process.stderr writes (nothing reaches the terminal) for tests
 * of in-process commands. Chunks are kept as text (bytes decoded as UTF-8); a write's callback
 * is called, as a real write calls it.
 */
export function captureOutput(): CapturedOutput {
  const chunks = { stdout: [] as string[], stderr: [] as string[] };
  const spies = (['stdout', 'stderr'] as const).map((name) =>
    vi.spyOn(process[name], 'write').mockImplementation(((
      chunk: string | Uint8Array,
      encodingOrCallback?: BufferEncoding | ((error?: Error | null) => void),
      callback?: (error?: Error | null) => void,
    ) => {
      chunks[name].push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
      if (done) process.nextTick(done);
      return true;
    }) as Write),
  );
  return {
    stdout: () => chunks.stdout.join(''),
    stderr: () => chunks.stderr.join(''),
    clear: () => {
      chunks.stdout.length = 0;
      chunks.stderr.length = 0;
    },
    restore: () => {
      for (const spy of spies) spy.mockRestore();
    },
  };
}
