import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  BackendUnreachable,
  createGatewayCore,
  type GatewayCore,
  type GatewayCoreOptions,
  type GatewayResponse,
  type Upstream,
  type UpstreamReply,
  type UpstreamRequest,
} from '../../stand-ins/apim/core.ts';
import { interpretPolicy } from '../../stand-ins/apim/policy.ts';
import { estimatePromptTokens } from '../../stand-ins/apim/usage-meter.ts';
import { countTextTokens } from '../../src/protocol/prompt-tokens.ts';
import { parseBackends, parsePolicyXml, type BackendEntry, type GatewayLogEntry } from '../../src/protocol/index.ts';

// The gateway's core driven in process (stand-ins/apim/core.ts): a fake upstream plays the
// backends, a fake clock the breakers and a recording sleep the retry's back-off. No socket, no
// port: what only sockets show (pass-through bytes, backpressure, disconnects, TLS) stays in
// test/integration/gateway*.test.ts.

const API_VERSION = '2024-10-21';
const CHAT = `/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`;
const USER_MESSAGES = [{ role: 'user', content: 'How should a gateway relay a stream?' }];
const SUB_KEY = 'lab-subscription-key';
const BACKEND_KEY = 'backend-key';
const chatBody = (extra: Record<string, unknown> = {}) => ({ messages: USER_MESSAGES, stream: true, ...extra });

const policyOf = (xml: string) => interpretPolicy(parsePolicyXml(xml, 'test.xml'), 'test.xml');
/** A policy with the lab's inbound/backend shape and extra elements where asked (as test/helpers/gateway.ts writes it). */
const policyXml = (parts: { inbound?: string; backend?: string; outbound?: string }): string => `<policies>
  <inbound><base />${parts.inbound ?? '<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />'}</inbound>
  <backend>${parts.backend ?? '<forward-request timeout="120" buffer-response="false" />'}</backend>
  <outbound><base />${parts.outbound ?? ''}</outbound>
  <on-error><base /></on-error>
</policies>`;
const STREAMING = policyXml({});
const BUFFERED = policyXml({ backend: '<forward-request timeout="120" />' });
/** The AI-Gateway backend-pool lab's retry, around set-backend-service and a buffered request body. */
const RETRY_POLICY = policyXml({
  inbound: '<authentication-managed-identity resource="https://cognitiveservices.azure.com" />',
  backend: `<retry count="2" interval="0" first-fast-retry="true" condition="@(context.Response.StatusCode == 429 || context.Response.StatusCode == 503)">
      <set-backend-service backend-id="openai-backend" /><forward-request buffer-request-body="true" buffer-response="false" /></retry>`,
});
const NO_RETRY_POLICY = policyXml({
  inbound:
    '<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />',
});
const retryPolicy = (attributes: string) =>
  policyXml({
    backend: `<retry ${attributes}><forward-request buffer-request-body="true" buffer-response="false" /></retry>`,
  });

// ---------------------------------------------------------------------------------------------
// A fake upstream: each backend is a host `NAME.test`; `answer` says what it does.

/** What a fake backend does with one request. */
type Behaviour =
  | {
      status: number;
      statusText?: string;
      headers?: Record<string, string>;
      /** The body's pieces (a string is one piece). */
      body?: string | string[];
      /** The stream is cut after this many pieces. */
      cutAfter?: number;
    }
  | 'unreachable'
  /** No response head until the attempt is given up. */
  | 'hang';

interface SeenRequest {
  backend: string;
  method: string;
  path: string;
  headers: OutgoingHttpHeaders;
  body: string;
  signal: AbortSignal;
}

class FakeUpstream implements Upstream {
  readonly requests: SeenRequest[] = [];
  /** Responses whose body was left unread and dropped (`return()` on its iterator). */
  dropped = 0;
  /** Responses whose body was read to its end. */
  drained = 0;
  answer: (request: SeenRequest) => Behaviour;

  constructor(answer: (request: SeenRequest) => Behaviour = () => ok()) {
    this.answer = answer;
  }

  to(backend: string): SeenRequest[] {
    return this.requests.filter((r) => r.backend === backend);
  }

  async send(request: UpstreamRequest): Promise<UpstreamReply> {
    const seen: SeenRequest = {
      backend: request.url.hostname.replace(/\.test$/, ''),
      method: request.method,
      path: request.url.pathname + request.url.search,
      headers: request.headers,
      body: request.body.toString('utf8'),
      signal: request.signal,
    };
    this.requests.push(seen);
    const behaviour = this.answer(seen);
    if (behaviour === 'unreachable') throw new BackendUnreachable('ECONNREFUSED');
    if (behaviour === 'hang')
      return new Promise((_resolve, reject) =>
        request.signal.addEventListener('abort', () => reject(new BackendUnreachable('ECONNRESET'))),
      );
    const pieces = typeof behaviour.body === 'string' ? [behaviour.body] : (behaviour.body ?? []);
    const upstream = this;
    const body = (async function* () {
      let isDone = false;
      try {
        for (const [i, piece] of pieces.entries()) {
          if (behaviour.cutAfter !== undefined && i >= behaviour.cutAfter) throw new Error('ECONNRESET');
          yield Buffer.from(piece);
        }
        isDone = true;
        upstream.drained++;
      } finally {
        if (!isDone) upstream.dropped++;
      }
    })();
    return {
      status: behaviour.status,
      statusText: behaviour.statusText ?? '',
      headers: { 'content-type': 'application/json', ...behaviour.headers } as IncomingHttpHeaders,
      body,
    };
  }
}

/** A chat stream of `words` content frames and `[DONE]`, as Azure OpenAI frames it. */
const sseFrames = (words: string[]): string[] => [
  ...words.map(
    (w, i) => `data: ${JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: w } }], n: i })}\n\n`,
  ),
  'data: [DONE]\n\n',
];
const WORDS = ['Relay', ' each', ' frame', ' as', ' it', ' comes', '.'];
function ok(headers: Record<string, string> = {}): Behaviour {
  return { status: 200, headers: { 'content-type': 'text/event-stream', ...headers }, body: sseFrames(WORDS) };
}
/** Azure OpenAI's 429, with its body and retry-after. */
const tooMany = (retryAfter = '1'): Behaviour => ({
  status: 429,
  statusText: 'Too Many Requests',
  headers: { 'retry-after': retryAfter },
  body: JSON.stringify({ error: { code: '429', message: 'Requests to the API have exceeded the rate limit.' } }),
});

// ---------------------------------------------------------------------------------------------
// The core, and one request through it as a client would read it

interface Setup {
  policy?: string;
  entries?: BackendEntry[];
  clock?: { now: number };
  options?: Partial<GatewayCoreOptions>;
}

async function start(
  upstream: FakeUpstream,
  setup: Setup = {},
): Promise<{ core: GatewayCore; log: GatewayLogEntry[]; waits: number[] }> {
  const log: GatewayLogEntry[] = [];
  const waits: number[] = [];
  const entries = setup.entries ?? [single('openai-backend')];
  const core = await createGatewayCore(
    {
      policy: policyOf(setup.policy ?? NO_RETRY_POLICY),
      backends: parseBackends(entries),
      backendUrls: Object.fromEntries(
        entries.filter((e) => e.properties.type !== 'Pool').map((e) => [e.name, `http://${e.name}.test/openai`]),
      ),
      backendKey: BACKEND_KEY,
      accessLog: (entry) => void log.push(entry),
      sleep: async (ms) => void waits.push(ms),
      ...(setup.clock ? { now: () => setup.clock!.now } : {}),
      ...setup.options,
    },
    upstream,
  );
  return { core, log, waits };
}

interface Result {
  status: number;
  headers: OutgoingHttpHeaders;
  text: string;
  /** The body ended in an error: the backend's stream was cut, and so is the client's. */
  isCut: boolean;
  response: GatewayResponse;
  entry: GatewayLogEntry | undefined;
}

/** One request through the core, its body read to the end (or the cut), its response closed. */
async function call(
  core: GatewayCore,
  log: GatewayLogEntry[],
  init: { path?: string; method?: string; headers?: Record<string, string>; body?: unknown; signal?: AbortSignal } = {},
): Promise<Result> {
  const before = log.length;
  const response = await core.handle({
    method: init.method ?? 'POST',
    url: init.path ?? CHAT,
    headers: { 'content-type': 'application/json', ...init.headers },
    body: Buffer.from(init.body === undefined ? JSON.stringify(chatBody()) : String(init.body)),
    signal: init.signal ?? new AbortController().signal,
  });
  let text = '';
  let isCut = false;
  if (Buffer.isBuffer(response.body)) text = response.body.toString('utf8');
  else {
    try {
      for await (const piece of response.body) text += piece.toString('utf8');
    } catch {
      isCut = true;
    }
  }
  response.done(isCut ? { isCancelled: true } : {});
  return { status: response.status, headers: response.headers, text, isCut, response, entry: log[before] };
}

const single = (name: string, extra: Record<string, unknown> = {}): BackendEntry => ({
  name,
  properties: { protocol: 'http', ...extra },
});
const pool = (services: Array<{ id: string; priority?: number; weight?: number }>): BackendEntry => ({
  name: 'openai-backend',
  properties: { type: 'Pool', pool: { services } },
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
const route = (entry: GatewayLogEntry | undefined): string =>
  entry!.attempts.map((a) => `${a.backend ?? '-'}:${a.status ?? 'none'}`).join(' ');
const tried = (entry: GatewayLogEntry | undefined) =>
  entry!.attempts.map(({ backend, status }) => ({ backend, status }));

// ---------------------------------------------------------------------------------------------

describe('gateway core: backend pools, circuit breakers and retry (moved from the socket tests)', () => {
  it('routes a pool by priority group, and by weight inside it: 3:1 gives 6 of 8 to the heavier backend and none to priority 2', async () => {
    const upstream = new FakeUpstream();
    const { core, log } = await start(upstream, {
      entries: [
        single('a'),
        single('b'),
        single('c'),
        pool([
          { id: '/backends/a', priority: 1, weight: 3 },
          { id: '/backends/b', priority: 1, weight: 1 },
          { id: '/backends/c', priority: 2 },
        ]),
      ],
    });
    const served: string[] = [];
    for (let i = 0; i < 8; i++) {
      const result = await call(core, log);
      expect(result.status).toBe(200);
      expect(result.text).toContain('data: [DONE]');
      served.push(result.entry!.backendId!);
    }
    expect(served.filter((s) => s === 'a')).toHaveLength(6);
    expect(served.filter((s) => s === 'b')).toHaveLength(2);
    expect(upstream.to('c')).toHaveLength(0);
    // Smooth weighted round robin: the same fixed order on every run.
    expect(served).toEqual(['a', 'a', 'b', 'a', 'a', 'a', 'b', 'a']);
  });

  it('a 429 before any byte trips the primary and the retry lands on the secondary; later requests skip it until the trip ends (fake clock)', async () => {
    const clock = { now: 1_000_000 };
    let aRefuses = true;
    const upstream = new FakeUpstream((r) => (r.backend === 'a' && aRefuses ? tooMany() : ok()));
    const { core, log } = await start(upstream, {
      entries: primaryFirst({ circuitBreaker: breaker('PT30S', false) }),
      policy: RETRY_POLICY,
      clock,
    });
    const spilled = await call(core, log);
    expect(spilled.status).toBe(200);
    expect(spilled.text).toContain('data: [DONE]');
    expect(route(spilled.entry)).toBe('a:429 b:200');
    expect(spilled.entry!.backendId).toBe('b');
    expect(spilled.entry!.attempts[1]!.timeMs).toBeGreaterThanOrEqual(spilled.entry!.attempts[0]!.timeMs);

    // The primary recovers, but its breaker holds it out for the trip duration.
    aRefuses = false;
    clock.now += 29_000;
    expect(route((await call(core, log)).entry)).toBe('b:200');
    clock.now += 2_000;
    expect(route((await call(core, log)).entry)).toBe('a:200');
    expect(core.stats.retried).toBe(1);
  });

  it("acceptRetryAfter trips for as long as the backend's Retry-After says, not tripDuration", async () => {
    const clock = { now: 5_000_000 };
    let aRefuses = true;
    const upstream = new FakeUpstream((r) => (r.backend === 'a' && aRefuses ? tooMany('5') : ok()));
    const { core, log } = await start(upstream, {
      entries: primaryFirst({ circuitBreaker: breaker('PT1M', true) }),
      policy: RETRY_POLICY,
      clock,
    });
    expect(route((await call(core, log)).entry)).toBe('a:429 b:200');
    aRefuses = false;
    clock.now += 4_900;
    expect(route((await call(core, log)).entry)).toBe('b:200');
    clock.now += 200;
    expect(route((await call(core, log)).entry)).toBe('a:200');
  });

  it('a stream the primary drops after its first frames is not retried: the client sees the cut, the secondary sees nothing', async () => {
    let aCuts = true;
    const upstream = new FakeUpstream((r) =>
      r.backend === 'a' && aCuts ? { ...(ok() as { status: number }), body: sseFrames(WORDS), cutAfter: 3 } : ok(),
    );
    const { core, log } = await start(upstream, {
      entries: primaryFirst({ circuitBreaker: breaker('PT1M', true) }),
      policy: RETRY_POLICY,
    });
    const cut = await call(core, log);
    expect(cut.status).toBe(200);
    expect(cut.isCut).toBe(true);
    expect(cut.text).toContain('data: {');
    expect(cut.text).not.toContain('[DONE]');
    expect(route(cut.entry)).toBe('a:200');
    expect(upstream.to('b')).toHaveLength(0);
    // A 200 never trips a status-code breaker: the next request goes to the primary again.
    aCuts = false;
    expect(route((await call(core, log)).entry)).toBe('a:200');
  });

  it("every backend tripped: 503 at once with APIM's message, without reaching any backend", async () => {
    const upstream = new FakeUpstream(() => tooMany());
    const { core, log } = await start(upstream, {
      entries: primaryFirst({ circuitBreaker: breaker('PT1M', false) }, { circuitBreaker: breaker('PT1M', false) }),
      policy: RETRY_POLICY,
    });
    const first = await call(core, log);
    // Both trip on this request; the third attempt finds the pool empty.
    expect(route(first.entry)).toBe('a:429 b:429 -:503');
    expect(first.status).toBe(503);
    const before = upstream.requests.length;
    const fast = await call(core, log);
    expect(fast.status).toBe(503);
    expect(JSON.parse(fast.text)).toEqual({
      statusCode: 503,
      message: expect.stringMatching(/^Backend pool openai-backend is temporarily unavailable/),
    });
    expect(fast.entry!.attempts.every((a) => a.backend === null)).toBe(true);
    expect(fast.entry!.backendTimeMs).toBeNull();
    expect(upstream.requests.length).toBe(before);
  });

  it('retry on a single backend re-sends the buffered body; when the retries run out the last answer is relayed as it came', async () => {
    const upstream = new FakeUpstream(() => tooMany('7'));
    const { core, log } = await start(upstream, { policy: RETRY_POLICY });
    const result = await call(core, log);
    expect(result.status).toBe(429);
    expect(route(result.entry)).toBe('openai-backend:429 openai-backend:429 openai-backend:429');
    // Azure's own 429 body and retry-after reach the client.
    expect(JSON.parse(result.text)).toMatchObject({ error: { code: '429' } });
    expect(result.headers['retry-after']).toBe('7');
    const bodies = upstream.requests.map((r) => r.body);
    expect(bodies).toHaveLength(3);
    expect(new Set(bodies).size).toBe(1);
    expect(JSON.parse(bodies[0]!)).toEqual(chatBody());
    // The refused answers were read to their end and dropped (a connection can then be reused), as was the relayed one.
    expect(upstream.drained).toBe(3);
    expect(upstream.dropped).toBe(0);
  });

  it('the back-off waits as the policy says: interval="0.3" delta="0.2" max-interval="1", no first fast retry: 300 then 500 ms', async () => {
    const upstream = new FakeUpstream(() => tooMany());
    const { core, log, waits } = await start(upstream, {
      policy: retryPolicy(
        'count="2" interval="0.3" delta="0.2" max-interval="1" condition="@(context.Response.StatusCode == 429)"',
      ),
    });
    const result = await call(core, log);
    expect(result.status).toBe(429);
    expect(result.entry!.attempts.map((a) => a.status)).toEqual([429, 429, 429]);
    // Exponential: 300 ms, then min(1000, 300 + (2^1 - 1) × 200) = 500 ms.
    expect(waits).toEqual([300, 500]);
  });

  it('the back-off really sleeps with the default clock: two retries of a 429 take about 300 + 500 ms', async () => {
    const upstream = new FakeUpstream(() => tooMany());
    const { core, log } = await start(upstream, {
      policy: retryPolicy(
        'count="2" interval="0.3" delta="0.2" max-interval="1" condition="@(context.Response.StatusCode == 429)"',
      ),
      options: { sleep: undefined },
    });
    const started = performance.now();
    const result = await call(core, log);
    const ms = performance.now() - started;
    expect(result.status).toBe(429);
    expect(result.entry!.attempts.map((a) => a.status)).toEqual([429, 429, 429]);
    expect(ms).toBeGreaterThanOrEqual(800);
    expect(ms).toBeLessThan(3_000);
    // The attempts' times show the waits between them.
    const [first, second, third] = result.entry!.attempts.map((a) => a.timeMs);
    expect(second! - first!).toBeGreaterThanOrEqual(295);
    expect(third! - second!).toBeGreaterThanOrEqual(495);
  });
});

describe('gateway core: retry count, waits and conditions', () => {
  it('count="N" is N retries after the first attempt, no more', async () => {
    for (const count of [1, 3, 5]) {
      const upstream = new FakeUpstream(() => ({ status: 503, statusText: 'Service Unavailable', body: '{}' }));
      const { core, log, waits } = await start(upstream, {
        policy: retryPolicy(`count="${count}" interval="1" condition="@(context.Response.StatusCode == 503)"`),
      });
      const result = await call(core, log);
      expect(result.status).toBe(503);
      expect(upstream.requests).toHaveLength(count + 1);
      expect(result.entry!.attempts).toHaveLength(count + 1);
      expect(core.stats).toMatchObject({ requests: 1, forwarded: count + 1, retried: count });
      expect(waits).toEqual(Array.from({ length: count }, () => 1000));
    }
  });

  it('waits: first-fast-retry makes only the first retry immediate; delta alone grows linearly; delta and max-interval grow exponentially, capped', async () => {
    const cases: Array<[string, number[]]> = [
      ['count="3" interval="1" first-fast-retry="true"', [1000, 1000]],
      ['count="3" interval="1" delta="0.5"', [1000, 1500, 2000]],
      ['count="4" interval="1" delta="0.5" max-interval="3"', [1000, 1500, 2500, 3000]],
      ['count="2" interval="0"', []],
    ];
    for (const [attributes, expected] of cases) {
      const upstream = new FakeUpstream(() => tooMany());
      const { core, log, waits } = await start(upstream, {
        policy: retryPolicy(`${attributes} condition="@(context.Response.StatusCode == 429)"`),
      });
      await call(core, log);
      expect(waits, attributes).toEqual(expected);
    }
  });

  it('the condition decides: a status it does not name is relayed at once, a reason it names is retried', async () => {
    const upstream = new FakeUpstream((r) =>
      upstream.requests.length === 1
        ? { status: 503, statusText: 'Backend busy', body: '{}' }
        : r.backend === 'openai-backend'
          ? { status: 500, statusText: 'Internal Server Error', body: '{"error":{"code":"500"}}' }
          : ok(),
    );
    const { core, log } = await start(upstream, {
      policy: retryPolicy(
        'count="3" interval="0" condition="@(context.Response.StatusCode == 429 || context.Response.StatusReason.Contains(&quot;busy&quot;))"',
      ),
    });
    const result = await call(core, log);
    // 503 "Backend busy" matches by reason; the 500 that follows matches nothing and is the answer.
    expect(route(result.entry)).toBe('openai-backend:503 openai-backend:500');
    expect(result.status).toBe(500);
    expect(JSON.parse(result.text)).toEqual({ error: { code: '500' } });
  });

  it('a 200 is never retried, whatever the count', async () => {
    const upstream = new FakeUpstream();
    const { core, log, waits } = await start(upstream, { policy: RETRY_POLICY });
    const result = await call(core, log);
    expect(result.status).toBe(200);
    expect(upstream.requests).toHaveLength(1);
    expect(waits).toEqual([]);
    expect(core.stats.retried).toBe(0);
  });
});

describe('gateway core: an unreachable backend', () => {
  /** A priority pool whose members' breakers list error reasons (or not): an unreachable backend counts as a failure. */
  const deadPool = (errorReasons: string[] | undefined): BackendEntry[] => {
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
    return primaryFirst({ circuitBreaker: { rules: [rule] } }, { circuitBreaker: { rules: [rule] } });
  };

  it('fails over to the secondary, trips the dead primary (errorReasons listed) and logs each attempt', async () => {
    let isDead = false;
    const upstream = new FakeUpstream((r) => (r.backend === 'a' && isDead ? 'unreachable' : ok()));
    const { core, log } = await start(upstream, {
      entries: deadPool(['Server errors', 'BackendConnectionFailure']),
      policy: RETRY_POLICY,
    });
    expect(tried((await call(core, log)).entry)).toEqual([{ backend: 'a', status: 200 }]);
    isDead = true;
    const during = await call(core, log);
    expect(during.status).toBe(200);
    expect(during.text).toContain('data: [DONE]');
    expect(tried(during.entry)).toEqual([
      { backend: 'a', status: null },
      { backend: 'b', status: 200 },
    ]);
    // Tripped: the next request goes straight to the secondary, without trying the dead one.
    const after = await call(core, log);
    expect(tried(after.entry)).toEqual([{ backend: 'b', status: 200 }]);
    expect(upstream.to('a')).toHaveLength(2);
  });

  it('without errorReasons the breaker does not count it (APIM counts what the rule lists): retries go back to the dead primary and end in 502', async () => {
    const upstream = new FakeUpstream((r) => (r.backend === 'a' ? 'unreachable' : ok()));
    const { core, log } = await start(upstream, { entries: deadPool(undefined), policy: RETRY_POLICY });
    const result = await call(core, log);
    expect(result.status).toBe(502);
    expect(tried(result.entry)).toEqual([
      { backend: 'a', status: null },
      { backend: 'a', status: null },
      { backend: 'a', status: null },
    ]);
    expect(JSON.parse(result.text)).toEqual({ statusCode: 502, message: 'Failed to reach the backend: ECONNREFUSED.' });
  });

  it('--unreachable-as none: a connection failure is never retried (502 at once)', async () => {
    const upstream = new FakeUpstream((r) => (r.backend === 'a' ? 'unreachable' : ok()));
    const { core, log } = await start(upstream, {
      entries: deadPool(['BackendConnectionFailure']),
      policy: RETRY_POLICY,
      options: { unreachableRetryStatus: null },
    });
    const result = await call(core, log);
    expect(result.status).toBe(502);
    expect(tried(result.entry)).toEqual([{ backend: 'a', status: null }]);
  });

  it('--unreachable-as 429: the condition reads that status and reason BackendConnectionFailure', async () => {
    const upstream = new FakeUpstream(() => 'unreachable');
    const seen: Array<{ statusCode: number; statusReason: string }> = [];
    const { core, log } = await start(upstream, {
      policy: retryPolicy('count="1" interval="0" condition="@(context.Response.StatusCode == 429)"'),
      options: { unreachableRetryStatus: 429 },
    });
    const retry = core.config.policy.retry!;
    const condition = retry.condition;
    retry.condition = (facts) => {
      seen.push(facts);
      return condition(facts);
    };
    const result = await call(core, log);
    expect(result.status).toBe(502);
    expect(seen).toEqual([{ statusCode: 429, statusReason: 'BackendConnectionFailure' }]);
    expect(upstream.requests).toHaveLength(2);
  });

  it('timeout bounds the wait for the backend headers: 504 from the gateway, and the attempt is aborted', async () => {
    const upstream = new FakeUpstream(() => 'hang');
    const { core, log } = await start(upstream, {
      policy: policyXml({ backend: '<forward-request timeout-ms="300" buffer-response="false" />' }),
    });
    const started = performance.now();
    // The attempt is given up at the timeout, before the 504 is answered (not only released when it closes).
    let wasAbortedAtAnswer: boolean | undefined;
    const handle = core.handle.bind(core);
    core.handle = async (request) => {
      const response = await handle(request);
      wasAbortedAtAnswer = upstream.requests[0]!.signal.aborted;
      return response;
    };
    let abortedAfterMs: number | undefined;
    upstream.answer = (r) => {
      r.signal.addEventListener('abort', () => void (abortedAfterMs = performance.now() - started));
      return 'hang';
    };
    const result = await call(core, log);
    expect(wasAbortedAtAnswer).toBe(true);
    expect(result.status).toBe(504);
    expect(JSON.parse(result.text)).toMatchObject({
      statusCode: 504,
      message: 'The backend did not send response headers within the forward-request timeout (300 ms).',
    });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(abortedAfterMs).toBeGreaterThanOrEqual(290);
    expect(abortedAfterMs).toBeLessThan(2000);
    expect(tried(result.entry)).toEqual([{ backend: 'openai-backend', status: null }]);
  });
});

describe('gateway core: subscription keys (moved from the socket tests)', () => {
  const setup = { policy: STREAMING, options: { subscriptionKeys: [SUB_KEY] } };

  it('401 without a key and with a wrong one, in APIM shape; the backend never sees them, nor is the body read', async () => {
    const upstream = new FakeUpstream();
    const { core, log } = await start(upstream, setup);
    const missing = await call(core, log);
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.text).message).toMatch(/missing subscription key/);
    const wrong = await call(core, log, { headers: { 'api-key': 'not-the-key' } });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text).message).toMatch(/invalid subscription key/);
    expect(JSON.parse(wrong.text).statusCode).toBe(401);
    expect(upstream.requests).toHaveLength(0);
    let isRead = false;
    const lazy = await core.handle({
      method: 'POST',
      url: CHAT,
      headers: { 'api-key': 'wrong' },
      body: async () => {
        isRead = true;
        return Buffer.from('{}');
      },
      signal: new AbortController().signal,
    });
    expect(lazy.status).toBe(401);
    expect(isRead).toBe(false);
  });

  it('accepts the key in the api-key query parameter too, and does not forward it', async () => {
    const upstream = new FakeUpstream();
    const { core, log } = await start(upstream, setup);
    const result = await call(core, log, { path: `${CHAT}&api-key=${SUB_KEY}` });
    expect(result.status).toBe(200);
    expect(result.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(upstream.requests[0]!.path).toBe(
      `/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`,
    );
    const byHeader = await call(core, log, { headers: { 'api-key': SUB_KEY } });
    expect(byHeader.status).toBe(200);
    expect(upstream.requests[1]!.headers['api-key']).toBe(BACKEND_KEY);
  });
});

describe('gateway core: headers, targets, limits and errors (moved from the socket tests)', () => {
  it('set-header in and out with exists-action; subscription key stripped; managed identity becomes the backend key', async () => {
    const upstream = new FakeUpstream(() => ({
      status: 200,
      headers: { 'x-backend-marker': 'upstream', 'x-remove-me': 'secret-ish' },
      body: '{"ok":true}',
    }));
    const xml = policyXml({
      inbound: `<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />
        <set-header name="x-lab" exists-action="override"><value>inbound</value></set-header>
        <set-header name="x-keep" exists-action="skip"><value>policy</value></set-header>
        <set-header name="x-drop" exists-action="delete" />`,
      outbound: `<set-header name="x-backend-marker" exists-action="append"><value>gateway</value></set-header>
        <set-header name="x-remove-me" exists-action="delete" />
        <set-header name="x-from-expression" exists-action="override"><value>@(context.RequestId.ToString())</value></set-header>`,
    });
    const { core, log } = await start(upstream, { policy: xml, options: { subscriptionKeys: [SUB_KEY] } });
    const response = await call(core, log, {
      path: `/openai/v1/chat/completions?api-key=${SUB_KEY}&keep=1`,
      headers: { 'x-keep': 'client', 'x-drop': 'gone', 'x-ms-client-request-id': 'trace-1' },
      body: '{"model":"gpt-4o-mini"}',
    });
    expect(response.status).toBe(200);
    const seen = upstream.requests[0]!;
    expect(seen.path).toBe('/openai/v1/chat/completions?keep=1');
    expect(seen.headers['api-key']).toBe('backend-key');
    expect(seen.headers['x-lab']).toBe('inbound');
    expect(seen.headers['x-keep']).toBe('client');
    expect(seen.headers['x-drop']).toBeUndefined();
    expect(seen.headers['x-ms-client-request-id']).toBe('trace-1');
    expect(seen.headers['host']).toBe('openai-backend.test');
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength('{"model":"gpt-4o-mini"}')));
    expect(seen.body).toBe('{"model":"gpt-4o-mini"}');
    // Two values, which the socket writes as two header lines ("upstream, gateway" to a fetch client).
    expect(response.headers['x-backend-marker']).toEqual(['upstream', 'gateway']);
    expect(response.headers['x-remove-me']).toBeUndefined();
    // An expression-valued header is listed as ignored, never half-applied.
    expect(response.headers['x-from-expression']).toBeUndefined();
    expect(response.text).toBe('{"ok":true}');
  });

  it('without authentication-managed-identity the backend gets no key (and its 401 is relayed)', async () => {
    const upstream = new FakeUpstream((r) =>
      r.headers['api-key'] === undefined
        ? { status: 401, body: JSON.stringify({ error: { code: '401', message: 'Access denied' } }) }
        : ok(),
    );
    const { core, log } = await start(upstream, {
      policy: policyXml({ inbound: '<set-backend-service backend-id="openai-backend" />' }),
    });
    const result = await call(core, log, { headers: { 'api-key': 'client-sent' } });
    expect(result.status).toBe(401);
    expect(JSON.parse(result.text).error.code).toBe('401');
    expect(upstream.requests[0]!.headers['api-key']).toBeUndefined();
  });

  it('forwards only to its backend: absolute-form targets, other paths and other base-urls are refused', async () => {
    const upstream = new FakeUpstream();
    const { core, log } = await start(upstream, { policy: STREAMING });
    const absolute = await call(core, log, { method: 'GET', path: 'http://169.254.169.254/openai/metadata' });
    expect(absolute.status).toBe(400);
    expect(JSON.parse(absolute.text).message).toMatch(/Only origin-form request targets/);
    expect((await call(core, log, { method: 'GET', path: '/admin/anything' })).status).toBe(404);
    expect((await call(core, log, { method: 'GET', path: '//169.254.169.254/openai/x' })).status).toBe(404);
    expect(upstream.requests).toHaveLength(0);
    const elsewhere = policyXml({ inbound: '<set-backend-service base-url="https://example.com/openai" />' });
    await expect(start(upstream, { policy: elsewhere })).rejects.toThrow(/not the configured backend/);
  });

  it('a bridged answer that is not JSON is relayed as it came, and the gateway keeps serving', async () => {
    const upstream = new FakeUpstream(() => ({
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: 'upstream says no',
    }));
    const { core, log } = await start(upstream, { policy: STREAMING });
    const body = JSON.stringify({ model: 'responses/gpt-4o-mini', messages: USER_MESSAGES });
    const first = await call(core, log, { path: '/openai/v1/chat/completions', body });
    expect(first.status).toBe(200);
    expect(first.text).toBe('upstream says no');
    expect(upstream.requests[0]!.path).toBe('/openai/v1/responses');
    expect(JSON.parse(upstream.requests[0]!.body)).toMatchObject({ model: 'gpt-4o-mini', stream: false });
    expect((await call(core, log, { path: '/openai/v1/chat/completions', body })).status).toBe(200);
  });

  it('limits the request body size: 413 (connection: close) before anything is forwarded', async () => {
    const upstream = new FakeUpstream();
    const { core, log } = await start(upstream, { policy: STREAMING, options: { maxBodyBytes: 1024 } });
    const result = await call(core, log, { body: JSON.stringify({ pad: 'x'.repeat(4096) }) });
    expect(result.status).toBe(413);
    expect(result.headers['connection']).toBe('close');
    expect(JSON.parse(result.text)).toEqual({
      statusCode: 413,
      message: "Request body exceeds the gateway's limit of 1024 bytes.",
    });
    expect(upstream.requests).toHaveLength(0);
  });

  it("a backend's error answer passes through as it came: status, body and headers (hop-by-hop ones dropped)", async () => {
    const upstream = new FakeUpstream(() => ({
      status: 500,
      statusText: 'Internal Server Error',
      headers: {
        'x-request-id': 'req-1',
        'content-length': '28',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
      },
      body: '{"error":{"code":"server"}}\n',
    }));
    const { core, log } = await start(upstream, { policy: RETRY_POLICY });
    const result = await call(core, log);
    expect(result.status).toBe(500);
    expect(result.text).toBe('{"error":{"code":"server"}}\n');
    expect(result.headers).toEqual({
      'content-type': 'application/json',
      'x-request-id': 'req-1',
      'content-length': '28',
    });
    expect(upstream.requests).toHaveLength(1);
  });

  it("a failure inside the gateway is its own 500 in APIM's shape, never a rejection", async () => {
    const upstream = new FakeUpstream();
    upstream.send = async () => {
      throw new Error('invalid header x');
    };
    const { core, log } = await start(upstream, { policy: STREAMING });
    const result = await call(core, log);
    expect(result.status).toBe(500);
    expect(JSON.parse(result.text)).toEqual({ statusCode: 500, message: 'Gateway failure: invalid header x' });
    expect(result.entry!.responseCode).toBe(500);
  });
});

describe('gateway core: the token limit (moved from the socket tests)', () => {
  it('charges estimated prompt and streamed completion tokens, then answers 429 with retry-after', async () => {
    const upstream = new FakeUpstream();
    const xml = policyXml({
      inbound: `<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="200" estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining-tokens" />`,
    });
    const { core, log } = await start(upstream, { policy: xml, options: { subscriptionKeys: [SUB_KEY] } });
    const headers = { 'api-key': SUB_KEY };
    const prompt = estimatePromptTokens(chatBody());
    const first = await call(core, log, { headers });
    expect(first.status).toBe(200);
    // A metered stream is never offered for pass-through: the meter must read it.
    expect(first.response.wire).toBeUndefined();
    expect(Number(first.headers['x-remaining-tokens'])).toBe(200 - prompt);
    const streamedTokens = countTextTokens(WORDS.join(''));
    const second = await call(core, log, { headers });
    // Streams are charged by estimate even though the client asked for no usage frame.
    expect(Number(second.headers['x-remaining-tokens'])).toBe(200 - prompt - streamedTokens - prompt);
    let refused: Result | undefined;
    for (let i = 0; i < 20 && refused === undefined; i++) {
      const next = await call(core, log, { headers });
      if (next.status === 429) refused = next;
    }
    expect(refused).toBeDefined();
    const retryAfter = Number(refused!.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(JSON.parse(refused!.text)).toEqual({
      statusCode: 429,
      message: `Token limit is exceeded. Try again in ${retryAfter} seconds.`,
    });
    // Refused at the gateway: the backend did not see it.
    expect(upstream.requests).toHaveLength(log.filter((e) => e.responseCode === 200).length);
  });

  it('retry-after-header-name and a window compressed by --token-window-ms: the wait is counted in the shorter window', async () => {
    const upstream = new FakeUpstream();
    const xml = policyXml({
      inbound: `<set-backend-service backend-id="openai-backend" />
        <llm-token-limit counter-key="k" tokens-per-minute="10" estimate-prompt-tokens="true" retry-after-header-name="x-wait" />`,
    });
    const { core, log } = await start(upstream, { policy: xml, options: { tokenWindowMs: 6_000 } });
    const big = { messages: [{ role: 'user', content: 'word '.repeat(40) }], stream: true };
    const refused = await call(core, log, { body: JSON.stringify(big) });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeUndefined();
    const wait = Number(refused.headers['x-wait']);
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(6);
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('gateway core: the access log (moved from the socket tests)', () => {
  it('logs one access-log entry per request, with the ids that join it to the client and no query string', async () => {
    const upstream = new FakeUpstream(() => ok({ 'x-request-id': 'backend-req-1', 'apim-request-id': 'apim-1' }));
    const { core, log } = await start(upstream, { policy: STREAMING, options: { subscriptionKeys: [SUB_KEY] } });
    const okResult = await call(core, log, {
      path: `${CHAT}&api-key=${SUB_KEY}`,
      headers: { 'x-ms-client-request-id': 'client-1' },
    });
    const refused = await call(core, log, { headers: { 'api-key': 'wrong' } });
    expect([okResult.status, refused.status]).toEqual([200, 401]);
    expect(log).toHaveLength(2);
    const [first, second] = log as [GatewayLogEntry, GatewayLogEntry];
    expect(first).toMatchObject({
      event: 'request',
      method: 'POST',
      path: '/openai/deployments/gpt-4o-mini/chat/completions',
      responseCode: 200,
      clientRequestId: 'client-1',
      backendRequestId: okResult.headers['x-request-id'],
      apimRequestId: okResult.headers['apim-request-id'],
      backendId: 'openai-backend',
      isCancelled: false,
    });
    expect(first.backendRequestId).toBe('backend-req-1');
    expect(first.apimRequestId).toBe('apim-1');
    expect(first.backendTimeMs!).toBeLessThanOrEqual(first.totalTimeMs);
    expect(new Date(first.time).getTime()).not.toBeNaN();
    expect(second).toMatchObject({ responseCode: 401, backendRequestId: null, backendTimeMs: null, attempts: [] });
    expect(JSON.stringify(log)).not.toContain(SUB_KEY);
  });

  it('the entry is written when the response closes, once: the code the client got and whether it left', async () => {
    const upstream = new FakeUpstream();
    const { core, log } = await start(upstream, { policy: STREAMING });
    const response = await core.handle({
      method: 'POST',
      url: CHAT,
      headers: {},
      body: Buffer.from(JSON.stringify(chatBody())),
      signal: new AbortController().signal,
    });
    expect(log).toHaveLength(0);
    response.done({ isCancelled: true, responseCode: 500 });
    response.done();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ responseCode: 500, isCancelled: true, backendId: 'openai-backend' });
  });
});

describe('gateway core: the client leaving, and what the relay offers', () => {
  it('the client leaving mid-stream cancels the backend response: its signal aborts, the body is dropped, counted once', async () => {
    const upstream = new FakeUpstream();
    const { core, log } = await start(upstream, { policy: STREAMING });
    const client = new AbortController();
    const response = await core.handle({
      method: 'POST',
      url: CHAT,
      headers: {},
      body: Buffer.from(JSON.stringify(chatBody())),
      signal: client.signal,
    });
    const pieces = (response.body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    expect((await pieces.next()).done).toBe(false);
    expect(upstream.requests[0]!.signal.aborted).toBe(false);
    client.abort();
    expect(upstream.requests[0]!.signal.aborted).toBe(true);
    await pieces.return?.();
    response.done();
    expect(upstream.dropped).toBe(1);
    expect(core.stats.cancelledUpstream).toBe(1);
    expect(log[0]).toMatchObject({ isCancelled: true, responseCode: 200 });
  });

  it('a client gone during the back-off is not forwarded again', async () => {
    const client = new AbortController();
    const upstream = new FakeUpstream(() => tooMany());
    const { core, log } = await start(upstream, {
      policy: retryPolicy('count="3" interval="1" condition="@(context.Response.StatusCode == 429)"'),
      options: { sleep: async () => client.abort() },
    });
    await call(core, log, { signal: client.signal });
    expect(upstream.requests).toHaveLength(1);
    expect(core.stats.cancelledUpstream).toBe(1);
    expect(log[0]!.isCancelled).toBe(true);
  });

  it('buffer-response="true" (APIM default) holds the stream in blocks of at least 8 KB; "false" relays each piece as it came', async () => {
    const frames = Array.from({ length: 400 }, (_, i) => `data: {"n":${i},"pad":"${'x'.repeat(40)}"}\n\n`);
    const upstream = new FakeUpstream(() => ({
      status: 200,
      headers: { 'content-type': 'text/event-stream' },
      body: frames,
    }));
    const blocks = async (policy: string): Promise<Buffer[]> => {
      const { core } = await start(upstream, { policy });
      const response = await core.handle({
        method: 'POST',
        url: CHAT,
        headers: {},
        body: Buffer.from('{}'),
        signal: new AbortController().signal,
      });
      const out: Buffer[] = [];
      for await (const piece of response.body as AsyncIterable<Buffer>) out.push(piece);
      return out;
    };
    const held = await blocks(BUFFERED);
    expect(Buffer.concat(held).toString()).toBe(frames.join(''));
    expect(held.length).toBeLessThanOrEqual(Math.ceil(frames.join('').length / 8192) + 1);
    for (const block of held.slice(0, -1)) expect(block.length).toBeGreaterThanOrEqual(8192);
    const relayed = await blocks(STREAMING);
    expect(relayed.map((b) => b.toString())).toEqual(frames);
  });

  it('the raw wire is offered only where no policy reads or holds the body', async () => {
    const wire = { relay: () => undefined };
    const upstream = new FakeUpstream();
    const send = upstream.send.bind(upstream);
    upstream.send = async (request) => {
      const reply = await send(request);
      return { ...reply, body: Object.assign(reply.body, { wire }) };
    };
    const offered = async (policy: string): Promise<boolean> => {
      const { core, log } = await start(upstream, { policy });
      return (await call(core, log)).response.wire === wire;
    };
    expect(await offered(STREAMING)).toBe(true);
    expect(await offered(BUFFERED)).toBe(false);
    expect(
      await offered(
        policyXml({
          outbound:
            '<log-to-eventhub logger-id="audit">@(context.Response.Body.As<string>(preserveContent: true))</log-to-eventhub>',
        }),
      ),
    ).toBe(false);
  });
});
