import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { Mulberry32 } from '../../src/protocol/index.ts';
import { chatUrl, post, startFastMock, USER_MESSAGES } from '../helpers/mock.ts';

// The mock answers what Azure answers for every body (issue 31): 400 in Azure's shape for
// whatever is not a valid request (depth, size, context window, a fuzzer's mutations), never
// a 500; a path with anything before /openai/ is 404; one request's token counting never
// stalls the other streams.
let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock({ timing: { ttftMs: 0, itlMs: 0, jitterMs: 0, outputTokens: 4 } });
});
afterAll(() => mock.close());

type AzureError = { error: { message: string; type: string; param: string | null; code: string | null } };
const isAzureError = (body: unknown): boolean => {
  const e = (body as AzureError | undefined)?.error;
  return typeof e?.message === 'string' && typeof e.type === 'string' && 'param' in e && 'code' in e;
};

describe('bodies the mock must refuse as Azure does', () => {
  it('JSON nested thousands deep is a 400 (unparseable), not a 500', async () => {
    for (const depth of [65, 2_000, 100_000]) {
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      // In a typed field (n) and in an unknown one (accepted, never type-checked): both too deep to read.
      for (const field of ['n', 'x_unknown']) {
        const response = await post(chatUrl(mock), `{"messages":[{"role":"user","content":"x"}],"${field}":${deep}}`);
        expect(response.status, `${field} at depth ${depth}`).toBe(400);
        expect(isAzureError(await response.json())).toBe(true);
      }
    }
    const ok = await post(chatUrl(mock), { messages: USER_MESSAGES, metadata: { a: { b: { c: 'shallow' } } } });
    expect(ok.status).not.toBe(500);
  });

  it("a legacy completions prompt longer than gpt-35-turbo-instruct's 4,096 tokens is refused (context_length_exceeded, param prompt)", async () => {
    const long = await post(`${mock.url}/openai/deployments/gpt-35-turbo-instruct/completions?api-version=2024-10-21`, {
      prompt: ' word'.repeat(5_000),
      max_tokens: 4,
    });
    expect(long.status).toBe(400);
    expect(((await long.json()) as AzureError).error).toMatchObject({
      code: 'context_length_exceeded',
      param: 'prompt',
      type: 'invalid_request_error',
    });
  });

  it('on gpt-4o-mini (128,000 tokens): 140,000 words are refused with the counts, 1,000 are served; max_tokens counts too', async () => {
    const refused = await post(chatUrl(mock), { messages: [{ role: 'user', content: ' word'.repeat(140_000) }] });
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as AzureError;
    expect(body.error).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect(body.error.message).toMatch(
      /^This model's maximum context length is 128000 tokens\. However, your messages resulted in 1400\d\d tokens\./,
    );
    expect(
      (await post(chatUrl(mock), { messages: [{ role: 'user', content: ' word'.repeat(1_000) }], max_tokens: 8 }))
        .status,
    ).toBe(200);
    const overflow = await post(chatUrl(mock), {
      messages: [{ role: 'user', content: ' word'.repeat(100_000) }],
      max_tokens: 50_000,
    });
    expect(overflow.status).toBe(400);
    expect(((await overflow.json()) as AzureError).error.message).toMatch(
      /you requested 1500\d\d tokens \(1000\d\d in the messages, 50000 in the completion\)/,
    );
  });

  it('a path with anything before /openai/ is 404 Resource not found, as Azure answers (a wrong --endpoint …/openai)', async () => {
    const response = await post(
      `${mock.url}/openai/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`,
      { messages: USER_MESSAGES },
    );
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { code: '404', message: 'Resource not found' } });
    expect((await post(chatUrl(mock), { messages: USER_MESSAGES })).status).toBe(200);
  });
});

describe('control headers and request targets that would take the mock down', () => {
  it('a fault value out of its range (huge-frame=99999999999, keepalive=1, 429=1.5) is a 400 naming the header; the mock keeps serving', async () => {
    for (const fault of ['huge-frame=99999999999', 'keepalive=1', '429=1.5', 'stall=', 'disconnect-after=-1']) {
      const response = await post(chatUrl(mock), { messages: USER_MESSAGES, stream: true }, { 'x-mock-fault': fault });
      expect(response.status, fault).toBe(400);
      expect(JSON.stringify(await response.json()), fault).toMatch(/x-mock-fault.*whole number from \d+ to [\d,]+/);
    }
    const admin = await fetch(`${mock.url}/_mock/faults`, { method: 'PUT', body: 'huge-frame=99999999999' });
    expect(admin.status).toBe(400);
    expect((await post(chatUrl(mock), { messages: USER_MESSAGES, stream: true })).status).toBe(200);
  });

  it('a request target that is not a path (`*`, an absolute URL to elsewhere) or a Host that does not parse is a 400, not a 500', async () => {
    const { port } = new URL(mock.url);
    const raw = async (request: string): Promise<string> => {
      const { connect } = await import('node:net');
      const socket = connect(Number(port), '127.0.0.1');
      socket.end(request);
      const chunks: Buffer[] = [];
      for await (const chunk of socket) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    };
    expect(await raw('POST * HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400 .*Invalid request target/s,
    );
    expect(await raw('GET /openai/models HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 400 /,
    );
    expect((await post(chatUrl(mock), { messages: USER_MESSAGES })).status).toBe(200);
  });
});

describe('one request never stalls the others', () => {
  it('a 3 MB single-word prompt is counted off the event loop: a stream in flight keeps its pace', async () => {
    const paced = await startFastMock({ timing: { ttftMs: 10, itlMs: 10, jitterMs: 0, outputTokens: 150 } });
    try {
      const streaming = fetch(chatUrl(paced), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'api-key': 'k' },
        body: JSON.stringify({ messages: USER_MESSAGES, stream: true }),
      });
      const response = await streaming;
      const reader = response.body!.getReader();
      const gaps: number[] = [];
      let last = performance.now();
      const reading = (async () => {
        for (;;) {
          const { done } = await reader.read();
          const now = performance.now();
          gaps.push(now - last);
          last = now;
          if (done) break;
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const huge = await post(chatUrl(paced), { messages: [{ role: 'user', content: 'a'.repeat(3_000_000) }] });
      expect([200, 400]).toContain(huge.status);
      await reading;
      // Before, counting this prompt held the loop for seconds; the stream's gaps are the ITL (10 ms) with scheduling noise.
      expect(Math.max(...gaps)).toBeLessThan(300);
    } finally {
      await paced.close();
    }
  });
});

describe("a fuzzer against the mock: every body that is not a valid request is a 400 in Azure's shape, never a 500", () => {
  it('3,000 mutated chat bodies', { timeout: 120_000 }, async () => {
    const random = new Mulberry32(20261207);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random.next() * items.length)]!;
    const values: unknown[] = [
      null,
      true,
      0,
      -1,
      1e308,
      2 ** 53,
      'x',
      '',
      '\u0000',
      '😀'.repeat(3),
      [],
      [null],
      {},
      { role: 'user' },
      [[[[]]]],
      'user',
      'system',
      'tool',
      { type: 'text', text: 'hi' },
    ];
    const base = (): Record<string, any> => ({
      messages: [{ role: 'user', content: 'hello' }],
      max_tokens: 4,
      temperature: 0.5,
      stream: false,
      n: 1,
      stop: ['x'],
      user: 'u',
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      logit_bias: { '50256': -100 },
    });
    /** Replaces, deletes or wraps a random node of the body. */
    function mutate(body: Record<string, any>): unknown {
      const paths: Array<[Record<string, any> | any[], string | number]> = [];
      const walk = (node: any): void => {
        if (node === null || typeof node !== 'object') return;
        for (const key of Object.keys(node)) {
          paths.push([node, Array.isArray(node) ? Number(key) : key]);
          walk(node[key]);
        }
      };
      walk(body);
      const times = 1 + Math.floor(random.next() * 3);
      for (let i = 0; i < times; i++) {
        const [parent, key] = pick(paths);
        const action = random.next();
        if (action < 0.5) (parent as any)[key] = pick(values);
        else if (action < 0.7) delete (parent as any)[key];
        else if (action < 0.85) (parent as any)[key] = [(parent as any)[key]];
        else (parent as any)[key] = { nested: (parent as any)[key] };
      }
      if (random.next() < 0.05) return pick(values);
      return body;
    }
    const statuses = new Map<number, number>();
    const bad: string[] = [];
    const bodies = Array.from({ length: 3_000 }, () => JSON.stringify(mutate(base())));
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const response = await post(chatUrl(mock), body);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          const text = await response.text();
          if (response.status >= 500) bad.push(`${response.status} for ${body.slice(0, 200)}: ${text.slice(0, 200)}`);
          else if (response.status === 400 && !isAzureError(JSON.parse(text)))
            bad.push(`400 not in Azure's shape for ${body.slice(0, 200)}: ${text.slice(0, 200)}`);
        }
      }),
    );
    expect(bad).toEqual([]);
    // The fuzzer reached both sides: refusals and accepted requests.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(300);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(100);
  });
});

describe('the mock CLI on a port already in use', () => {
  it('says so plainly and exits 1, no stack trace', async () => {
    const port = new URL(mock.url).port;
    const child = spawn(process.execPath, ['stand-ins/azure-openai/cli.ts', '--port', port], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(1);
    expect(stderr).toMatch(
      new RegExp(
        `Failed to start the mock: port ${port} on 127\\.0\\.0\\.1 is already in use \\(EADDRINUSE\\)\\. Pick another with --port`,
      ),
    );
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});
