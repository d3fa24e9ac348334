import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadGatewayPolicy } from '../../stand-ins/apim/policy.ts';
import { createGateway, type Gateway } from '../../stand-ins/apim/server.ts';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { parseBackends, type BackendEntry, type GatewayLogEntry } from '../../src/protocol/index.ts';
import { pairedShift, shiftVerdict } from '../../src/metrics/paired-shift.ts';
import { policyFile, policyXml } from '../helpers/gateway.ts';
import { mockTarget, requestOnce, scenario } from '../helpers/bench.ts';
import { API_VERSION, startFastMock, TEST_KEY, USER_MESSAGES } from '../helpers/mock.ts';

const CHAT = `/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`;
/** The AI-Gateway backend-pool lab's retry, around set-backend-service and a buffered request body. */
const RETRY_POLICY = policyFile(
  policyXml({
    inbound: '<authentication-managed-identity resource="https://cognitiveservices.azure.com" />',
    backend: `<retry count="2" interval="0" first-fast-retry="true" condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)">
      <set-backend-service backend-id="openai-backend" /><forward-request buffer-request-body="true" buffer-response="false" /></retry>`,
  }),
);
const NO_RETRY_POLICY = policyFile(
  policyXml({
    inbound:
      '<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />',
  }),
);

/** AI-Gateway's breaker: one 429 within a minute trips the backend. */
const breaker = (tripDuration: string, acceptRetryAfter: boolean) => ({
  rules: [
    {
      name: 'breakerRule',
      failureCondition: { count: 1, interval: 'PT1M', statusCodeRanges: [{ min: 429, max: 429 }] },
      tripDuration,
      acceptRetryAfter,
    },
  ],
});

let mocks: Record<'a' | 'b' | 'c', MockServer>;
beforeAll(async () => {
  const [a, b, c] = await Promise.all(
    [0, 1, 2].map(() => startFastMock({ timing: { ttftMs: 5, itlMs: 2, jitterMs: 0, outputTokens: 8 } })),
  );
  mocks = { a: a!, b: b!, c: c! };
});
afterAll(() => Promise.all(Object.values(mocks).map((m) => m.close())));
beforeEach(async () => {
  for (const mock of Object.values(mocks)) {
    await setFault(mock, '');
    await fetch(`${mock.url}/_mock/reset`, { method: 'POST' });
  }
});

/** The mock's standing fault, through its admin route (as the failover lab sets it). */
async function setFault(mock: MockServer, spec: string): Promise<void> {
  const response = await fetch(`${mock.url}/_mock/faults`, { method: 'PUT', body: spec });
  expect(response.status).toBe(200);
}

/** Each single backend of the file played by the mock of the same name (or the one given). */
const urlsFor = (entries: BackendEntry[], alias: Record<string, MockServer> = {}) =>
  Object.fromEntries(
    entries
      .filter((e) => e.properties.type !== 'Pool')
      .map((e) => [e.name, `${(alias[e.name] ?? mocks[e.name as 'a'])!.url}/openai`]),
  );
const requestsTo = async (mock: MockServer): Promise<number> =>
  ((await (await fetch(`${mock.url}/_mock/requests`)).json()) as unknown[]).length;

async function start(
  entries: BackendEntry[],
  policy: string,
  clock?: { now: number },
  alias: Record<string, MockServer> = {},
): Promise<{ gateway: Gateway; log: GatewayLogEntry[] }> {
  const log: GatewayLogEntry[] = [];
  const gateway = await createGateway({
    policy: loadGatewayPolicy(policy),
    backends: parseBackends(entries),
    backendUrls: urlsFor(entries, alias),
    backendKey: TEST_KEY,
    host: '127.0.0.1',
    port: 0,
    accessLog: (entry) => void log.push(entry),
    ...(clock ? { now: () => clock.now } : {}),
  });
  return { gateway, log };
}

/** One streamed chat request through the gateway, read to its end; the log line it left. */
async function stream(
  gateway: Gateway,
  log: GatewayLogEntry[],
): Promise<{ status: number; text: string; entry: GatewayLogEntry; ms: number }> {
  const before = log.length;
  const started = performance.now();
  const response = await fetch(gateway.url + CHAT, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ messages: USER_MESSAGES, stream: true }),
  });
  let text = '';
  const decoder = new TextDecoder();
  try {
    for await (const chunk of response.body!) text += decoder.decode(chunk, { stream: true });
  } catch {
    // A stream cut after its first bytes: what was read is what the client saw.
  }
  const ms = performance.now() - started;
  for (let i = 0; i < 100 && log.length === before; i++) await new Promise((r) => setTimeout(r, 5));
  return { status: response.status, text, entry: log[before]!, ms };
}

const pool = (services: Array<{ id: string; priority?: number; weight?: number }>): BackendEntry => ({
  name: 'openai-backend',
  properties: { type: 'Pool', pool: { services } },
});
const single = (name: string, extra: Record<string, unknown> = {}): BackendEntry => ({
  name,
  properties: { protocol: 'http', ...extra },
});
/** `a` at priority 1, `b` behind it, each with the properties given (a breaker, say). */
const primaryFirst = (a: Record<string, unknown> = {}, b: Record<string, unknown> = {}): BackendEntry[] => [
  single('a', a),
  single('b', b),
  pool([
    { id: '/backends/a', priority: 1 },
    { id: '/backends/b', priority: 2 },
  ]),
];
const route = (entry: GatewayLogEntry): string =>
  entry.attempts.map((a) => `${a.backend ?? '-'}:${a.status ?? 'none'}`).join(' ');

describe('local gateway: APIM backends (pools, circuit breakers, retry)', { timeout: 30_000 }, () => {
  it('routes a pool by priority group, and by weight inside it: 3:1 gives 6 of 8 to the heavier backend and none to priority 2', async () => {
    const { gateway, log } = await start(
      [
        single('a'),
        single('b'),
        single('c'),
        pool([
          { id: '/backends/a', priority: 1, weight: 3 },
          { id: '/backends/b', priority: 1, weight: 1 },
          { id: '/backends/c', priority: 2 },
        ]),
      ],
      NO_RETRY_POLICY,
    );
    try {
      const served: string[] = [];
      for (let i = 0; i < 8; i++) {
        const result = await stream(gateway, log);
        expect(result.status).toBe(200);
        expect(result.text).toContain('data: [DONE]');
        served.push(result.entry.backendId!);
      }
      expect(served.filter((s) => s === 'a')).toHaveLength(6);
      expect(served.filter((s) => s === 'b')).toHaveLength(2);
      expect(await requestsTo(mocks.c)).toBe(0);
    } finally {
      await gateway.close();
    }
  });

  it('a 429 before any byte trips the primary and the retry lands on the secondary; later requests skip it until the trip ends (fake clock)', async () => {
    const clock = { now: 1_000_000 };
    const { gateway, log } = await start(
      primaryFirst({ circuitBreaker: breaker('PT30S', false) }),
      RETRY_POLICY,
      clock,
    );
    try {
      await setFault(mocks.a, '429=1000');
      const spilled = await stream(gateway, log);
      expect(spilled.status).toBe(200);
      expect(spilled.text).toContain('data: [DONE]');
      expect(route(spilled.entry)).toBe('a:429 b:200');
      expect(spilled.entry.backendId).toBe('b');
      expect(spilled.entry.attempts[1]!.timeMs).toBeGreaterThanOrEqual(spilled.entry.attempts[0]!.timeMs);

      // The primary recovers, but its breaker holds it out for the trip duration.
      await setFault(mocks.a, '');
      clock.now += 29_000;
      expect(route((await stream(gateway, log)).entry)).toBe('b:200');
      clock.now += 2_000;
      expect(route((await stream(gateway, log)).entry)).toBe('a:200');
      expect(gateway.stats.retried).toBe(1);
    } finally {
      await gateway.close();
    }
  });

  it('the spill-over cost the failover lab reports brackets a known delay: a primary that refuses after 40 ms costs at least 40 ms, paired against the secondary straight', async () => {
    const clock = { now: 9_000_000 };
    const { gateway, log } = await start(primaryFirst({ circuitBreaker: breaker('PT1M', false) }), RETRY_POLICY, clock);
    try {
      await setFault(mocks.a, '429=1000,slow-headers=40');
      const straight = mockTarget(mocks.b);
      const through = { ...straight, label: 'gateway', baseUrl: gateway.url };
      const differences: number[] = [];
      // One untimed round first: a cold first request (JIT, a new connection) is not what is measured.
      for (let round = -1; round < 10; round++) {
        // A new minute on the breaker's clock: every round meets the refusal, not the open breaker.
        clock.now += 120_000;
        const headers = { 'x-mock-seed': String(500 + round) };
        const direct = await requestOnce(scenario(mocks.b, 'chat', { target: straight }), {}, headers);
        const spilled = await requestOnce(scenario(mocks.b, 'chat', { target: through }), {}, headers);
        expect(route(log.at(-1)!)).toBe('a:429 b:200');
        if (round >= 0) differences.push(spilled.firstContentMs! - direct.firstContentMs!);
      }
      const shift = pairedShift(differences)!;
      // The truth is 40 ms plus the refusal's own round trip and the relay: at least 40, not much more.
      expect(shiftVerdict(shift)).toBe('adds');
      expect(shift.high).toBeGreaterThanOrEqual(40);
      expect(shift.estimate).toBeGreaterThanOrEqual(40);
      expect(shift.estimate).toBeLessThan(70);
    } finally {
      await gateway.close();
    }
  });

  it("acceptRetryAfter trips for as long as the backend's Retry-After says, not tripDuration", async () => {
    const clock = { now: 5_000_000 };
    const { gateway, log } = await start(primaryFirst({ circuitBreaker: breaker('PT1M', true) }), RETRY_POLICY, clock);
    try {
      await setFault(mocks.a, '429=5000');
      expect(route((await stream(gateway, log)).entry)).toBe('a:429 b:200');
      await setFault(mocks.a, '');
      clock.now += 4_900;
      expect(route((await stream(gateway, log)).entry)).toBe('b:200');
      clock.now += 200;
      expect(route((await stream(gateway, log)).entry)).toBe('a:200');
    } finally {
      await gateway.close();
    }
  });

  it('a stream the primary drops after its first frames is not retried: the client sees the cut, the secondary sees nothing', async () => {
    const { gateway, log } = await start(primaryFirst({ circuitBreaker: breaker('PT1M', true) }), RETRY_POLICY);
    try {
      await setFault(mocks.a, 'disconnect-after=3');
      const cut = await stream(gateway, log);
      expect(cut.status).toBe(200);
      expect(cut.text).toContain('data: {');
      expect(cut.text).not.toContain('[DONE]');
      expect(route(cut.entry)).toBe('a:200');
      expect(await requestsTo(mocks.b)).toBe(0);
      // A 200 never trips a status-code breaker: the next request goes to the primary again.
      expect(route((await stream(gateway, log)).entry)).toBe('a:200');
    } finally {
      await gateway.close();
    }
  });

  it("every backend tripped: 503 at once with APIM's message, without reaching any backend", async () => {
    const { gateway, log } = await start(
      primaryFirst({ circuitBreaker: breaker('PT1M', false) }, { circuitBreaker: breaker('PT1M', false) }),
      RETRY_POLICY,
    );
    try {
      await setFault(mocks.a, '429=1000');
      await setFault(mocks.b, '429=1000');
      const first = await stream(gateway, log);
      // Both trip on this request; the third attempt finds the pool empty.
      expect(route(first.entry)).toBe('a:429 b:429 -:503');
      expect(first.status).toBe(503);
      const before = (await requestsTo(mocks.a)) + (await requestsTo(mocks.b));
      const fast = await stream(gateway, log);
      expect(fast.status).toBe(503);
      expect(JSON.parse(fast.text)).toEqual({
        statusCode: 503,
        message: expect.stringMatching(/^Backend pool openai-backend is temporarily unavailable/),
      });
      expect(fast.entry.attempts.every((a) => a.backend === null)).toBe(true);
      expect(fast.entry.backendTimeMs).toBeNull();
      expect((await requestsTo(mocks.a)) + (await requestsTo(mocks.b))).toBe(before);
    } finally {
      await gateway.close();
    }
  });

  it('retry on a single backend re-sends the buffered body; when the retries run out the last answer is relayed as it came', async () => {
    const { gateway, log } = await start([single('openai-backend')], RETRY_POLICY, undefined, {
      'openai-backend': mocks.a,
    });
    try {
      await setFault(mocks.a, '429=2000');
      const result = await stream(gateway, log);
      expect(result.status).toBe(429);
      expect(route(result.entry)).toBe('openai-backend:429 openai-backend:429 openai-backend:429');
      // Azure's own 429 body and retry-after reach the client.
      expect(JSON.parse(result.text)).toMatchObject({ error: { code: '429' } });
      const bodies = ((await (await fetch(`${mocks.a.url}/_mock/requests`)).json()) as Array<{ body: unknown }>).map(
        (r) => JSON.stringify(r.body),
      );
      expect(bodies).toHaveLength(3);
      expect(new Set(bodies).size).toBe(1);
    } finally {
      await gateway.close();
    }
  });
});

describe('a dead pool member (issue 31): connection failures are failed over, counted and logged', () => {
  /** A priority pool whose members' breakers list error reasons: an unreachable backend counts as a failure. */
  const pool = (errorReasons: string[] | undefined): BackendEntry[] => {
    const rule = {
      name: 'breakerRule',
      failureCondition: {
        count: 1,
        interval: 'PT1M',
        statusCodeRanges: [{ min: 429, max: 429 }],
        ...(errorReasons ? { errorReasons } : {}),
      },
      tripDuration: 'PT1M',
    };
    return [
      { name: 'a', properties: { circuitBreaker: { rules: [rule] } } },
      { name: 'b', properties: { circuitBreaker: { rules: [rule] } } },
      {
        name: 'openai-backend',
        properties: {
          type: 'Pool',
          pool: {
            services: [
              { id: '/backends/a', priority: 1 },
              { id: '/backends/b', priority: 2 },
            ],
          },
        },
      },
    ];
  };

  it('the primary killed mid-run: the retry moves the request to the secondary, the breaker trips the dead one, the log shows each attempt', async () => {
    const doomed = await startFastMock({ timing: { ttftMs: 5, itlMs: 2, jitterMs: 0, outputTokens: 8 } });
    const { gateway, log } = await start(pool(['Server errors', 'BackendConnectionFailure']), RETRY_POLICY, undefined, {
      a: doomed,
    });
    try {
      const before = await stream(gateway, log);
      expect(before.status).toBe(200);
      expect(before.entry.attempts.map(({ backend, status }) => ({ backend, status }))).toEqual([
        { backend: 'a', status: 200 },
      ]);
      await doomed.close();
      const during = await stream(gateway, log);
      expect(during.status).toBe(200);
      expect(during.text).toContain('data: [DONE]');
      expect(during.entry.attempts.map(({ backend, status }) => ({ backend, status }))).toEqual([
        { backend: 'a', status: null },
        { backend: 'b', status: 200 },
      ]);
      // Tripped: the next request goes straight to the secondary, without trying the dead one.
      const after = await stream(gateway, log);
      expect(after.entry.attempts.map(({ backend, status }) => ({ backend, status }))).toEqual([
        { backend: 'b', status: 200 },
      ]);
    } finally {
      await gateway.close();
    }
  });

  it('without errorReasons the breaker does not count it (APIM counts what the rule lists): retries go back to the dead primary and end in 502', async () => {
    const doomed = await startFastMock();
    await doomed.close();
    const { gateway, log } = await start(pool(undefined), RETRY_POLICY, undefined, { a: doomed });
    try {
      const result = await stream(gateway, log);
      expect(result.status).toBe(502);
      expect(result.entry.attempts.map(({ backend, status }) => ({ backend, status }))).toEqual([
        { backend: 'a', status: null },
        { backend: 'a', status: null },
        { backend: 'a', status: null },
      ]);
    } finally {
      await gateway.close();
    }
  });

  it('--unreachable-as none: a connection failure is never retried (502 at once)', async () => {
    const doomed = await startFastMock();
    await doomed.close();
    const entries = pool(['BackendConnectionFailure']);
    const log: GatewayLogEntry[] = [];
    const gateway = await createGateway({
      policy: loadGatewayPolicy(RETRY_POLICY),
      backends: parseBackends(entries),
      backendUrls: urlsFor(entries, { a: doomed }),
      backendKey: TEST_KEY,
      host: '127.0.0.1',
      port: 0,
      accessLog: (e) => void log.push(e),
      unreachableRetryStatus: null,
    });
    try {
      const result = await stream(gateway, log);
      expect(result.status).toBe(502);
      expect(result.entry.attempts.map(({ backend, status }) => ({ backend, status }))).toEqual([
        { backend: 'a', status: null },
      ]);
    } finally {
      await gateway.close();
    }
  });
});

describe('the retry waits as its policy says (the back-off really sleeps)', () => {
  it('interval="0.3" delta="0.2" max-interval="1" (seconds), no first fast retry: two retries of a 429 take about 300 + 500 ms', async () => {
    const policy = policyFile(
      policyXml({
        inbound:
          '<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />',
        backend: `<retry count="2" interval="0.3" delta="0.2" max-interval="1" condition="@(context.Response.StatusCode == 429)"><forward-request buffer-request-body="true" buffer-response="false" /></retry>`,
      }),
    );
    const entries: BackendEntry[] = [{ name: 'openai-backend', properties: {} }];
    const { gateway, log } = await start(entries, policy, undefined, { 'openai-backend': mocks.a });
    try {
      await setFault(mocks.a, '429=1000');
      const result = await stream(gateway, log);
      expect(result.status).toBe(429);
      expect(result.entry.attempts.map((a) => a.status)).toEqual([429, 429, 429]);
      // Exponential: 300 ms, then min(1000, 300 + (2^1 - 1) × 200) = 500 ms.
      expect(result.ms).toBeGreaterThanOrEqual(800);
      expect(result.ms).toBeLessThan(3_000);
    } finally {
      await gateway.close();
    }
  });
});
