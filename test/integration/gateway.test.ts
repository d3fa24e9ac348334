import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { msBetween, runProbe, type ProbeResult } from '../../src/compliance/probe.ts';
import { LAB_POLICY, policyFile, policyXml, startGateway, startRecordingBackend } from '../helpers/gateway.ts';
import { API_VERSION, startFastMock, TEST_KEY, USER_MESSAGES } from '../helpers/mock.ts';

// What the gateway decides (subscription keys, set-header, targets, the token limit, the forward
// timeout, error bodies, the access-log entry) is tested in process, without sockets, in
// test/unit/gateway-core.test.ts. What stays here is what only a socket shows: frames as they
// arrive, held blocks, a request body read off the connection, the bridge against the mock's
// real streams, a client leaving, and a backend dropping mid-stream.

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
});

describe('local gateway: the request body', () => {
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
