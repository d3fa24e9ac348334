import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { API_VERSION, TEST_KEY, USER_MESSAGES, chatUrl, post, readFixture, startFastMock } from '../helpers/mock.ts';
import { readSse } from '../helpers/sse.ts';

// Every fault, seen on the wire by a real HTTP client.
let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock();
});
afterAll(() => mock.close());

const STREAM_BODY = { messages: USER_MESSAGES, stream: true };
const fault = (value: string, extra: Record<string, string> = {}) => ({ 'x-mock-fault': value, ...extra });
const msBetween = (a: bigint, b: bigint): number => Number(b - a) / 1e6;

describe('status faults', () => {
  it('429 carries Azure body, retry-after and retry-after-ms', async () => {
    const response = await post(chatUrl(mock), STREAM_BODY, fault('429=2500'));
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after-ms')).toBe('2500');
    expect(response.headers.get('retry-after')).toBe('3');
    expect(response.headers.get('content-type')).toBe('application/json; charset=UTF-8');
    expect(response.headers.get('x-request-id')).toBeTruthy();
    const body = await response.text();
    expect(JSON.parse(body)).toEqual({
      error: { code: '429', message: 'Rate limit is exceeded. Try again in 3 seconds.' },
    });
    expect(body).toBe(readFixture('error-429.json').replace('2 seconds', '3 seconds'));
  });

  it('500 names the request id; 503 asks to retry', async () => {
    const r500 = await post(chatUrl(mock), STREAM_BODY, fault('500'));
    expect(r500.status).toBe(500);
    const body = (await r500.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe('server_error');
    expect(body.error.message).toContain(r500.headers.get('x-request-id')!);
    const r503 = await post(chatUrl(mock), STREAM_BODY, fault('503'));
    expect(r503.status).toBe(503);
    expect(r503.headers.get('retry-after')).toBe('1');
  });

  it('an unknown fault name is a 400 that names the header and lists the allowed faults', async () => {
    const response = await post(chatUrl(mock), STREAM_BODY, fault('explode'));
    expect(response.status).toBe(400);
    const text = await response.text();
    expect(text).toContain('x-mock-fault');
    expect(text).toContain('disconnect-after');
  });
});

describe('stream faults', () => {
  it('disconnect-after=3 drops the connection after 3 frames, without [DONE]', async () => {
    const response = await post(chatUrl(mock), STREAM_BODY, fault('disconnect-after=3'));
    const stream = await readSse(response);
    expect(stream.error).toBeDefined();
    expect(stream.events).toHaveLength(3);
    const record = mock.context.recorder.get(response.headers.get('x-request-id')!)!;
    expect(record.outcome).toBe('disconnected');
    expect(record.framesEmitted).toBe(3);
  });

  it('stall=300 leaves a quiet gap mid-stream, then carries on to [DONE]', async () => {
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, fault('stall=300')));
    const gaps = stream.events.slice(1).map((e, i) => msBetween(stream.events[i]!.arrivalNs, e.arrivalNs));
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(290);
    expect(stream.events.at(-1)!.data).toBe('[DONE]');
  });

  it('keepalive=50 fills a stall with SSE comments', async () => {
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, fault('stall=300,keepalive=50')));
    expect(stream.comments.filter((c) => c.trim() === 'keep-alive').length).toBeGreaterThanOrEqual(4);
  });

  it('malformed-frame cuts exactly one frame short', async () => {
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, fault('malformed-frame')));
    const broken = stream.events.filter((e) => {
      if (e.data === '[DONE]') return false;
      try {
        JSON.parse(e.data);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken).toHaveLength(1);
  });

  it('split-utf8 writes a multibyte character across two writes', async () => {
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, fault('split-utf8')));
    const invalidAlone = stream.chunks.filter(({ bytes }) => {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes);
        return false;
      } catch {
        return true;
      }
    });
    expect(invalidAlone.length).toBeGreaterThanOrEqual(2);
    const text = stream.events
      .map((e) => (e.data === '[DONE]' ? '' : (JSON.parse(e.data).choices[0]?.delta?.content ?? '')))
      .join('');
    expect(text).toContain('\u2615');
  });

  it('no-done ends after the finish frame without [DONE]', async () => {
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, fault('no-done')));
    expect(stream.error).toBeUndefined();
    expect(stream.events.some((e) => e.data === '[DONE]')).toBe(false);
    expect(JSON.parse(stream.events.at(-1)!.data).choices[0].finish_reason).toBe('stop');
  });

  it('huge-frame=300000 pads one content frame to that size', async () => {
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, fault('huge-frame=300000')));
    const sizes = stream.events.map((e) => e.data.length);
    expect(sizes.filter((s) => s >= 300_000)).toHaveLength(1);
    expect(sizes.filter((s) => s < 10_000).length).toBe(sizes.length - 1);
  });

  it('slow-headers=300 holds the response headers', async () => {
    const started = performance.now();
    const response = await post(chatUrl(mock), STREAM_BODY, fault('slow-headers=300'));
    expect(performance.now() - started).toBeGreaterThanOrEqual(295);
    await response.text();
  });

  it('buffered holds every frame to the end (stamps prove it was emitted late, not delivered late)', async () => {
    const headers = fault('buffered', { 'x-mock-stamp': '1', 'x-mock-itl-ms': '10', 'x-mock-output-tokens': '20' });
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, headers));
    const first = stream.events[0]!;
    const last = stream.events.at(-1)!;
    expect(msBetween(first.arrivalNs, last.arrivalNs)).toBeLessThan(15);
    expect(msBetween(first.stamp!.emitNs, last.stamp!.emitNs)).toBeLessThan(15);
    const smooth = await readSse(
      await post(chatUrl(mock), STREAM_BODY, { 'x-mock-itl-ms': '10', 'x-mock-output-tokens': '20' }),
    );
    expect(msBetween(smooth.events[0]!.arrivalNs, smooth.events.at(-1)!.arrivalNs)).toBeGreaterThan(150);
  });

  it('responses-error ends a Responses stream with error + response.failed, which the SDK throws on', async () => {
    const url = `${mock.url}/openai/v1/responses`;
    const stream = await readSse(
      await post(url, { model: 'gpt-4o-mini', input: 'Hi', stream: true }, fault('responses-error')),
    );
    expect(stream.events.slice(-2).map((e) => e.event)).toEqual(['error', 'response.failed']);
    const failed = JSON.parse(stream.events.at(-1)!.data);
    expect(failed.response.status).toBe('failed');
    const client = new OpenAI({ baseURL: `${mock.url}/openai/v1/`, apiKey: TEST_KEY, maxRetries: 0 });
    const sdkStream = await client.responses.create(
      { model: 'gpt-4o-mini', input: 'Hi', stream: true },
      { headers: fault('responses-error') },
    );
    await expect(async () => {
      for await (const _ of sdkStream) void _;
    }).rejects.toBeInstanceOf(OpenAI.APIError);
  });

  it('responses-error on chat ends with a data: {"error":…} frame the SDK throws on', async () => {
    const client = new AzureOpenAI({
      endpoint: mock.url,
      apiKey: TEST_KEY,
      apiVersion: API_VERSION,
      deployment: 'gpt-4o-mini',
      maxRetries: 0,
    });
    const sdkStream = await client.chat.completions.create(
      { model: 'x', messages: USER_MESSAGES as never, stream: true },
      { headers: fault('responses-error') },
    );
    await expect(async () => {
      for await (const _ of sdkStream) void _;
    }).rejects.toBeInstanceOf(OpenAI.APIError);
  });
});

describe('timing model and ground truth', () => {
  it('stamps every frame with a monotonic emission time that precedes its arrival', async () => {
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, { 'x-mock-stamp': '1' }));
    expect(stream.events.map((e) => e.stamp?.seq)).toEqual(stream.events.map((_, i) => i));
    for (const event of stream.events) {
      const deliveryMs = msBetween(event.stamp!.emitNs, event.arrivalNs);
      expect(deliveryMs).toBeGreaterThanOrEqual(0);
      expect(deliveryMs).toBeLessThan(100);
    }
  });

  it('honours TTFT and ITL control headers, and a seed reproduces text and timings', async () => {
    const headers = {
      'x-mock-ttft-ms': '150',
      'x-mock-itl-ms': '20',
      'x-mock-jitter-ms': '5',
      'x-mock-seed': '7',
      'x-mock-stamp': '1',
      'x-mock-output-tokens': '10',
    };
    const run = async () => {
      const started = process.hrtime.bigint();
      const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, headers));
      const content = stream.events.filter((e) => e.data !== '[DONE]' && JSON.parse(e.data).choices[0]?.delta?.content);
      return {
        text: content.map((e) => JSON.parse(e.data).choices[0].delta.content).join(''),
        ttftMs: msBetween(started, content[0]!.arrivalNs),
        dueUs: content.map((e) => e.stamp!.dueUs!),
        // emit - due = start + lateness; frames are never early, so the least of these is the
        // start (to within the least-late frame) and the rest is each frame's lateness.
        offsetsMs: stream.events.map((e) => Number(e.stamp!.emitNs) / 1e6 - e.stamp!.dueUs! / 1000),
      };
    };
    const a = await run();
    const b = await run();
    expect(a.text).toBe(b.text);
    expect(a.ttftMs).toBeGreaterThanOrEqual(149);
    expect(a.ttftMs).toBeLessThan(250);
    // The seed fixes the schedule exactly, and each stamp carries its planned time.
    expect(a.dueUs).toEqual(b.dueUs);
    const plannedGapsMs = a.dueUs.slice(1).map((due, i) => (due - a.dueUs[i]!) / 1000);
    const meanGap = plannedGapsMs.reduce((s, g) => s + g, 0) / plannedGapsMs.length;
    expect(meanGap).toBeGreaterThan(12);
    expect(meanGap).toBeLessThan(30);
    expect(Math.min(...plannedGapsMs)).not.toBe(Math.max(...plannedGapsMs)); // jitter applied
    // Emission follows the plan: the median frame leaves within a few ms of its planned time
    // (one GC pause in this shared process may delay a single frame by 10+ ms).
    const start = Math.min(...a.offsetsMs);
    const lateness = a.offsetsMs.map((offset) => offset - start).sort((x, y) => x - y);
    expect(lateness[Math.floor(lateness.length / 2)]!).toBeLessThan(4);
  });

  it('burst mode releases tokens in blocks', async () => {
    const headers = {
      'x-mock-mode': 'burst',
      'x-mock-burst-tokens': '5',
      'x-mock-itl-ms': '10',
      'x-mock-output-tokens': '15',
      'x-mock-stamp': '1',
    };
    const stream = await readSse(await post(chatUrl(mock), STREAM_BODY, headers));
    const content = stream.events.filter((e) => e.data !== '[DONE]' && JSON.parse(e.data).choices[0]?.delta?.content);
    // The plan (due-us) is exact: three blocks of five, 0 ms apart inside a block.
    const planned = content.slice(1).map((e, i) => (e.stamp!.dueUs! - content[i]!.stamp!.dueUs!) / 1000);
    expect(planned.filter((g) => g > 25)).toHaveLength(2);
    expect(planned.filter((g) => g === 0)).toHaveLength(12);
    // And emission follows it: the two block gaps show on the wire.
    const gaps = content.slice(1).map((e, i) => msBetween(content[i]!.stamp!.emitNs, e.stamp!.emitNs));
    expect(gaps.filter((g) => g > 25)).toHaveLength(2);
  });

  it('max_tokens below the natural length ends with finish_reason "length"', async () => {
    const stream = await readSse(await post(chatUrl(mock), { ...STREAM_BODY, max_tokens: 4 }));
    const frames = stream.events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data));
    expect(frames.filter((f) => f.choices[0]?.delta?.content)).toHaveLength(4);
    expect(frames.at(-1).choices[0].finish_reason).toBe('length');
  });
});
