import { describe, expect, it } from 'vitest';
import { createJsonTemplate } from '../../mock-server/frames/json-template.ts';
import { createPrng } from '../../mock-server/prng.ts';
import { generateTokens, MULTIBYTE_TOKEN, tokenJson } from '../../mock-server/text.ts';

describe('JSON frame templates', () => {
  it('produce exactly what JSON.stringify would, for strings, numbers, null and repeats', () => {
    const build = (a: unknown, b: unknown) => ({ choices: [{ delta: { content: a } }], n: b, again: a, tail: { x: [1, 'two'] } });
    const template = createJsonTemplate(2, ([a, b]) => build(a, b));
    for (const [a, b] of [['hi', 3], ['quote " and \\ and \n', null], ['\u2615 emoji', 0], ['', -1.5]] as const) {
      expect(template([a, b])).toBe(JSON.stringify(build(a, b)));
    }
  });

  it('fromJson with the values already encoded gives the same frames', () => {
    const build = (a: unknown, b: unknown) => ({ choices: [{ delta: { content: a } }], n: b, again: a });
    const template = createJsonTemplate(2, ([a, b]) => build(a, b));
    for (const [a, b] of [['hi', 3], ['quote " and \\ and \n', null], ['\u2615', 'x']] as const) {
      expect(template.fromJson([JSON.stringify(a), JSON.stringify(b)])).toBe(template([a, b]));
    }
  });

  it('tokenJson is JSON.stringify for every corpus token, the multibyte one and any other string', () => {
    const tokens = new Set(generateTokens(5_000, createPrng(1)));
    expect(tokens.size).toBeGreaterThan(100);
    for (const token of [...tokens, MULTIBYTE_TOKEN, 'a "quoted" \\ token\n', '']) expect(tokenJson(token)).toBe(JSON.stringify(token));
  });

  it('works when a value is a JSON-looking string', () => {
    const template = createJsonTemplate(1, ([a]) => ({ a }));
    expect(template(['"\\u0000slot0\\u0000"'])).toBe(JSON.stringify({ a: '"\\u0000slot0\\u0000"' }));
  });
});
