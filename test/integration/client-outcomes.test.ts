import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { DEFAULT_TIMEOUTS } from '../../src/client/http-request.ts';
import type { OutcomeCode } from '../../src/client/outcome.ts';
import { startFastMock } from '../helpers/mock.ts';
import { mockTarget, requestOnce, scenario } from '../helpers/bench.ts';

// Every outcome code, produced through the mock's faults over real HTTP. Requests never
// throw: each failure is a counted outcome with a message.
let mock: MockServer;
let keyed: MockServer;
beforeAll(async () => {
  mock = await startFastMock();
  keyed = await startFastMock({ apiKey: 'the-right-key' });
});
afterAll(async () => {
  await mock.close();
  await keyed.close();
});

const fault = (value: string): Record<string, string> => ({ 'x-mock-fault': value });
const timeouts = (overrides: Partial<typeof DEFAULT_TIMEOUTS>) => ({ timeouts: { ...DEFAULT_TIMEOUTS, ...overrides } });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('outcome codes through the mock', () => {
  it.each<[string, OutcomeCode, Record<string, string>]>([
    ['429', 'http_429', fault('429=2500')],
    ['500', 'http_500', fault('500')],
    ['503', 'http_503', fault('503')],
    ['malformed frame', 'protocol_malformed_frame', fault('malformed-frame')],
    ['dropped connection', 'protocol_truncated', fault('disconnect-after=3')],
    ['no [DONE]', 'protocol_missing_done', fault('no-done')],
    ['error frame mid-stream', 'protocol_stream_error', fault('responses-error')],
  ])('%s -> %s', async (_name, expected, headers) => {
    const tl = await requestOnce(scenario(mock), {}, headers);
    expect(tl.outcome).toBe(expected);
    expect(tl.errorMessage).toBeTruthy();
  });

  it('a 429 records retry-after-ms', async () => {
    const tl = await requestOnce(scenario(mock), {}, fault('429=2500'));
    expect(tl.retryAfterMs).toBe(2500);
    expect(tl.status).toBe(429);
  });

  it('Responses error + response.failed -> protocol_stream_error', async () => {
    const tl = await requestOnce(scenario(mock, 'responses'), {}, fault('responses-error'));
    expect(tl.outcome).toBe('protocol_stream_error');
  });

  it('a wrong key -> http_401; an unknown deployment -> http_404', async () => {
    expect((await requestOnce(scenario(keyed))).outcome).toBe('http_401');
    expect(
      (await requestOnce(scenario(mock, 'chat', { target: mockTarget(mock, { deployment: 'nope' }) }))).outcome,
    ).toBe('http_404');
  });

  it('a closed port -> connect_error', async () => {
    const port = await freePort();
    const tl = await requestOnce(
      scenario(mock, 'chat', { target: mockTarget(mock, { baseUrl: `http://127.0.0.1:${port}` }) }),
    );
    expect(tl.outcome).toBe('connect_error');
  });

  it('slow headers -> timeout_headers', async () => {
    const tl = await requestOnce(scenario(mock), timeouts({ headersMs: 100 }), fault('slow-headers=1000'));
    expect(tl.outcome).toBe('timeout_headers');
    expect(tl.endMs!).toBeLessThan(500);
  });

  it('a late first token (the prompt-filter frame does not count) -> timeout_first_token', async () => {
    const tl = await requestOnce(scenario(mock), timeouts({ firstTokenMs: 400 }), { 'x-mock-ttft-ms': '600' });
    expect(tl.outcome).toBe('timeout_first_token');
    expect(tl.firstEventMs).toBeDefined();
  });

  it('a stall mid-stream -> timeout_idle', async () => {
    const tl = await requestOnce(scenario(mock), timeouts({ idleMs: 150 }), fault('stall=1000'));
    expect(tl.outcome).toBe('timeout_idle');
    expect(tl.contentArrivalsMs.length).toBeGreaterThan(0);
  });

  it('a long answer -> timeout_total', async () => {
    const tl = await requestOnce(scenario(mock), timeouts({ totalMs: 150 }), {
      'x-mock-itl-ms': '20',
      'x-mock-output-tokens': '100',
    });
    expect(tl.outcome).toBe('timeout_total');
  });

  it('an abort from the run -> aborted', async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const tl = await requestOnce(scenario(mock), {}, { 'x-mock-ttft-ms': '1000' }, abort.signal);
    expect(tl.outcome).toBe('aborted');
  });

  it('finish_reason "length" is flagged on an ok request', async () => {
    const tl = await requestOnce(scenario(mock, 'chat', { maxTokens: 4 }));
    expect(tl.outcome).toBe('ok');
    expect(tl.finishReason).toBe('length');
  });

  it('the SDK client maps faults to the same codes', async () => {
    expect((await requestOnce(scenario(mock), { client: 'sdk' }, fault('429'))).outcome).toBe('http_429');
    expect((await requestOnce(scenario(mock), { client: 'sdk' }, fault('responses-error'))).outcome).toBe(
      'protocol_stream_error',
    );
    expect((await requestOnce(scenario(mock), { client: 'sdk' }, fault('malformed-frame'))).outcome).toBe(
      'protocol_malformed_frame',
    );
  });
});
