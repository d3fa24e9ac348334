import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BackendRouter } from '../../stand-ins/apim/backend-router.ts';
import { interpretPolicy, retryDelayMs } from '../../stand-ins/apim/policy.ts';
import { compileCondition } from '../../stand-ins/apim/retry-condition.ts';
import { isoDurationMs, parseBackends, parsePolicyXml, readBackendsFile } from '../../src/protocol/index.ts';

const read = (xml: string) => interpretPolicy(parsePolicyXml(xml, 'test.xml'), 'test.xml');

describe('retry conditions', () => {
  it('evaluates the AI-Gateway conditions, old and new, on status code and reason', () => {
    const xml = readFileSync('test/fixtures/policies/ai-gateway-backend-pool.xml', 'utf8');
    const retry = read(xml).retry!;
    expect(retry).toMatchObject({ count: 2, intervalMs: 0, firstFastRetry: true });
    // The older condition: a 503 from a backend is retried, APIM's own "pool unavailable" 503 is not.
    expect(retry.condition({ statusCode: 429, statusReason: 'Too Many Requests' })).toBe(true);
    expect(retry.condition({ statusCode: 503, statusReason: 'Service Unavailable' })).toBe(true);
    expect(
      retry.condition({ statusCode: 503, statusReason: 'Backend pool openai-backend is temporarily unavailable' }),
    ).toBe(false);
    expect(retry.condition({ statusCode: 200, statusReason: 'OK' })).toBe(false);
    const current = compileCondition('@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)');
    expect([200, 429, 500, 503].map((statusCode) => current({ statusCode, statusReason: '' }))).toEqual([
      false,
      true,
      false,
      true,
    ]);
    const range = compileCondition('@(context.Response.StatusCode >= 500 && !(context.Response.StatusCode == 501))');
    expect([499, 500, 501, 599].map((statusCode) => range({ statusCode, statusReason: '' }))).toEqual([
      false,
      true,
      false,
      true,
    ]);
  });

  it('refuses a condition it cannot evaluate faithfully, naming the grammar (exit 2 at start)', () => {
    const policy = (condition: string) =>
      `<policies><backend><retry count="1" interval="0" condition="${condition}"><forward-request /></retry></backend></policies>`;
    expect(() => read(policy('@(context.Response.Headers.GetValueOrDefault(&quot;x&quot;) == &quot;y&quot;)'))).toThrow(
      /"--policy".*cannot be evaluated locally.*Allowed: comparisons of context\.Response\.StatusCode/,
    );
    expect(() => read(policy('@(context.Response.StatusCode == )'))).toThrow(
      /StatusCode must be compared with an integer/,
    );
    expect(() =>
      read('<policies><backend><retry count="0" interval="0"><forward-request /></retry></backend></policies>'),
    ).toThrow(/count "0"/);
    // A retry that wraps no forward-request is not a backend retry: listed, not honoured.
    expect(
      read(
        '<policies><inbound><retry count="1" interval="0"><set-header name="x" exists-action="override"><value>1</value></set-header></retry></inbound></policies>',
      ).ignored[0],
    ).toMatch(/<retry>.*only a retry around forward-request/);
  });

  it('waits as the retry policy reference says: first fast retry, fixed, linear, capped exponential', () => {
    const base = {
      conditionText: 'true',
      condition: () => true,
      count: 5,
      maxIntervalMs: undefined,
      deltaMs: undefined,
      firstFastRetry: false,
    };
    expect([1, 2, 3].map((k) => retryDelayMs({ ...base, intervalMs: 1000 }, k))).toEqual([1000, 1000, 1000]);
    expect([1, 2, 3].map((k) => retryDelayMs({ ...base, intervalMs: 1000, firstFastRetry: true }, k))).toEqual([
      0, 1000, 1000,
    ]);
    expect([1, 2, 3].map((k) => retryDelayMs({ ...base, intervalMs: 1000, deltaMs: 500 }, k))).toEqual([
      1000, 1500, 2000,
    ]);
    expect(
      [1, 2, 3, 4].map((k) => retryDelayMs({ ...base, intervalMs: 1000, deltaMs: 500, maxIntervalMs: 3000 }, k)),
    ).toEqual([1000, 1500, 2500, 3000]);
  });
});

describe('backends file', () => {
  it('reads ISO 8601 durations', () => {
    expect(['PT1M', 'PT10S', 'PT0.5S', 'P1DT2H', 'PT1H30M'].map(isoDurationMs)).toEqual([
      60_000, 10_000, 500, 93_600_000, 5_400_000,
    ]);
    expect(['1m', 'P', 'PT', 'PT-1S', ''].map(isoDurationMs)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("reads the failover lab's file: two singles with AI-Gateway breakers and a priority pool", () => {
    const table = readBackendsFile('labs/failover/backends.json');
    expect([...table.singles.keys()]).toEqual(['ptu', 'payg']);
    expect(table.singles.get('ptu')!.breaker).toEqual({
      name: 'breakerRule',
      count: 1,
      intervalMs: 60_000,
      statusCodeRanges: [{ min: 429, max: 429 }],
      tripDurationMs: 60_000,
      acceptRetryAfter: true,
      errorReasons: [],
    });
    expect(table.pools.get('openai-backend')!.members).toEqual([
      { name: 'ptu', priority: 1, weight: 1 },
      { name: 'payg', priority: 2, weight: 1 },
    ]);
  });

  it('names the backend and the field APIM would refuse', () => {
    const pool = (services: unknown[]) => ({ name: 'p', properties: { type: 'Pool', pool: { services } } });
    const cases: Array<[unknown, RegExp]> = [
      [{}, /JSON array/],
      [[{ name: 'a b', properties: {} }], /backend "a b": a name is/],
      [
        [
          { name: 'a', properties: {} },
          { name: 'A', properties: {} },
        ],
        /"A" is named twice/,
      ],
      [[{ name: 'a', properties: { url: 'ftp://x' } }], /backend "a": url "ftp:\/\/x"/],
      [
        [{ name: 'a', properties: {} }, pool([{ id: '/backends/zz' }])],
        /pool "p" service 1: "zz" is not a single backend/,
      ],
      [[{ name: 'a', properties: {} }, pool([{ id: '/backends/a', weight: 0 }])], /weight 0/],
      [[{ name: 'a', properties: {} }, pool(Array.from({ length: 31 }, () => ({ id: '/backends/a' })))], /at most 30/],
      [[{ name: 'a', properties: { circuitBreaker: { rules: [] } } }], /exactly one rule/],
      [
        [
          {
            name: 'a',
            properties: {
              circuitBreaker: {
                rules: [
                  {
                    failureCondition: { count: 1, interval: '1m', statusCodeRanges: [{ min: 429, max: 429 }] },
                    tripDuration: 'PT1M',
                  },
                ],
              },
            },
          },
        ],
        /interval "1m"/,
      ],
      [
        [
          {
            name: 'a',
            properties: {
              circuitBreaker: {
                rules: [
                  {
                    failureCondition: { count: 1, interval: 'PT1M', statusCodeRanges: [{ min: 500, max: 429 }] },
                    tripDuration: 'PT1M',
                  },
                ],
              },
            },
          },
        ],
        /statusCodeRanges entry/,
      ],
    ];
    for (const [value, message] of cases) expect(() => parseBackends(value)).toThrow(message);
    // A full ARM id names the same backend as /backends/<name>.
    const table = parseBackends([
      { name: 'a', properties: {} },
      pool([{ id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x/backends/a' }]),
    ]);
    expect(table.pools.get('p')!.members[0]!.name).toBe('a');
  });
});

describe('backend router', () => {
  const table = parseBackends([
    {
      name: 'a',
      properties: {
        circuitBreaker: {
          rules: [
            {
              failureCondition: { count: 2, interval: 'PT10S', statusCodeRanges: [{ min: 500, max: 599 }] },
              tripDuration: 'PT5S',
            },
          ],
        },
      },
    },
    { name: 'b', properties: {} },
    {
      name: 'pool',
      properties: {
        type: 'Pool',
        pool: {
          services: [
            { id: '/backends/a', priority: 1, weight: 2 },
            { id: '/backends/b', priority: 1, weight: 1 },
          ],
        },
      },
    },
  ]);
  const urls = new Map([
    ['a', new URL('http://127.0.0.1:1/openai')],
    ['b', new URL('http://127.0.0.1:2/openai')],
  ]);

  it('spreads by weight in a fixed, exact order, and a tripped member leaves the group to the others', () => {
    let now = 0;
    const router = new BackendRouter(table, urls, () => now);
    const pick = () => {
      const choice = router.select('pool');
      return choice.kind === 'backend' ? choice.name : 'none';
    };
    expect(Array.from({ length: 6 }, pick)).toEqual(['a', 'b', 'a', 'a', 'b', 'a']);
    // count 2 within the interval: one failure does not trip, a failure 11 s later starts a new count.
    router.observe('a', 503, {});
    now = 11_000;
    router.observe('a', 503, {});
    expect(router.isTripped('a')).toBe(false);
    router.observe('a', 429, {});
    expect(router.isTripped('a')).toBe(false);
    router.observe('a', 500, {});
    expect(router.isTripped('a')).toBe(true);
    expect(Array.from({ length: 3 }, pick)).toEqual(['b', 'b', 'b']);
    now += 5_000;
    expect(router.isTripped('a')).toBe(false);
    expect(router.select('a')).toMatchObject({ kind: 'backend', name: 'a' });
  });
});
