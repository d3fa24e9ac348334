import { describe, expect, it } from 'vitest';
import { createJsonTemplate } from '../../stand-ins/azure-openai/frames/json-template.ts';
import { createPrng } from '../../stand-ins/azure-openai/prng.ts';
import { generateTokens, MULTIBYTE_TOKEN, TokenSequence } from '../../stand-ins/azure-openai/corpus.ts';

describe('JSON frame templates', () => {
  it('produce exactly what JSON.stringify would, for strings, numbers, null and repeats', () => {
    const build = (a: unknown, b: unknown) => ({
      choices: [{ delta: { content: a } }],
      n: b,
      again: a,
      tail: { x: [1, 'two'] },
    });
    const template = createJsonTemplate(2, ([a, b]) => build(a, b));
    for (const [a, b] of [
      ['hi', 3],
      ['quote " and \\ and \n', null],
      ['\u2615 emoji', 0],
      ['', -1.5],
    ] as const) {
      expect(template([a, b])).toBe(JSON.stringify(build(a, b)));
    }
  });

  it('fromJson with the values already encoded gives the same frames', () => {
    const build = (a: unknown, b: unknown) => ({ choices: [{ delta: { content: a } }], n: b, again: a });
    const template = createJsonTemplate(2, ([a, b]) => build(a, b));
    for (const [a, b] of [
      ['hi', 3],
      ['quote " and \\ and \n', null],
      ['\u2615', 'x'],
    ] as const) {
      expect(template.fromJson([JSON.stringify(a), JSON.stringify(b)])).toBe(template([a, b]));
    }
  });

  it('a token sequence: its JSON is JSON.stringify of each token, it cycles the corpus, and one token can be replaced', () => {
    const tokens = generateTokens(5_000, createPrng(1));
    const all = tokens.toArray();
    expect(all).toHaveLength(5_000);
    expect(new Set(all).size).toBeGreaterThan(100);
    for (let i = 0; i < tokens.length; i++) expect(tokens.json(i)).toBe(JSON.stringify(all[i]));
    // The corpus repeats with a fixed period: the sequence is the corpus from some place, cycling.
    const period = all.findIndex((_, i) => i > 0 && all.slice(i, i + 200).join('') === all.slice(0, 200).join(''));
    expect(period).toBeGreaterThan(100);
    for (let i = 0; i + period < all.length; i++) expect(all[i + period]).toBe(all[i]);
    expect(tokens.join()).toBe(all.join(''));
    const replaced = new TokenSequence(3, 10);
    const before = replaced.toArray();
    replaced.replace(5, MULTIBYTE_TOKEN);
    expect(replaced.toArray()).toEqual([...before.slice(0, 5), MULTIBYTE_TOKEN, ...before.slice(6)]);
    expect(replaced.json(5)).toBe(JSON.stringify(MULTIBYTE_TOKEN));
    expect(replaced.join()).toBe(replaced.toArray().join(''));
  });

  it('works when a value is a JSON-looking string', () => {
    const template = createJsonTemplate(1, ([a]) => ({ a }));
    expect(template(['"\\u0000slot0\\u0000"'])).toBe(JSON.stringify({ a: '"\\u0000slot0\\u0000"' }));
  });
});
