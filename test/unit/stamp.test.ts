import { createParser } from 'eventsource-parser';
import { describe, expect, it } from 'vitest';
import { formatStampLine, parseStampComment } from '../../src/protocol/index.ts';

describe('ground-truth stamps', () => {
  it('survive an SSE parser fed byte by byte, leaving the event data untouched', () => {
    const text = `${formatStampLine(123456789012345n, 7, 40250)}data: {"a":1}\n\n${formatStampLine(123456789012399n, 8)}data: 2\n\n`;
    const stamps: unknown[] = [];
    const data: string[] = [];
    const parser = createParser({
      onComment: (c) => stamps.push(parseStampComment(c)),
      onEvent: (e) => data.push(e.data),
    });
    for (const ch of text) parser.feed(ch);
    expect(stamps).toEqual([
      { emitNs: 123456789012345n, seq: 7, dueUs: 40250 },
      { emitNs: 123456789012399n, seq: 8 },
    ]);
    expect(data).toEqual(['{"a":1}', '2']);
  });

  it('ignores comments that are not stamps', () => {
    expect(parseStampComment(' keep-alive')).toBeUndefined();
    expect(parseStampComment('emit-ns=abc seq=1')).toBeUndefined();
  });
});
