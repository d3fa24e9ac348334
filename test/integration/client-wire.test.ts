import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runHttpRequest } from '../../src/client/http-request.ts';

// The timed client's own wire: the request head it writes, and answers whose bytes arrive in
// awkward pieces (a character split across reads, a body cut short). A plain node:http server
// on loopback plays the other side.
let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: http.RequestListener): Promise<string> {
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes `bytes` one byte a write, each after a pause, so that reads split characters. */
async function writeBytewise(res: http.ServerResponse, bytes: Buffer): Promise<void> {
  res.socket?.setNoDelay(true);
  for (const byte of bytes) {
    res.write(Buffer.from([byte]));
    await pause(1);
  }
}

const chatFrame = (content: string): string =>
  `data: ${JSON.stringify({ id: 'c1', choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const TEXT = ['Grüße ', 'aus ', '東京 ', '🌍🎉', ' — fin'];

describe('the timed client on the wire', () => {
  it('writes one head: Host, the body length in bytes, its defaults, and a given header in place of a default', async () => {
    let head: string[] = [];
    let received = '';
    const url = await serve((req, res) => {
      head = req.rawHeaders;
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (received += chunk));
      req.on('end', () =>
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ id: 'x', choices: [{ index: 0, message: { content: 'ok' }, finish_reason: 'stop' }] })),
      );
    });
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'ça va? 🌍' }] });
    const tl = await runHttpRequest(
      {
        api: 'chat',
        isStream: false,
        url: `${url}/openai/v1/chat/completions?x=1`,
        headers: { 'api-key': 'k', Accept: 'application/x-ndjson', 'x-ms-client-request-id': 'r1' },
        body,
      },
      { intendedNs: process.hrtime.bigint() },
    );
    expect(tl.outcome).toBe('ok');
    expect(tl.text).toBe('ok');
    expect(received).toBe(body);
    const names = head.filter((_, i) => i % 2 === 0).map((name) => name.toLowerCase());
    expect(new Set(names).size).toBe(names.length);
    const value = (name: string): string | undefined => head[names.indexOf(name) * 2 + 1];
    expect(value('host')).toBe(new URL(url).host);
    expect(value('content-length')).toBe(String(Buffer.byteLength(body)));
    expect(value('transfer-encoding')).toBeUndefined();
    expect(value('content-type')).toBe('application/json');
    expect(value('accept')).toBe('application/x-ndjson');
    expect(value('api-key')).toBe('k');
    expect(value('x-ms-client-request-id')).toBe('r1');
  });

  it('reads a stream whose characters are split across reads, with every event and the whole text', async () => {
    const url = await serve(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      await writeBytewise(res, Buffer.from(`${TEXT.map(chatFrame).join('')}data: [DONE]\n\n`, 'utf8'));
      res.end();
    });
    const tl = await runHttpRequest(
      { api: 'chat', isStream: true, url: `${url}/openai/v1/chat/completions`, headers: {}, body: '{}' },
      { intendedNs: process.hrtime.bigint() },
    );
    expect(tl.outcome).toBe('ok');
    expect(tl.text).toBe(TEXT.join(''));
    expect(tl.contentArrivalsMs).toHaveLength(TEXT.length);
    expect(tl.events).toBe(TEXT.length + 1);
  });

  it('reads an error body split inside a character into its message', async () => {
    const url = await serve(async (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '1500' });
      await writeBytewise(
        res,
        Buffer.from(JSON.stringify({ error: { code: '429', message: 'Trop de requêtes — réessayez 🙏' } }), 'utf8'),
      );
      res.end();
    });
    const tl = await runHttpRequest(
      { api: 'chat', isStream: true, url: `${url}/openai/v1/chat/completions`, headers: {}, body: '{}' },
      { intendedNs: process.hrtime.bigint() },
    );
    expect(tl.outcome).toBe('http_429');
    expect(tl.errorMessage).toBe('Trop de requêtes — réessayez 🙏');
    expect(tl.retryAfterMs).toBe(1500);
  });

  it('ends a stream cut off mid-character, mid-event as protocol_truncated, keeping what arrived', async () => {
    const url = await serve(async (req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const whole = Buffer.from(chatFrame('first ') + chatFrame('zweite 🌍'), 'utf8');
      // Cut inside the emoji's four bytes: the second event never completes.
      const cut = whole.indexOf(Buffer.from('🌍', 'utf8')) + 2;
      await writeBytewise(res, whole.subarray(0, cut));
      req.socket.destroy();
    });
    const tl = await runHttpRequest(
      { api: 'chat', isStream: true, url: `${url}/openai/v1/chat/completions`, headers: {}, body: '{}' },
      { intendedNs: process.hrtime.bigint() },
    );
    expect(tl.outcome).toBe('protocol_truncated');
    expect(tl.errorMessage).toBe('the connection closed before the response ended');
    expect(tl.text).toBe('first ');
    expect(tl.events).toBe(1);
    expect(tl.endMs).toBeGreaterThan(0);
  });

  it('ends a JSON answer cut short as protocol_truncated', async () => {
    const url = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"choices":[');
      setTimeout(() => req.socket.destroy(), 20);
    });
    const tl = await runHttpRequest(
      { api: 'chat', isStream: false, url: `${url}/openai/v1/chat/completions`, headers: {}, body: '{}' },
      { intendedNs: process.hrtime.bigint() },
    );
    expect(tl.outcome).toBe('protocol_truncated');
  });
});
