import { getResponse } from 'msw';
import { describe, expect, it } from 'vitest';

// The mock has two outputs: the ReadableStream (in-process getResponse users) and direct
// socket writes (the HTTP adapter). They must put the same bytes on the wire.
describe('the ReadableStream path (in-process) and the direct path (HTTP) agree', () => {
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } };
  const post = (handlers: Awaited<ReturnType<typeof import('../../mock-server/server.ts').createMockServer>>['handlers']) =>
    getResponse(handlers, new Request('http://mock.local/openai/v1/chat/completions', { method: 'POST', headers: { 'api-key': 'k', 'x-mock-seed': '11' }, body: JSON.stringify(body) }));

  it('gives byte-identical frames for the same seed', async () => {
    const { createMockServer } = await import('../../mock-server/server.ts');
    const mock = await createMockServer({ timing: { ttftMs: 0, itlMs: 0, jitterMs: 0, outputTokens: 7 } });
    try {
      const overHttp = await (await fetch(`${mock.url}/openai/v1/chat/completions`, { method: 'POST', headers: { 'api-key': 'k', 'x-mock-seed': '11' }, body: JSON.stringify(body) })).text();
      const inProcess = await (await post(mock.handlers))!.text();
      const created = /"created":(\d+)/g;
      // `created` is wall-clock seconds: normalise it, everything else must match.
      expect(inProcess.replaceAll(created, '')).toBe(overHttp.replaceAll(created, ''));
      expect(inProcess.match(/"delta":\{"content":"[^"]+"\}/g)).toHaveLength(7);
    } finally {
      await mock.close();
    }
  });

});
