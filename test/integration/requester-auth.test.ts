import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createAuthHeaders } from '../../src/endpoint/auth.ts';
import { createRequester } from '../../src/client/requester.ts';
import type { Scenario } from '../../src/endpoint/types.ts';

// A token that is ready only later (Entra's, here without Azure): the requester waits for it,
// then sends the request with it. Keys are known at once and need no wait.
vi.mock('@azure/identity', () => ({
  DefaultAzureCredential: class {
    calls = 0;
    async getToken(): Promise<{ token: string; expiresOnTimestamp: number }> {
      await new Promise((resolve) => setTimeout(resolve, 5));
      this.calls++;
      return { token: `token-${this.calls}`, expiresOnTimestamp: Date.now() + 3_600_000 };
    }
  },
}));

let server: http.Server;
let url: string;
const seen: Array<Record<string, string | string[] | undefined>> = [];
beforeAll(async () => {
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'text/event-stream' })
        .end(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: 'hi' } }] })}\n\ndata: [DONE]\n\n`),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const scenario = (auth: Scenario['target']['auth']): Scenario => ({
  api: 'chat',
  stream: true,
  maxTokens: undefined,
  messages: [{ role: 'user', content: 'hello' }],
  target: {
    label: 'direct',
    baseUrl: url,
    apiStyle: 'azure',
    deployment: 'gpt-4o-mini',
    apiVersion: '2024-10-21',
    auth,
  },
});

describe('auth headers on each request', () => {
  it('a key is known at once: the headers come back as they are, not as a promise', async () => {
    const headers = await createAuthHeaders(
      { kind: 'subscription-key', envName: 'SUB', header: 'Ocp-Apim-Subscription-Key' },
      { SUB: 's3cret' },
    );
    const value = headers();
    expect(value).not.toBeInstanceOf(Promise);
    expect(value).toEqual({ 'Ocp-Apim-Subscription-Key': 's3cret' });
  });

  it('a token that is ready later is awaited, then sent, on every request', async () => {
    seen.length = 0;
    const requester = await createRequester(scenario({ kind: 'entra' }), { headers: { 'x-run': 'r1' } });
    const timelines = await Promise.all([
      requester(process.hrtime.bigint()),
      requester(process.hrtime.bigint(), undefined, { 'x-extra': 'e' }),
    ]);
    expect(timelines.map((tl) => [tl.outcome, tl.text])).toEqual([
      ['ok', 'hi'],
      ['ok', 'hi'],
    ]);
    expect(seen).toHaveLength(2);
    for (const headers of seen) {
      expect(headers['authorization']).toMatch(/^Bearer token-\d$/);
      expect(headers['x-run']).toBe('r1');
    }
    expect(seen.filter((headers) => headers['x-extra'] === 'e')).toHaveLength(1);
  });

  it('a key reaches the server under its header', async () => {
    seen.length = 0;
    const requester = await createRequester(scenario({ kind: 'api-key', envName: 'K' }), { env: { K: 'the-key' } });
    const tl = await requester(process.hrtime.bigint());
    expect(tl.outcome).toBe('ok');
    expect(seen[0]!['api-key']).toBe('the-key');
  });
});
