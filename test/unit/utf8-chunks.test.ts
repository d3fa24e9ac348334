import { describe, expect, it } from 'vitest';
import { wholeUtf8Length } from '../../src/client/http-request.ts';

// Characters of every UTF-8 length: 1 (ASCII), 2 (é), 3 (€, 中) and 4 bytes (emoji, 𝄞).
const ALPHABET = ['a', ' ', '\n', 'é', 'ß', '€', '中', '🌍', '𝄞', '"'];

function randomText(random: () => number, length: number): string {
  let text = '';
  for (let i = 0; i < length; i++) text += ALPHABET[Math.floor(random() * ALPHABET.length)];
  return text;
}

function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** Decodes chunks the way the timed client does: whole characters now, a cut-off one with the next chunk. */
function decodeChunks(chunks: Buffer[]): string {
  let held: Buffer | undefined;
  let text = '';
  for (let chunk of chunks) {
    if (held !== undefined) chunk = Buffer.concat([held, chunk]);
    const end = wholeUtf8Length(chunk);
    held = end === chunk.length ? undefined : Buffer.from(chunk.subarray(end));
    text += chunk.toString('utf8', 0, end);
  }
  return text + (held?.toString('utf8') ?? '');
}

describe('wholeUtf8Length', () => {
  it('cuts before a character split at the end, and only then', () => {
    const bytes = Buffer.from('a€🌍', 'utf8'); // 1 + 3 + 4 bytes
    expect([...Array(bytes.length + 1).keys()].map((n) => wholeUtf8Length(bytes.subarray(0, n)))).toEqual([
      0, 1, 1, 1, 4, 4, 4, 4, 8,
    ]);
  });

  it('holds back at most 3 bytes, at a character boundary', () => {
    const random = lcg(7);
    for (let round = 0; round < 200; round++) {
      const bytes = Buffer.from(randomText(random, 20), 'utf8');
      for (let cut = 0; cut <= bytes.length; cut++) {
        const end = wholeUtf8Length(bytes.subarray(0, cut));
        expect(cut - end).toBeLessThanOrEqual(3);
        expect(bytes.subarray(0, end).toString('utf8')).not.toContain('\uFFFD');
      }
    }
  });

  it('decodes any chunking of a UTF-8 text to the text', () => {
    const random = lcg(42);
    for (let round = 0; round < 2000; round++) {
      const text = randomText(random, 1 + Math.floor(random() * 40));
      const bytes = Buffer.from(text, 'utf8');
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const size = 1 + Math.floor(random() * 6);
        chunks.push(bytes.subarray(at, at + size));
        at += size;
      }
      expect(decodeChunks(chunks)).toBe(text);
    }
  });

  it('leaves invalid bytes to the decoder, as a StringDecoder does', () => {
    // A lone continuation byte and a truncated sequence at the very end of the body.
    expect(decodeChunks([Buffer.from([0x61, 0x80]), Buffer.from([0x62, 0xe2, 0x82])])).toBe(`a\uFFFDb\uFFFD`);
  });
});
