import { readdirSync, readFileSync } from 'node:fs';
import { brotliDecompressSync } from 'node:zlib';
import * as gptCl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as gptO200k from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { countChatPromptTokens, countTextTokens } from '../../src/protocol/prompt-tokens.ts';
import { BpeEncoding, bpeDataUrl, bpeEncoding, SHORT_PIECE_BYTES, type EncodingName } from '../../src/protocol/bpe.ts';
import { createUniform } from '../../src/protocol/random.ts';
import { bpeDataBytes, ENCODINGS, packageRanks } from '../../scripts/tokenizer-data.ts';

// gpt-tokenizer is the reference: our compact encoder must give its tokens, exactly.
const REFERENCE = { o200k_base: gptO200k, cl100k_base: gptCl100k } as const;
const reference = (name: EncodingName, text: string): number[] =>
  REFERENCE[name].encode(text, { disallowedSpecial: new Set() });

/** Pools of characters the pre-tokenizer patterns treat differently. */
const POOLS = [
  'abcdefghijklmnopqrstuvwxyz',
  'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
  '0123456789',
  ' ',
  '  \t\n\r\n',
  '.,;:!?-_\'"()[]{}<>/\\|@#$%^&*+=~`',
  "'s'S'll'VE're'd'm't",
  'àéîõüçñßøåæœÀÉÎÕÜÇÑ',
  'приветмирПРИВЕТ',
  'مرحبابالعالم',
  '日本語のテキスト中文字符',
  '한국어텍스트',
  'हिन्दीपाठ्य',
  'e\u0301a\u0308o\u0303', // combining marks
  '😀🎉👍🏽👨‍👩‍👧‍👦🇸🇪',
  '\u00a0\u2028\u3000\u200b',
  '<|endoftext|><|im_start|>',
];

function randomText(uniform: () => number): string {
  let text = '';
  const words = Math.floor(uniform() * 12);
  for (let w = 0; w < words; w++) {
    const pool = [...POOLS[Math.floor(uniform() * POOLS.length)]!];
    const length = 1 + Math.floor(uniform() * 9);
    for (let i = 0; i < length; i++) text += pool[Math.floor(uniform() * pool.length)]!;
    if (uniform() < 0.6) text += ' ';
  }
  return text;
}

const FIXED_TEXTS = [
  '',
  'Hello, world!',
  'Streaming keeps the first token close to the user, even when the full answer takes seconds.',
  "I'm sure they'll say it's fine; WE'RE NOT, you've seen it.",
  'x = 1234567890 + 3.14159; // a comment\n\tif (x) { return; }\n\n\n',
  '    indented\n        more\n',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  'Supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis',
  'The <|endoftext|> and <|im_start|>user spellings are ordinary text in a prompt.',
  '日本語のテキストと English が混ざった文章です。',
  'Ελληνικά, עברית, ქართული, ไทย, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
  '👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 🇸🇪 Sweden',
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
];

/** Fixture texts from real Azure captures: the content of every SSE frame, joined. */
function fixtureTexts(): string[] {
  const dir = new URL('../fixtures/azure-openai/', import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sse') || f.endsWith('.json'))
    .map((f) => readFileSync(new URL(f, dir), 'utf8'));
}

describe('byte-pair encodings (src/protocol/bpe.ts)', () => {
  for (const name of ENCODINGS) {
    describe(name, () => {
      it("the committed data file holds the package's ranks, byte for byte (npm run tokenizer:data writes it)", async () => {
        const committed = brotliDecompressSync(readFileSync(bpeDataUrl(name)));
        const expected = bpeDataBytes(await packageRanks(name));
        expect(committed.length).toBe(expected.length);
        expect(Buffer.compare(committed, expected)).toBe(0);
      });

      it('every rank decodes to the bytes the package gives it', async () => {
        const ranks = await packageRanks(name);
        const ours = bpeEncoding(name);
        expect(ours.size).toBe(ranks.length);
        const utf8 = new TextEncoder();
        for (let rank = 0; rank < ranks.length; rank += 97) {
          const token = ranks[rank]!;
          expect([...ours.tokenBytes(rank)]).toEqual(typeof token === 'string' ? [...utf8.encode(token)] : token);
        }
      });

      it("encodes fixed and captured texts to the package's tokens, and back", () => {
        const ours = bpeEncoding(name);
        for (const text of [...FIXED_TEXTS, ...fixtureTexts()]) {
          const tokens = ours.encode(text);
          expect(tokens, text.slice(0, 80)).toEqual(reference(name, text));
          expect(ours.count(text)).toBe(tokens.length);
          expect(ours.decode(tokens)).toBe(text);
        }
      });

      it("encodes 3,000 random mixed-script texts to the package's tokens", () => {
        const ours = bpeEncoding(name);
        const uniform = createUniform(name === 'o200k_base' ? 17 : 29);
        let mismatches = 0;
        let first = '';
        for (let i = 0; i < 3000; i++) {
          const text = randomText(uniform);
          const tokens = ours.encode(text);
          if (
            JSON.stringify(tokens) !== JSON.stringify(reference(name, text)) ||
            ours.count(text) !== tokens.length ||
            ours.decode(tokens) !== text
          ) {
            mismatches++;
            first ||= JSON.stringify(text);
          }
        }
        expect(mismatches, `first: ${first}`).toBe(0);
      });

      it('encodes lone surrogates (JSON may carry them) as U+FFFD, as the package does', () => {
        for (const text of ['\ud800', 'a\ud800b', ' \udc00 x', 'x\ud83d\ude00\ud800'])
          expect(bpeEncoding(name).encode(text)).toEqual(reference(name, text));
      });

      it('merges long pieces (the heap, past SHORT_PIECE_BYTES) as the package does, at every length around the switch', () => {
        const uniform = createUniform(5);
        // Runs the pre-tokenizer keeps whole: letters of one script, punctuation, whitespace.
        const runs = [
          'etaoinshrdlu',
          'ETAOINshrdlu',
          'éèàçñüöß',
          'приветмир',
          '日本語のテキスト中文',
          '.,;:!?-_*#',
          ' \t',
        ];
        const ours = bpeEncoding(name);
        let checked = 0;
        for (const alphabet of runs) {
          const chars = [...alphabet];
          for (const length of [
            SHORT_PIECE_BYTES - 2,
            SHORT_PIECE_BYTES - 1,
            SHORT_PIECE_BYTES,
            SHORT_PIECE_BYTES + 1,
            SHORT_PIECE_BYTES + 2,
            700,
            3000,
          ]) {
            const text = Array.from({ length }, () => chars[Math.floor(uniform() * chars.length)]).join('');
            const tokens = ours.encode(text);
            expect(tokens, `${alphabet} x ${length}`).toEqual(reference(name, text));
            expect(ours.count(text)).toBe(tokens.length);
            checked++;
          }
        }
        expect(checked).toBe(runs.length * 7);
      });
    });
  }

  it("counts a special token's spelling as the characters it is, as the service counts a prompt", () => {
    const o200k = bpeEncoding('o200k_base');
    expect(o200k.count('<|endoftext|>')).toBeGreaterThan(1);
    expect(o200k.encode('<|endoftext|>')).not.toContain(199999);
    // The mock counts a prompt that spells one (gpt-tokenizer's default encode would throw).
    expect(countTextTokens('say <|endoftext|> now')).toBe(o200k.count('say <|endoftext|> now'));
    expect(countChatPromptTokens([{ role: 'user', content: '<|im_start|>' }])).toBe(
      3 + 3 + o200k.count('user') + o200k.count('<|im_start|>'),
    );
  });

  it('refuses a rank it does not hold and a file that is not its format', () => {
    const o200k = bpeEncoding('o200k_base');
    expect(() => o200k.tokenBytes(o200k.size)).toThrow(/no token/);
    expect(() => o200k.tokenBytes(-1)).toThrow(/no token/);
    expect(() => new BpeEncoding('o200k_base', new TextEncoder().encode('nope'))).toThrow(
      /not a byte-pair encoding data file/,
    );
  });
});
