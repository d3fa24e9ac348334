import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { USER_MESSAGES, chatUrl, post, startFastMock } from '../helpers/mock.ts';

let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock({ timing: { ttftMs: 10, itlMs: 20, jitterMs: 0, outputTokens: 200 } });
});
afterAll(() => mock.close());

async function waitFor<T>(read: () => T, isDone: (value: T) => boolean, timeoutMs = 2_000): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let value = read();
  while (!isDone(value) && performance.now() < deadline) {
    await sleep(10);
    value = read();
  }
  return value;
}

describe('client disconnect', () => {
  it('stops generation in the mock: the stream is cancelled and no more frames are produced', async () => {
    const abort = new AbortController();
    const response = await post(chatUrl(mock), { messages: USER_MESSAGES, stream: true }).then((r) => r);
    const requestId = response.headers.get('x-request-id')!;
    const reader = response.body!.getReader();
    let received = 0;
    while (received < 3) {
      const { value } = await reader.read();
      received += new TextDecoder().decode(value).split('\n\n').length - 1;
    }
    abort.abort();
    await reader.cancel();
    const record = await waitFor(
      () => mock.context.recorder.get(requestId)!,
      (r) => r.outcome !== 'pending',
    );
    expect(record.outcome).toBe('cancelled');
    const emittedAtCancel = record.framesEmitted;
    expect(emittedAtCancel).toBeLessThan(record.contentFramesPlanned / 2);
    await sleep(200); // ten more inter-token gaps: a still-running generator would add ~10 frames
    expect(record.framesEmitted).toBe(emittedAtCancel);
    expect(mock.context.stats.activeStreams).toBe(0);
    const served = (await (await fetch(`${mock.url}/_mock/requests?id=${requestId}`)).json()) as { outcome: string };
    expect(served.outcome).toBe('cancelled');
  });

  it('a non-streaming request abandoned by its client is recorded as cancelled', async () => {
    const abort = new AbortController();
    const pending = fetch(chatUrl(mock), {
      method: 'POST',
      headers: { 'api-key': 'k' },
      body: JSON.stringify({ messages: USER_MESSAGES }),
      signal: abort.signal,
    }).catch((error: unknown) => error);
    await sleep(100);
    abort.abort();
    await pending;
    const record = await waitFor(
      () => mock.context.recorder.list().at(-1)!,
      (r) => r.outcome !== 'pending',
    );
    expect(record.outcome).toBe('cancelled');
  });
});
