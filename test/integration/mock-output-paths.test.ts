import { getResponse } from 'msw';
import { describe, expect, it } from 'vitest';

// The mock has two outputs: the ReadableStream (in-process getResponse users) and direct
// socket writes (the HTTP adapter). They must put the same bytes on the wire.
describe('the ReadableStream path (in-process) and the direct path (HTTP) agree', () => {
  const body = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  };
  const post = (
    handlers: Awaited<ReturnType<typeof import('../../stand-ins/azure-openai/server.ts').createMockServer>>['handlers'],
  ) =>
    getResponse(
      handlers,
      new Request('http://mock.local/openai/v1/chat/completions', {
        method: 'POST',
        headers: { 'api-key': 'k', 'x-mock-seed': '11' },
        body: JSON.stringify(body),
      }),
    );

  it('gives byte-identical frames for the same seed', async () => {
    const { createMockServer } = await import('../../stand-ins/azure-openai/server.ts');
    const mock = await createMockServer({ timing: { ttftMs: 0, itlMs: 0, jitterMs: 0, outputTokens: 7 } });
    try {
      const httpResponse = await fetch(`${mock.url}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'api-key': 'k', 'x-mock-seed': '11' },
        body: JSON.stringify(body),
      });
      const overHttp = await httpResponse.text();
      const inProcessResponse = (await post(mock.handlers))!;
      const inProcess = await inProcessResponse.text();
      // The same headers (aside from the request ids and the rate-limit counters, which move per request; node:http adds its own).
      const names = (headers: Headers) =>
        [...headers.keys()]
          .filter(
            (name) =>
              !/request-id|^date$|^connection$|^keep-alive$|^transfer-encoding$|^x-ratelimit-remaining/.test(name),
          )
          .sort();
      expect(names(httpResponse.headers)).toEqual(names(inProcessResponse.headers));
      for (const name of names(httpResponse.headers))
        expect(httpResponse.headers.get(name), name).toBe(inProcessResponse.headers.get(name));
      const created = /"created":(\d+)/g;
      // `created` is wall-clock seconds: normalise it, everything else must match.
      expect(inProcess.replaceAll(created, '')).toBe(overHttp.replaceAll(created, ''));
      expect(inProcess.match(/"delta":\{"content":"[^"]+"\}/g)).toHaveLength(7);
    } finally {
      await mock.close();
    }
  });
});
