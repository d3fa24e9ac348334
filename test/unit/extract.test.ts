import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { extractEvent } from '../../src/client/extract.ts';
import type { ApiKind } from '../../src/protocol/index.ts';
import { readFixture } from '../helpers/mock.ts';

/** Feeds a capture to the parser in chunks of `size` bytes and collects what the client would extract. */
function extractAll(api: ApiKind, text: string, size: number) {
  const out: Array<ReturnType<typeof extractEvent>> = [];
  const parser = createParser({
    onEvent(e) {
      if (e.data !== '[DONE]') out.push(extractEvent(api, e.event, JSON.parse(e.data)));
    },
  });
  const bytes = Buffer.from(text);
  const decoder = new TextDecoder();
  for (let i = 0; i < bytes.length; i += size)
    parser.feed(decoder.decode(bytes.subarray(i, i + size), { stream: true }));
  return out;
}

describe('content extraction from real captures, byte by byte and in odd chunks', () => {
  for (const size of [1, 7, 4096]) {
    it(`chat 2026 capture (chunks of ${size}): the first content is "Hi", never the filter or role frame`, () => {
      const events = extractAll('chat', readFixture('chat-stream-2026-usage-obfuscation.sse'), size);
      expect(events[0]!.content).toBeUndefined();
      expect(events[1]!.content).toBeUndefined();
      expect(events[2]!.content).toBe('Hi');
      expect(events[3]!.finishReason).toBe('stop');
      expect(events[4]!.usage).toEqual({ promptTokens: 23, completionTokens: 11 });
    });
  }

  it('the async-filter annotation frame carries no content', () => {
    expect(extractAll('chat', readFixture('chat-stream-async-filter-annotation.sse'), 3)[0]!.content).toBeUndefined();
  });

  it('completions text, On Your Data content after the context frame, Responses deltas and terminal event', () => {
    expect(extractAll('completions', readFixture('completions-stream.sse'), 5).map((e) => e.content)).toEqual([
      'I',
      undefined,
      undefined,
    ]);
    const oyd = extractAll('on-your-data', readFixture('on-your-data-stream.sse'), 11);
    expect(oyd.map((e) => e.content)).toEqual([undefined, '42 is the meaning of life', undefined]);
    const responses = extractAll('responses', readFixture('responses-stream.sse'), 13);
    expect(responses.filter((e) => e.content).map((e) => e.content)).toEqual(['Hi', ' there']);
    expect(responses.at(-1)).toMatchObject({
      isTerminal: true,
      finishReason: 'stop',
      usage: { promptTokens: 5, completionTokens: 2 },
    });
    expect(responses[0]!.responseId).toMatch(/^resp_/);
  });

  it('error frames are reported', () => {
    expect(extractEvent('chat', undefined, { error: { message: 'boom' } }).error).toBe('boom');
    expect(extractEvent('responses', 'error', { type: 'error', code: 'x', message: 'rate' }).error).toBe('rate');
    expect(
      extractEvent('responses', 'response.failed', {
        type: 'response.failed',
        response: { error: { message: 'failed' } },
      }),
    ).toMatchObject({ isTerminal: true, error: 'failed' });
  });
});
