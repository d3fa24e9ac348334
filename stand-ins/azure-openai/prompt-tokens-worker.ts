import { parentPort } from 'node:worker_threads';
import { promptTokensOf } from './prompt-tokens.ts';

// The mock's token-counting thread (prompt-tokens.ts): counts large prompts off the event loop.
parentPort!.on('message', ({ id, api, body }) => {
  try {
    parentPort!.postMessage({ id, tokens: promptTokensOf(api, body) });
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message });
  }
});
