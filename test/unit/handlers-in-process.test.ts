import { getResponse } from 'msw';
import { describe, expect, it } from 'vitest';
import { MockContext } from '../../stand-ins/azure-openai/context.ts';
import { createHandlers } from '../../stand-ins/azure-openai/handlers.ts';
import { resolveMockConfig } from '../../stand-ins/azure-openai/server.ts';

// The handlers work without any HTTP server: msw's getResponse is the whole host.
describe('mock handlers in-process', () => {
  const ctx = new MockContext(resolveMockConfig({ timing: { ttftMs: 0, itlMs: 0, jitterMs: 0, outputTokens: 5 } }));
  const handlers = createHandlers(ctx);
  const call = (path: string, body: unknown) =>
    getResponse(
      handlers,
      new Request(`http://mock.local${path}`, {
        method: 'POST',
        headers: { 'api-key': 'k' },
        body: JSON.stringify(body),
      }),
    );

  it('streams a chat completion', async () => {
    const response = (await call('/openai/v1/chat/completions', {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    }))!;
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await response.text();
    expect(text.match(/"delta":\{"content":"[^"]+"\}/g)).toHaveLength(5);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(ctx.stats.streamsCompleted).toBe(1);
  });

  it('answers unknown paths itself, as the HTTP adapter does: 404 Resource not found (the one route table)', async () => {
    const response = (await call('/openai/unknown', {}))!;
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('{"error":{"code":"404","message": "Resource not found"}}');
  });

  it('serves the admin routes through the same table (a 204 with no body included)', async () => {
    const health = (await getResponse(handlers, new Request('http://mock.local/_mock/health')))!;
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toBe('application/json');
    expect(await health.json()).toEqual({ ok: true });
    const reset = (await getResponse(handlers, new Request('http://mock.local/_mock/reset', { method: 'POST' })))!;
    expect(reset.status).toBe(204);
    expect(reset.body).toBeNull();
    expect(ctx.stats.requests).toBe(0);
  });
});

describe('the ReadableStream path (in-process) and the direct path (HTTP) agree', () => {
  const body = {
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  };
  const post = (handlers: ReturnType<typeof createHandlers>, headers: Record<string, string> = {}) =>
    getResponse(
      handlers,
      new Request('http://mock.local/openai/v1/chat/completions', {
        method: 'POST',
        headers: { 'api-key': 'k', 'x-mock-seed': '11', ...headers },
        body: JSON.stringify(body),
      }),
    );

  it('cancelling the reader stops generation and records it', async () => {
    const slow = new MockContext(
      resolveMockConfig({ timing: { ttftMs: 0, itlMs: 20, jitterMs: 0, outputTokens: 100 } }),
    );
    const response = (await post(createHandlers(slow)))!;
    const reader = response.body!.getReader();
    await reader.read();
    await reader.read();
    await reader.cancel();
    const record = slow.recorder.list().at(-1)!;
    expect(record.outcome).toBe('cancelled');
    const emitted = record.framesEmitted;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(record.framesEmitted).toBe(emitted);
    expect(slow.stats.activeStreams).toBe(0);
  });

  it('disconnect-after errors the stream only after the frames before it were read', async () => {
    const fast = createHandlers(
      new MockContext(resolveMockConfig({ timing: { ttftMs: 0, itlMs: 0, jitterMs: 0, outputTokens: 10 } })),
    );
    const response = (await post(fast, { 'x-mock-fault': 'disconnect-after=3' }))!;
    const reader = response.body!.getReader();
    const chunks: string[] = [];
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          chunks.push(new TextDecoder().decode(value));
        }
      })(),
    ).rejects.toThrow(/disconnect-after/);
    expect(
      chunks
        .join('')
        .split('\n\n')
        .filter((b) => b.startsWith('data: ')),
    ).toHaveLength(3);
  });
});
