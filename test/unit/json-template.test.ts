import { describe, expect, it } from 'vitest';
import { createJsonTemplate } from '../../mock-server/frames/json-template.ts';

describe('JSON frame templates', () => {
  it('produce exactly what JSON.stringify would, for strings, numbers, null and repeats', () => {
    const build = (a: unknown, b: unknown) => ({ choices: [{ delta: { content: a } }], n: b, again: a, tail: { x: [1, 'two'] } });
    const template = createJsonTemplate(2, ([a, b]) => build(a, b));
    for (const [a, b] of [['hi', 3], ['quote " and \\ and \n', null], ['\u2615 emoji', 0], ['', -1.5]] as const) {
      expect(template([a, b])).toBe(JSON.stringify(build(a, b)));
    }
  });

  it('works when a value is a JSON-looking string', () => {
    const template = createJsonTemplate(1, ([a]) => ({ a }));
    expect(template(['"\\u0000slot0\\u0000"'])).toBe(JSON.stringify({ a: '"\\u0000slot0\\u0000"' }));
  });
});
