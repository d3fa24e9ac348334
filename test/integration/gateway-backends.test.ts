import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadGatewayPolicy } from '../../stand-ins/apim/policy.ts';
import { createGateway, type Gateway } from '../../stand-ins/apim/server.ts';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { parseBackends, type BackendEntry, type GatewayLogEntry } from '../../src/protocol/index.ts';
import { pairedShift, shiftVerdict } from '../../src/metrics/paired-shift.ts';
import { policyFile, policyXml } from '../helpers/gateway.ts';
import { mockTarget, requestOnce, scenario } from '../helpers/bench.ts';
import { API_VERSION, startFastMock, TEST_KEY, USER_MESSAGES } from '../helpers/mock.ts';

// Pool routing, circuit breakers, retry counts, back-off waits and unreachable backends are the
// gateway core's decisions, tested in process with a fake upstream (test/unit/gateway-core.test.ts).
// What stays here needs real sockets: a measured spill-over cost, and a backend killed mid-run.

const CHAT = `/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`;
/** The AI-Gateway backend-pool lab's retry, around set-backend-service and a buffered request body. */
const RETRY_POLICY = policyFile(
  policyXml({
    inbound: '<authentication-managed-identity resource="https://cognitiveservices.azure.com" />',
    backend: `<retry count="2" interval="0" first-fast-retry="true" condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)">
      <set-backend-service backend-id="openai-backend" /><forward-request buffer-request-body="true" buffer-response="false" /></retry>`,
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

let mocks: Record<'a' | 'b', MockServer>;
beforeAll(async () => {
  const [a, b] = await Promise.all(
    [0, 1].map(() => startFastMock({ timing: { ttftMs: 5, itlMs: 2, jitterMs: 0, outputTokens: 8 } })),
  );
  mocks = { a: a!, b: b! };
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
});
