import { Worker } from 'node:worker_threads';
import type { ApiKind } from '../../src/protocol/index.ts';
import { countChatPromptTokens, countInputTokens } from '../../src/protocol/prompt-tokens.ts';

/**
 * Prompt tokens of a request, counted as the service counts them (o200k; chat framing). A
 * body this large is counted on a worker thread: one request's prompt (a 3 MB single word
 * takes seconds of byte-pair merging) must never stall the other streams on the event loop.
 */
export const OFF_THREAD_BODY_BYTES = 64 * 1024;

/** The count itself (the worker runs this too). */
export function promptTokensOf(api: ApiKind, body: Record<string, unknown>): number {
  if (api === 'chat' || api === 'on-your-data')
    return countChatPromptTokens(Array.isArray(body['messages']) ? (body['messages'] as unknown[]) : []);
  return countInputTokens(api === 'completions' ? body['prompt'] : body['input']);
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, { resolve(tokens: number): void; reject(error: Error): void }>();

/** One worker for the process, started on the first large prompt, unref'd so it never holds the process open. */
function counter(): Worker {
  if (worker !== undefined) return worker;
  const started = new Worker(new URL('./prompt-tokens-worker.ts', import.meta.url));
  started.unref();
  started.on('message', ({ id, tokens, error }: { id: number; tokens?: number; error?: string }) => {
    const waiting = pending.get(id);
    pending.delete(id);
    if (error !== undefined) waiting?.reject(new Error(error));
    else waiting?.resolve(tokens!);
  });
  const fail = (error: Error): void => {
    worker = undefined;
    for (const waiting of pending.values()) waiting.reject(error);
    pending.clear();
  };
  started.on('error', fail);
  started.on('exit', () => fail(new Error('the token-counting worker exited')));
  worker = started;
  return started;
}

/** Prompt tokens of an admitted body: inline when small, on the worker thread when `bodyBytes` is large. */
export async function countPromptTokens(
  api: ApiKind,
  body: Record<string, unknown>,
  bodyBytes: number,
): Promise<number> {
  if (bodyBytes < OFF_THREAD_BODY_BYTES) return promptTokensOf(api, body);
  const id = nextId++;
  const result = new Promise<number>((resolve, reject) => pending.set(id, { resolve, reject }));
  counter().postMessage({ id, api, body });
  return result;
}
