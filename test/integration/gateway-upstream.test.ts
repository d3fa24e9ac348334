import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import net, { type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { LAB_POLICY, startGateway } from '../helpers/gateway.ts';
import { API_VERSION, startFastMock, TEST_KEY, USER_MESSAGES } from '../helpers/mock.ts';

const CHAT = `/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`;
const BODY = JSON.stringify({ messages: USER_MESSAGES, stream: true });
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/tls/${name}`, import.meta.url));

/** A backend on a bare socket: answers every request on a connection with `respond`, counting connections. */
async function startRawBackend(
  respond: (socket: net.Socket) => void,
): Promise<{ url: string; connections: () => number; close(): Promise<void> }> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    let pending = '';
    socket.on('data', (bytes: Buffer) => {
      pending += bytes.toString('latin1');
      // One answer per complete request (head and its content-length body).
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        const length = Number(/content-length: (\d+)/i.exec(pending.slice(0, headEnd))?.[1] ?? 0);
        if (pending.length < headEnd + 4 + length) return;
        pending = pending.slice(headEnd + 4 + length);
        respond(socket);
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** One raw HTTP/1.1 request to the gateway; resolves with the whole response (head and body bytes) when the server closes. */
async function rawRequest(url: string, path: string, body: string): Promise<{ head: string; body: Buffer }> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.write(
    `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  const chunks: Buffer[] = [];
  socket.on('data', (bytes: Buffer) => chunks.push(bytes));
  await once(socket, 'close');
  const all = Buffer.concat(chunks);
  const headEnd = all.indexOf('\r\n\r\n');
  return { head: all.toString('latin1', 0, headEnd), body: all.subarray(headEnd + 4) };
}

// Chunk boundaries a real backend can produce: two frames in one chunk, a frame cut over two
// chunks (one of them with a chunk extension), upper-case hex.
const FRAMES = ['data: {"a":1}\n\ndata: {"b":2}\n\n', 'data: {"c":', '3}\n\n', 'data: [DONE]\n\n'];
const CHUNKS = [
  `${FRAMES[0]!.length.toString(16).toUpperCase()}\r\n${FRAMES[0]}\r\n`,
  `${FRAMES[1]!.length.toString(16)};ext=1\r\n${FRAMES[1]}\r\n`,
  `${FRAMES[2]!.length.toString(16)}\r\n${FRAMES[2]}\r\n`,
  `${FRAMES[3]!.length.toString(16)}\r\n${FRAMES[3]}\r\n`,
];

/** A raw backend answering every request with CHUNKS, and a gateway in front of it on `policy`. */
async function withChunkedBackend(
  policy: 'streaming' | 'buffered',
  run: (gatewayUrl: string, connections: () => number) => Promise<void>,
): Promise<void> {
  const backend = await startRawBackend((socket) =>
    socket.write(
      `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${CHUNKS.join('')}0\r\n\r\n`,
    ),
  );
  const gateway = await startGateway(LAB_POLICY(policy), backend.url, { backendKey: TEST_KEY });
  try {
    await run(gateway.url, backend.connections);
  } finally {
    await gateway.close();
    await backend.close();
  }
}

describe('local gateway: the backend connection', () => {
  it('passes a streamed body through chunk for chunk, byte for byte (streaming.xml)', async () => {
    await withChunkedBackend('streaming', async (gatewayUrl) => {
      const response = await rawRequest(gatewayUrl, CHAT, BODY);
      expect(response.head).toMatch(/^HTTP\/1\.1 200/);
      expect(response.head.toLowerCase()).toContain('transfer-encoding: chunked');
      // The client gets the backend's own chunks (the extension too), then the terminator.
      expect(response.body.toString('latin1')).toBe(`${CHUNKS.join('')}0\r\n\r\n`);
    });
  });

  it('the buffered policy decodes and holds the stream: the same frames, in order, in one block under 8 KB', async () => {
    await withChunkedBackend('buffered', async (gatewayUrl) => {
      const response = await rawRequest(gatewayUrl, CHAT, BODY);
      // Decoded and held (the body is smaller than 8 KB): one chunk with every frame, in order.
      const text = response.body.toString('latin1');
      expect(text).toBe(`${FRAMES.join('').length.toString(16)}\r\n${FRAMES.join('')}\r\n0\r\n\r\n`);
    });
  });

  it('keeps backend connections alive: sequential requests share one connection', async () => {
    await withChunkedBackend('streaming', async (gatewayUrl, connections) => {
      for (let i = 0; i < 3; i++)
        expect((await rawRequest(gatewayUrl, CHAT, BODY)).body.toString('latin1')).toContain('[DONE]');
      expect(connections()).toBe(1);
    });
  });

  it("passes the client's backpressure to the backend: a client that stops reading stops the backend, and loses nothing", async () => {
    const FRAME = `data: ${JSON.stringify({ pad: 'x'.repeat(1000) })}\n\n`;
    const TOTAL = 20_000; // about 20 MB of frames, far more than the sockets' buffers hold
    let written = 0;
    let backendPaused = false;
    const backend = await startRawBackend((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n');
      const chunk = `${FRAME.length.toString(16)}\r\n${FRAME}\r\n`;
      const pump = (): void => {
        while (written < TOTAL) {
          written++;
          if (!socket.write(chunk)) {
            backendPaused = true;
            socket.once('drain', pump);
            return;
          }
        }
        socket.write('0\r\n\r\n');
      };
      pump();
    });
    const gateway = await startGateway(LAB_POLICY('streaming'), backend.url, { backendKey: TEST_KEY });
    try {
      const { port } = new URL(gateway.url);
      const client = net.connect(Number(port), '127.0.0.1');
      client.write(
        `POST ${CHAT} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`,
      );
      let received = 0;
      const chunks: Buffer[] = [];
      client.on('data', (bytes: Buffer) => {
        received += bytes.length;
        chunks.push(bytes);
      });
      // Read a little, then stop reading for a while: the backend must be held back.
      await once(client, 'data');
      client.pause();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(backendPaused).toBe(true);
      expect(written).toBeLessThan(TOTAL);
      client.resume();
      await once(client, 'close');
      const text = Buffer.concat(chunks).toString('latin1');
      expect(written).toBe(TOTAL);
      // Every frame arrived, and the response ended with the terminating chunk.
      expect(text.split(FRAME).length - 1).toBe(TOTAL);
      expect(text.endsWith('0\r\n\r\n')).toBe(true);
      expect(received).toBeGreaterThan(TOTAL * FRAME.length);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('relays answers without a body (429 with content-length 0, 204) and keeps the connection', async () => {
    const answers = [
      'HTTP/1.1 429 Too Many Requests\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n',
      'HTTP/1.1 204 No Content\r\nx-marker: yes\r\n\r\n',
    ];
    let n = 0;
    const backend = await startRawBackend((socket) => void socket.write(answers[n++ % answers.length]!));
    const gateway = await startGateway(LAB_POLICY('streaming'), backend.url, { backendKey: TEST_KEY });
    try {
      const limited = await rawRequest(gateway.url, CHAT, BODY);
      expect(limited.head).toMatch(/^HTTP\/1\.1 429/);
      expect(limited.head.toLowerCase()).toContain('retry-after: 1');
      expect(limited.body.length).toBe(0);
      const empty = await rawRequest(gateway.url, CHAT, BODY);
      expect(empty.head).toMatch(/^HTTP\/1\.1 204/);
      expect(empty.head.toLowerCase()).toContain('x-marker: yes');
      expect(backend.connections()).toBe(1);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('a backend that sends bytes past the end of its answer loses the connection: the next request gets a new one', async () => {
    const answers = [
      `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n${CHUNKS.join('')}0\r\n\r\nHTTP/1.1 200 OK\r\n`,
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}garbage',
      'HTTP/1.1 204 No Content\r\n\r\nstray',
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}',
    ];
    let n = 0;
    const backend = await startRawBackend((socket) => void socket.write(answers[n++]!));
    const gateway = await startGateway(LAB_POLICY('streaming'), backend.url, { backendKey: TEST_KEY });
    try {
      const streamed = await rawRequest(gateway.url, CHAT, BODY);
      expect(streamed.body.toString('latin1')).toBe(`${CHUNKS.join('')}0\r\n\r\n`);
      expect(backend.connections()).toBe(1);
      const json = await rawRequest(gateway.url, CHAT, BODY);
      expect(json.body.toString('latin1')).toBe('{"ok":true}');
      expect(backend.connections()).toBe(2);
      const empty = await rawRequest(gateway.url, CHAT, BODY);
      expect(empty.head).toMatch(/^HTTP\/1\.1 204/);
      expect(backend.connections()).toBe(3);
      const clean = await rawRequest(gateway.url, CHAT, BODY);
      expect(clean.body.toString('latin1')).toBe('{"ok":true}');
      expect(backend.connections()).toBe(4);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('a backend that hangs up before answering is a 502 naming the failure, and the next request gets a new connection', async () => {
    let answered = 0;
    const backend = await startRawBackend((socket) => {
      if (answered++ === 0) return void socket.destroy();
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}');
    });
    const gateway = await startGateway(LAB_POLICY('streaming'), backend.url, { backendKey: TEST_KEY });
    try {
      const failed = await rawRequest(gateway.url, CHAT, BODY);
      expect(failed.head).toMatch(/^HTTP\/1\.1 502/);
      expect(failed.body.toString('latin1')).toMatch(/ECONNRESET/);
      const ok = await rawRequest(gateway.url, CHAT, BODY);
      expect(ok.head).toMatch(/^HTTP\/1\.1 200/);
      expect(ok.body.toString('latin1')).toBe('{"ok":true}');
      expect(backend.connections()).toBe(2);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });
});

describe('local gateway: an HTTPS backend', () => {
  let mock: MockServer;
  beforeAll(async () => {
    mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 5, itlMs: 2, jitterMs: 0, outputTokens: 12 } });
  });
  afterAll(() => mock.close());

  it('streams from a TLS backend, verifying its certificate (the gateway CLI, trusting the test CA)', async () => {
    // TLS in front of the mock: the gateway must speak HTTPS and check the certificate.
    const tlsFront = createHttpsServer(
      { key: readFileSync(fixture('localhost.key')), cert: readFileSync(fixture('localhost.crt')) },
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', async () => {
          const forwarded = await fetch(mock.url + req.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'api-key': String(req.headers['api-key']) },
            body: Buffer.concat(chunks),
          });
          res.writeHead(forwarded.status, { 'content-type': forwarded.headers.get('content-type') ?? 'text/plain' });
          for await (const part of forwarded.body!) res.write(part);
          res.end();
        });
      },
    );
    tlsFront.listen(0, '127.0.0.1');
    await once(tlsFront, 'listening');
    const backendUrl = `https://127.0.0.1:${(tlsFront.address() as AddressInfo).port}`;
    const cli = fileURLToPath(new URL('../../stand-ins/apim/cli.ts', import.meta.url));
    const start = (env: NodeJS.ProcessEnv) =>
      spawn(process.execPath, [cli, '--backend', backendUrl, '--policy', LAB_POLICY('streaming'), '--port', '0'], {
        env: { ...process.env, GATEWAY_BACKEND_KEY: TEST_KEY, GATEWAY_SUBSCRIPTION_KEY: '', ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
    const trusted = start({ NODE_EXTRA_CA_CERTS: fixture('localhost.crt') });
    const untrusted = start({ NODE_EXTRA_CA_CERTS: '' });
    try {
      const urlOf = async (child: ReturnType<typeof start>): Promise<string> => {
        const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
        child.stdout!.resume();
        return (JSON.parse(line) as { url: string }).url;
      };
      const ok = await rawRequest(await urlOf(trusted), CHAT, BODY);
      expect(ok.head).toMatch(/^HTTP\/1\.1 200/);
      expect(ok.body.toString('latin1')).toContain('data: [DONE]');
      // Without the CA the certificate is refused: a 502 naming why, never a plaintext fallback.
      const refused = await rawRequest(await urlOf(untrusted), CHAT, BODY);
      expect(refused.head).toMatch(/^HTTP\/1\.1 502/);
      expect(refused.body.toString('latin1')).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|CERT/);
    } finally {
      for (const child of [trusted, untrusted]) {
        child.kill('SIGTERM');
        if (child.exitCode === null) await once(child, 'exit');
      }
      await new Promise<void>((resolve) => tlsFront.close(() => resolve()));
    }
  });
});
