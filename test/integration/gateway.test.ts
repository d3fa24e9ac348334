import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTextTokens } from '../../src/protocol/prompt-tokens.ts';
import { estimatePromptTokens } from '../../stand-ins/apim/usage-meter.ts';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { msBetween, runProbe, type ProbeResult } from '../../src/compliance/probe.ts';
import { LAB_POLICY, policyFile, policyXml, startGateway, startRecordingBackend } from '../helpers/gateway.ts';
import { API_VERSION, startFastMock, TEST_KEY, USER_MESSAGES } from '../helpers/mock.ts';

const SUB_KEY = 'lab-subscription-key';
const CHAT = `/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`;
const chatBody = (extra: Record<string, unknown> = {}) => ({ messages: USER_MESSAGES, stream: true, ...extra });

function probe(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  extra: { closeAfterEvents?: number } = {},
): Promise<ProbeResult> {
  return runProbe({ url, headers: { 'api-key': SUB_KEY, ...headers }, body, timeoutMs: 10_000, ...extra });
}
const contentDeltas = (r: ProbeResult): string[] =>
  r.events
    .filter((e) => e.data !== '[DONE]')
    .map(
      (e) =>
        (JSON.parse(e.data) as { choices?: Array<{ delta?: { content?: string } }> }).choices?.[0]?.delta?.content ??
        '',
    )
    .filter((t) => t !== '');
const responsesDeltas = (r: ProbeResult): string[] =>
  r.events
    .map((e) => JSON.parse(e.data) as { type: string; delta?: string })
    .filter((d) => d.type === 'response.output_text.delta')
    .map((d) => d.delta!);

let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 20, itlMs: 8, jitterMs: 0, outputTokens: 40 } });
});
afterAll(() => mock.close());

describe('local gateway: forward-request buffer-response', () => {
  it('streaming policy relays every frame as it is produced, with the mock key standing in for managed identity', async () => {
    const gateway = await startGateway(LAB_POLICY('streaming'), mock.url, {
      backendKey: TEST_KEY,
      subscriptionKeys: [SUB_KEY],
    });
    try {
      const result = await probe(gateway.url + CHAT, chatBody(), { 'x-mock-stamp': '1' });
      expect(result.status).toBe(200);
      const stamped = result.events.filter((e) => e.stamp !== undefined);
      expect(stamped.length).toBeGreaterThanOrEqual(40);
      // Frames 8 ms apart arrive apart: about one read per frame (a loaded machine may let a
      // few pairs meet in one read; a buffered relay gives a handful of reads for the whole stream).
      expect(result.reads.length).toBeGreaterThanOrEqual(Math.floor(stamped.length * 0.75));
      const lags = stamped.map((e) => msBetween(e.stamp!.emitNs, e.arrivalNs)).sort((a, b) => a - b);
      expect(lags[Math.floor(lags.length / 2)]!).toBeLessThan(20);
    } finally {
      await gateway.close();
    }
  });

  it('buffered policy (APIM default) holds the stream in 8 KB blocks', async () => {
    const gateway = await startGateway(LAB_POLICY('buffered'), mock.url, {
      backendKey: TEST_KEY,
      subscriptionKeys: [SUB_KEY],
    });
    try {
      const result = await probe(gateway.url + CHAT, chatBody());
      expect(result.status).toBe(200);
      expect(result.events.at(-1)?.data).toBe('[DONE]');
      const total = result.reads.reduce((sum, r) => sum + r.bytes, 0);
      expect(total).toBeGreaterThan(16 * 1024);
      expect(result.reads.length).toBeLessThanOrEqual(Math.ceil(total / 8192) + 1);
      // No block but the last is smaller than 8 KB of payload (plus chunk framing).
      for (const read of result.reads.slice(1, -1)) expect(read.bytes).toBeGreaterThanOrEqual(8192);
    } finally {
      await gateway.close();
    }
  });

  it('a policy that reads context.Response.Body holds the whole stream, even with buffer-response="false"', async () => {
    const xml = policyXml({
      outbound:
        '<log-to-eventhub logger-id="audit">@(context.Response.Body.As<string>(preserveContent: true))</log-to-eventhub>',
    });
    const gateway = await startGateway(policyFile(xml), mock.url, {
      backendKey: TEST_KEY,
      subscriptionKeys: [SUB_KEY],
    });
    try {
      const result = await probe(gateway.url + CHAT, chatBody(), { 'x-mock-stamp': '1' });
      expect(result.status).toBe(200);
      expect(result.events.at(-1)?.data).toBe('[DONE]');
      // 40 frames 8 ms apart, and the first one reaches the client only with the last.
      const stamped = result.events.filter((e) => e.stamp !== undefined);
      const firstLag = msBetween(stamped[0]!.stamp!.emitNs, stamped[0]!.arrivalNs);
      expect(firstLag).toBeGreaterThan(250);
      expect(result.reads.length).toBeLessThanOrEqual(3);
    } finally {
      await gateway.close();
    }
  });

  it('logs one access-log entry per request, with the ids that join it to the client and no query string', async () => {
    const entries: Array<Record<string, unknown>> = [];
    const gateway = await startGateway(LAB_POLICY('streaming'), mock.url, {
      backendKey: TEST_KEY,
      subscriptionKeys: [SUB_KEY],
      accessLog: (e) => void entries.push({ ...e }),
    });
    try {
      const ok = await runProbe({
        url: `${gateway.url}${CHAT}&api-key=${SUB_KEY}`,
        headers: { 'x-ms-client-request-id': 'client-1' },
        body: chatBody(),
        timeoutMs: 10_000,
      });
      const refused = await probe(gateway.url + CHAT, chatBody(), { 'api-key': 'wrong' });
      expect([ok.status, refused.status]).toEqual([200, 401]);
      for (let i = 0; i < 20 && entries.length < 2; i++) await sleep(10);
      expect(entries).toHaveLength(2);
      const [first, second] = entries as [Record<string, unknown>, Record<string, unknown>];
      expect(first).toMatchObject({
        event: 'request',
        method: 'POST',
        path: '/openai/deployments/gpt-4o-mini/chat/completions',
        responseCode: 200,
        clientRequestId: 'client-1',
        backendRequestId: ok.headers['x-request-id'],
        apimRequestId: ok.headers['apim-request-id'],
        isCancelled: false,
      });
      expect(first['backendTimeMs'] as number).toBeLessThan(first['totalTimeMs'] as number);
      expect(second).toMatchObject({ responseCode: 401, backendRequestId: null, backendTimeMs: null });
      expect(JSON.stringify(entries)).not.toContain(SUB_KEY);
    } finally {
      await gateway.close();
    }
  });

  it('timeout bounds the wait for the backend headers: 504 from the gateway', async () => {
    const gateway = await startGateway(
      policyFile(policyXml({ backend: '<forward-request timeout-ms="300" buffer-response="false" />' })),
      mock.url,
      { backendKey: TEST_KEY },
    );
    try {
      const started = performance.now();
      const result = await probe(gateway.url + CHAT, chatBody(), { 'x-mock-fault': 'slow-headers=3000' });
      expect(result.status).toBe(504);
      expect(JSON.parse(result.bodyText)).toMatchObject({ statusCode: 504 });
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      await gateway.close();
    }
  });
});

describe('local gateway: subscription keys', () => {
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    gateway = await startGateway(LAB_POLICY('streaming'), mock.url, {
      backendKey: TEST_KEY,
      subscriptionKeys: [SUB_KEY],
    });
  });
  afterAll(() => gateway.close());

  it('401 without a key and with a wrong one, in APIM shape; the backend never sees them', async () => {
    const before = mock.context.stats.requests;
    const missing = await runProbe({ url: gateway.url + CHAT, headers: {}, body: chatBody(), timeoutMs: 5000 });
    expect(missing.status).toBe(401);
    expect(JSON.parse(missing.bodyText).message).toMatch(/missing subscription key/);
    const wrong = await probe(gateway.url + CHAT, chatBody(), { 'api-key': 'not-the-key' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.bodyText).message).toMatch(/invalid subscription key/);
    expect(mock.context.stats.requests).toBe(before);
  });

  it('accepts the key in the api-key query parameter too', async () => {
    const result = await runProbe({
      url: `${gateway.url}${CHAT}&api-key=${SUB_KEY}`,
      headers: {},
      body: chatBody(),
      timeoutMs: 5000,
    });
    expect(result.status).toBe(200);
    expect(result.events.at(-1)?.data).toBe('[DONE]');
  });
});

describe('local gateway: headers, backend and limits', () => {
  it('set-header in and out with exists-action; subscription key stripped; managed identity becomes the backend key', async () => {
    const backend = await startRecordingBackend();
    const xml = policyXml({
      inbound: `<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />
        <set-header name="x-lab" exists-action="override"><value>inbound</value></set-header>
        <set-header name="x-keep" exists-action="skip"><value>policy</value></set-header>
        <set-header name="x-drop" exists-action="delete" />`,
      outbound: `<set-header name="x-backend-marker" exists-action="append"><value>gateway</value></set-header>
        <set-header name="x-remove-me" exists-action="delete" />
        <set-header name="x-from-expression" exists-action="override"><value>@(context.RequestId.ToString())</value></set-header>`,
    });
    const gateway = await startGateway(policyFile(xml), backend.url, {
      backendKey: 'backend-key',
      subscriptionKeys: [SUB_KEY],
    });
    try {
      const response = await fetch(`${gateway.url}/openai/v1/chat/completions?api-key=${SUB_KEY}&keep=1`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-keep': 'client',
          'x-drop': 'gone',
          'x-ms-client-request-id': 'trace-1',
        },
        body: '{"model":"gpt-4o-mini"}',
      });
      expect(response.status).toBe(200);
      const seen = backend.requests[0]!;
      expect(seen.url).toBe('/openai/v1/chat/completions?keep=1');
      expect(seen.headers['api-key']).toBe('backend-key');
      expect(seen.headers['x-lab']).toBe('inbound');
      expect(seen.headers['x-keep']).toBe('client');
      expect(seen.headers['x-drop']).toBeUndefined();
      expect(seen.headers['x-ms-client-request-id']).toBe('trace-1');
      expect(seen.body).toBe('{"model":"gpt-4o-mini"}');
      expect(response.headers.get('x-backend-marker')).toBe('upstream, gateway');
      expect(response.headers.get('x-remove-me')).toBeNull();
      // An expression-valued header is listed as ignored, never half-applied.
      expect(response.headers.get('x-from-expression')).toBeNull();
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('without authentication-managed-identity the backend gets no key (and the mock says 401)', async () => {
    const xml = policyXml({ inbound: '<set-backend-service backend-id="openai-backend" />' });
    const gateway = await startGateway(policyFile(xml), mock.url, { backendKey: TEST_KEY });
    try {
      const result = await probe(gateway.url + CHAT, chatBody());
      expect(result.status).toBe(401);
      expect(JSON.parse(result.bodyText).error.code).toBe('401');
    } finally {
      await gateway.close();
    }
  });

  it('forwards only to its backend: absolute-form targets, other paths and other base-urls are refused', async () => {
    const backend = await startRecordingBackend();
    const gateway = await startGateway(LAB_POLICY('streaming'), backend.url, {});
    try {
      const { request } = await import('node:http');
      const status = await new Promise<number>((resolve, reject) => {
        const { port } = new URL(gateway.url);
        const req = request(
          { host: '127.0.0.1', port, method: 'GET', path: 'http://169.254.169.254/openai/metadata' },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(status).toBe(400);
      expect((await fetch(`${gateway.url}/admin/anything`)).status).toBe(404);
      expect(backend.requests).toHaveLength(0);
      const elsewhere = policyFile(
        policyXml({ inbound: '<set-backend-service base-url="https://example.com/openai" />' }),
      );
      await expect(startGateway(elsewhere, backend.url)).rejects.toThrow(/not the configured backend/);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('a bridged answer that is not JSON is relayed as it came, and the gateway keeps serving', async () => {
    const { createServer } = await import('node:http');
    const backend = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream says no'),
    );
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', () => resolve()));
    const gateway = await startGateway(
      LAB_POLICY('streaming'),
      `http://127.0.0.1:${(backend.address() as { port: number }).port}`,
      {},
    );
    try {
      const body = JSON.stringify({ model: 'responses/gpt-4o-mini', messages: USER_MESSAGES });
      const first = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(first.status).toBe(200);
      expect(await first.text()).toBe('upstream says no');
      expect(
        (
          await fetch(`${gateway.url}/openai/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
          })
        ).status,
      ).toBe(200);
    } finally {
      await gateway.close();
      backend.closeAllConnections();
      backend.close();
    }
  });

  it('limits the request body size: 413 before anything is forwarded', async () => {
    const backend = await startRecordingBackend();
    const gateway = await startGateway(LAB_POLICY('streaming'), backend.url, { maxBodyBytes: 1024 });
    try {
      const response = await fetch(`${gateway.url}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ pad: 'x'.repeat(4096) }),
      });
      expect(response.status).toBe(413);
      expect(backend.requests).toHaveLength(0);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });
});

describe('local gateway: llm-token-limit', () => {
  it('charges estimated prompt and streamed completion tokens, then answers 429 with retry-after', async () => {
    const xml = policyXml({
      inbound: `<set-backend-service backend-id="openai-backend" /><authentication-managed-identity resource="https://cognitiveservices.azure.com" />
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="200" estimate-prompt-tokens="false" remaining-tokens-header-name="x-remaining-tokens" />`,
    });
    const gateway = await startGateway(policyFile(xml), mock.url, {
      backendKey: TEST_KEY,
      subscriptionKeys: [SUB_KEY],
    });
    try {
      const prompt = estimatePromptTokens(chatBody());
      const first = await probe(gateway.url + CHAT, chatBody());
      expect(first.status).toBe(200);
      expect(Number(first.headers['x-remaining-tokens'])).toBe(200 - prompt);
      const streamedTokens = countTextTokens(contentDeltas(first).join(''));
      const second = await probe(gateway.url + CHAT, chatBody());
      // Streams are charged by estimate even though the client asked for no usage frame.
      expect(Number(second.headers['x-remaining-tokens'])).toBe(200 - prompt - streamedTokens - prompt);
      let refused: ProbeResult | undefined;
      for (let i = 0; i < 10 && refused === undefined; i++) {
        const next = await probe(gateway.url + CHAT, chatBody());
        if (next.status === 429) refused = next;
      }
      expect(refused).toBeDefined();
      const retryAfter = Number(refused!.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
      expect(JSON.parse(refused!.bodyText).message).toBe(
        `Token limit is exceeded. Try again in ${retryAfter} seconds.`,
      );
    } finally {
      await gateway.close();
    }
  });
});

describe('local gateway: bridge and cancellation', () => {
  let gateway: Awaited<ReturnType<typeof startGateway>>;
  beforeAll(async () => {
    gateway = await startGateway(LAB_POLICY('streaming'), mock.url, {
      backendKey: TEST_KEY,
      subscriptionKeys: [SUB_KEY],
    });
  });
  afterAll(() => gateway.close());

  it('serves chat completions for model responses/<deployment> from the Responses stream, frame for frame', async () => {
    const seed = { 'x-mock-seed': '77', 'x-mock-stamp': '1' };
    const direct = await runProbe({
      url: `${mock.url}/openai/v1/responses`,
      headers: { 'api-key': TEST_KEY, ...seed },
      body: { model: 'gpt-4o-mini', input: USER_MESSAGES, stream: true, max_output_tokens: 25 },
      timeoutMs: 5000,
    });
    const bridged = await probe(
      `${gateway.url}/openai/v1/chat/completions`,
      {
        model: 'responses/gpt-4o-mini',
        messages: USER_MESSAGES,
        stream: true,
        max_tokens: 25,
        stream_options: { include_usage: true },
      },
      seed,
    );
    expect(bridged.status).toBe(200);
    expect(contentDeltas(bridged)).toEqual(responsesDeltas(direct));
    const chunks = bridged.events.slice(0, -1).map(
      (e) =>
        JSON.parse(e.data) as {
          object: string;
          choices: Array<{ finish_reason: string | null }>;
          usage?: { completion_tokens: number };
        },
    );
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage?.completion_tokens).toBe(25);
    expect(bridged.events.at(-1)!.data).toBe('[DONE]');
    // Stamps stay on their frames, so delivery latency through the bridge is measurable.
    expect(bridged.events.filter((e) => e.stamp !== undefined).length).toBeGreaterThanOrEqual(25);
    // The classic URL shape, with its dated api-version, reaches the same v1 route (which takes no dated version).
    const classic = await probe(
      `${gateway.url}/openai/deployments/${encodeURIComponent('responses/gpt-4o-mini')}/chat/completions?api-version=${API_VERSION}`,
      { messages: USER_MESSAGES, stream: true, max_tokens: 25 },
      seed,
    );
    expect(classic.status).toBe(200);
    expect(contentDeltas(classic)).toEqual(responsesDeltas(direct));
  });

  it('bridges non-streamed requests into a chat.completion', async () => {
    const bridged = await probe(`${gateway.url}/openai/v1/chat/completions`, {
      model: 'responses/gpt-4o-mini',
      messages: USER_MESSAGES,
      max_tokens: 5,
    });
    expect(bridged.status).toBe(200);
    const body = JSON.parse(bridged.bodyText) as {
      object: string;
      choices: Array<{ message: { content: string }; finish_reason: string }>;
      usage: { completion_tokens: number };
    };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]!.finish_reason).toBe('length');
    expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
    expect(body.usage.completion_tokens).toBe(5);
  });

  it('cancels the upstream request when the client leaves mid-stream', async () => {
    const id = `cancel-${Date.now()}`;
    const cancelledBefore = gateway.stats.cancelledUpstream;
    const result = await probe(
      gateway.url + CHAT,
      chatBody(),
      { 'x-ms-client-request-id': id, 'x-mock-output-tokens': '500' },
      { closeAfterEvents: 5 },
    );
    expect(result.end).toBe('closed');
    let outcome = 'pending';
    for (let i = 0; i < 30 && outcome === 'pending'; i++) {
      await sleep(50);
      const records = (await (await fetch(`${mock.url}/_mock/requests`)).json()) as Array<{
        clientRequestId: string | null;
        outcome: string;
        framesEmitted: number;
      }>;
      outcome = records.find((r) => r.clientRequestId === id)?.outcome ?? 'pending';
    }
    expect(outcome).toBe('cancelled');
    expect(gateway.stats.cancelledUpstream).toBe(cancelledBefore + 1);
  });

  it('an upstream that drops mid-stream is dropped to the client too (no clean end)', async () => {
    const result = await probe(gateway.url + CHAT, chatBody(), { 'x-mock-fault': 'disconnect-after=5' });
    expect(result.status).toBe(200);
    expect(result.end).toBe('error');
    expect(result.events.some((e) => e.data === '[DONE]')).toBe(false);
  });
});
