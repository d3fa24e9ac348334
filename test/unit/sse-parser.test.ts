import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { createUniform } from '../../src/protocol/index.ts';
import { SseParser } from '../../src/protocol/sse-parser.ts';

type Seen = Array<['event', string, string | undefined] | ['comment', string]>;

/** Our parser; with `ended`, told the stream ended (end()), as the verifier's probe does. */
function ours(chunks: readonly string[], ended = false): Seen {
  const seen: Seen = [];
  const parser = new SseParser({
    onEvent: (data, event) => seen.push(['event', data, event]),
    onComment: (text) => seen.push(['comment', text]),
  });
  for (const chunk of chunks) parser.feed(chunk);
  if (ended) parser.end();
  return seen;
}

/** eventsource-parser, the reference; with `ended`, reset({ consume: true }) at the end. */
function reference(chunks: readonly string[], ended = false): Seen {
  const seen: Seen = [];
  const parser = createParser({
    onEvent: (e) => seen.push(['event', e.data, e.event]),
    onComment: (text) => seen.push(['comment', text]),
  });
  for (const chunk of chunks) parser.feed(chunk);
  if (ended) parser.reset({ consume: true });
  return seen;
}

/** Pieces of SSE, valid and not: fields with and without a space, comments, all three line ends, a BOM, unknown fields, multibyte text. */
const PIECES = [
  'data:',
  'data: ',
  'data',
  'event:',
  'event: ',
  'event',
  'id: 7',
  'retry: 10',
  ':',
  ': ',
  ': emit-ns=123',
  'x',
  ' ',
  'hello',
  '{"a":1}',
  'é☕',
  '\n',
  '\n',
  '\n\n',
  '\r',
  '\r\n',
  '\r\n\r\n',
  '\uFEFF',
  'dat',
  'a:',
  'data:data:',
];

function randomStream(next: () => number): { text: string; chunks: string[] } {
  const count = 1 + Math.floor(next() * 80);
  let text = '';
  for (let i = 0; i < count; i++) text += PIECES[Math.floor(next() * PIECES.length)];
  const chunks: string[] = [];
  for (let at = 0; at < text.length; ) {
    const size = Math.floor(next() * 8);
    chunks.push(text.slice(at, at + size));
    at += size;
  }
  return { text, chunks };
}

describe('SseParser', () => {
  it('parses a chat stream: events, names, multi-line data, comments', () => {
    const stream = ': emit-ns=5 seq=0\ndata: {"x":1}\n\nevent: response.created\ndata: a\ndata: b\n\ndata: [DONE]\n\n';
    expect(ours([stream])).toEqual([
      ['comment', 'emit-ns=5 seq=0'],
      ['event', '{"x":1}', undefined],
      ['event', 'a\nb', 'response.created'],
      ['event', '[DONE]', undefined],
    ]);
  });

  it('treats a CRLF split across chunks as one line end, and drops one leading BOM', () => {
    expect(ours(['\uFEFFdata: a\r', '\n\r', '\ndata: b\r\r'])).toEqual([
      ['event', 'a', undefined],
      ['event', 'b', undefined],
    ]);
    // Without the CRLF rule the lone LF would be a blank line and dispatch early.
    expect(ours(['data: a\r', '\ndata: b\n\n'])).toEqual([['event', 'a\nb', undefined]]);
  });

  it('drops an event the stream never ended', () => {
    expect(ours(['data: complete\n\ndata: cut'])).toEqual([['event', 'complete', undefined]]);
    expect(ours(['data: complete\n\ndata: cut'], true)).toEqual([['event', 'complete', undefined]]);
  });

  it('reads a last line without its line ending when the stream ends (a final comment is seen)', () => {
    expect(ours(['data: a\n\n: bye'], true)).toEqual([
      ['event', 'a', undefined],
      ['comment', 'bye'],
    ]);
    expect(ours(['data: a\n\n: bye'])).toEqual([['event', 'a', undefined]]);
  });

  it('agrees with eventsource-parser on 3,000 random streams, each cut at random and whole', () => {
    const next = createUniform(17);
    let events = 0;
    for (let i = 0; i < 3_000; i++) {
      const { text, chunks } = randomStream(next);
      const expected = reference(chunks);
      expect(ours(chunks), JSON.stringify(chunks)).toEqual(expected);
      expect(ours([text]), JSON.stringify(text)).toEqual(reference([text]));
      // Ended: a last line without its line ending is read; an unended event is dropped.
      expect(ours(chunks, true), JSON.stringify(chunks)).toEqual(reference(chunks, true));
      events += expected.length;
    }
    // The generator must exercise the parser, not feed it nothing.
    expect(events).toBeGreaterThan(4_000);
  });
});
