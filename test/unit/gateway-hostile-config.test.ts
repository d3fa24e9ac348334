import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileCondition, ConditionError } from '../../mock-server/gateway/retry-condition.ts';
import { BackendsFileError, parseBackends } from '../../src/protocol/index.ts';

// The backends file and the retry condition are user input (issue 31): every hostile shape is a
// BackendsFileError / ConditionError naming the backend and the field, never a TypeError or a
// stack overflow, and a name that is an Object prototype key is just a name.
const single = (name: string, properties: Record<string, unknown> = { url: 'http://127.0.0.1:1/openai' }) => ({ name, properties });
const breaker = (cb: unknown) => [single('a', { url: 'http://127.0.0.1:1/openai', circuitBreaker: cb })];

const HOSTILE: Array<[string, unknown, RegExp]> = [
  ['circuitBreaker: null', breaker(null), /backend "a": circuitBreaker must be an object/],
  ['circuitBreaker: a string', breaker('on'), /backend "a": circuitBreaker must be an object/],
  ['rules: [null]', breaker({ rules: [null] }), /circuit breaker: its rule must be an object/],
  ['rules: {}', breaker({ rules: {} }), /rules must hold exactly one rule/],
  ['failureCondition: null', breaker({ rules: [{ failureCondition: null }] }), /failureCondition is missing/],
  ['statusCodeRanges as an object', breaker({ rules: [{ failureCondition: { count: 1, interval: 'PT1M', statusCodeRanges: { min: 500, max: 599 } }, tripDuration: 'PT1M' }] }), /statusCodeRanges must be a list/],
  ['statusCodeRanges: [null]', breaker({ rules: [{ failureCondition: { count: 1, interval: 'PT1M', statusCodeRanges: [null] }, tripDuration: 'PT1M' }] }), /statusCodeRanges entry null/],
  ['pool: null', [single('a'), { name: 'p', properties: { type: 'Pool', pool: null } }], /pool "p" needs pool, an object/],
  ['pool services: [null]', [single('a'), { name: 'p', properties: { type: 'Pool', pool: { services: [null] } } }], /pool "p" service 1: each service is an object/],
  ['pool services: a string', [single('a'), { name: 'p', properties: { type: 'Pool', pool: { services: 'a' } } }], /pool "p" needs pool\.services, a non-empty list/],
  ['properties: null', [{ name: 'a', properties: null }], /backend 1 needs "name" \(a string\) and "properties" \(an object\)/],
  ['the file is an object', { name: 'a' }, /a JSON array of backends/],
  ['a name with a space', [single('a b')], /a name is 1–80 letters/],
];

describe('a hostile backends file', () => {
  for (const [what, file, names] of HOSTILE) {
    it(`${what}: refused naming it`, () => {
      let thrown: unknown;
      try {
        parseBackends(file);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(BackendsFileError);
      expect((thrown as Error).message).toMatch(names);
    });
  }

  it('a backend named after an Object prototype key is only a name', () => {
    const table = parseBackends([single('constructor'), single('toString'), { name: 'hasOwnProperty', properties: { type: 'Pool', pool: { services: [{ id: '/backends/constructor' }, { id: '/backends/toString' }] } } }]);
    expect([...table.singles.keys()]).toEqual(['constructor', 'toString']);
    expect(table.pools.get('hasOwnProperty')!.members.map((m) => m.name)).toEqual(['constructor', 'toString']);
  });
});

describe('a hostile retry condition', () => {
  it('nesting thousands deep is refused, not a stack overflow; 64 levels still compile', () => {
    for (const deep of ['('.repeat(10_000) + 'true' + ')'.repeat(10_000), '!'.repeat(100_000) + 'true']) {
      expect(() => compileCondition(`@(${deep})`)).toThrow(ConditionError);
      expect(() => compileCondition(`@(${deep})`)).toThrow(/nested deeper than 64 levels/);
    }
    const ok = compileCondition(`@(${'('.repeat(60)}context.Response.StatusCode == 429${')'.repeat(60)})`);
    expect(ok({ statusCode: 429, statusReason: '' })).toBe(true);
  });
});

describe('the gateway CLI on a hostile backends file', () => {
  it('exits 2 naming the field, no stack trace; a backend named "constructor" without a url asks for its url', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-hostile-'));
    try {
      const run = (file: unknown) => {
        writeFileSync(join(dir, 'backends.json'), JSON.stringify(file));
        return spawnSync(process.execPath, ['mock-server/gateway/cli.ts', '--port', '0', '--policy', 'infra/policies/streaming.xml', '--backends', join(dir, 'backends.json')], { encoding: 'utf8', timeout: 20_000 });
      };
      for (const [, file, names] of [HOSTILE[0]!, HOSTILE[5]!, HOSTILE[7]!]) {
        const result = run(file);
        expect(result.status).toBe(2);
        expect(result.stderr).toMatch(names);
        expect(result.stderr).not.toMatch(/\n\s+at /);
      }
      const prototypeName = run([{ name: 'constructor', properties: {} }, { name: 'openai-backend', properties: { type: 'Pool', pool: { services: [{ id: '/backends/constructor' }] } } }]);
      expect(prototypeName.status).toBe(2);
      expect(prototypeName.stderr).toMatch(/backend "constructor" has no url in the backends file and none was given/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
