import { getResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { MockContext } from '../../mock-server/context.ts';
import { createHandlers } from '../../mock-server/handlers.ts';
import { resolveMockConfig } from '../../mock-server/server.ts';

// The handlers work without any HTTP server: msw's getResponse is the whole host.
describe('mock handlers in-process', () => {
  const ctx = new MockContext(resolveMockConfig({ timing: { ttftMs: 0, itlMs: 0, jitterMs: 0, outputTokens: 5 } }));
  const handlers = createHandlers(ctx);
  const call = (path: string, body: unknown) =>
    getResponse(handlers, new Request(`http://mock.local${path}`, { method: 'POST', headers: { 'api-key': 'k' }, body: JSON.stringify(body) }));

  it('streams a chat completion', async () => {
    const response = (await call('/openai/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream: true }))!;
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await response.text();
    expect(text.match(/"delta":\{"content":"[^"]+"\}/g)).toHaveLength(5);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(ctx.stats.streamsCompleted).toBe(1);
  });

  it('leaves unknown paths unhandled (the HTTP adapter answers 404)', async () => {
    expect(await call('/openai/unknown', {})).toBeUndefined();
  });
});
