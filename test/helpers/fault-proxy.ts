import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';

/**
 * A deliberately misbehaving gateway for the verifier's fault matrix: a node:http reverse
 * proxy in front of the mock that commits one gateway sin at a time.
 * - `buffer`: holds the response in 8 KB blocks, as APIM's forward-request does by default.
 * - `gzip`: compresses the stream without flushing (nginx-style gzip on text/event-stream).
 * - `drop-done`: drops the `data: [DONE]` event. - `strip-content-type`: sends octet-stream.
 * - `reframe`: re-serialises each JSON event (pretty-printed over several `data:` lines).
 * - `drop-frames`: silently drops every seventh chat chunk.
 * - `strip-comments`: removes SSE comment lines (keep-alives and stamps).
 * - `strip-headers`: drops request ids and x-ratelimit-*. - `refusal-rewrite`: answers an
 *   upstream 400 with its own generic 400 body (a gateway that masks validation errors).
 * - `error-rewrite`: turns upstream
 *   5xx into its own 502. - `idle-cut`: kills a stream quiet for 1 s. - `no-cancel`: keeps
 *   reading upstream after the client left.
 */
export const GATEWAY_FAULTS = [
  'clean',
  'buffer',
  'gzip',
  'drop-done',
  'strip-content-type',
  'reframe',
  'drop-frames',
  'strip-comments',
  'strip-headers',
  'refusal-rewrite',
  'error-rewrite',
  'idle-cut',
  'no-cancel',
] as const;
export type GatewayFault = (typeof GATEWAY_FAULTS)[number];

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);
const IDLE_CUT_MS = 1000;
const BUFFER_BYTES = 8192;

export interface FaultProxy {
  url: string;
  close(): Promise<void>;
}

export async function startFaultProxy(upstreamUrl: string, fault: GatewayFault): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const server = http.createServer((req, res) => {
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name)),
    ) as http.OutgoingHttpHeaders;
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (up) => relay(up, res, fault, forward),
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished && fault !== 'no-cancel') forward.destroy();
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function relay(
  up: http.IncomingMessage,
  res: http.ServerResponse,
  fault: GatewayFault,
  forward: http.ClientRequest,
): void {
  const status = up.statusCode ?? 502;
  if (fault === 'refusal-rewrite' && status === 400) {
    up.resume();
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"statusCode":400,"message":"Bad request"}');
    return;
  }
  if (fault === 'error-rewrite' && status >= 500) {
    up.resume();
    res.writeHead(502, { 'content-type': 'application/json' }).end('{"statusCode":502,"message":"Bad gateway"}');
    return;
  }
  const headers: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(up.headers)) {
    if (HOP_BY_HOP.has(name)) continue;
    if (
      fault === 'strip-headers' &&
      (name === 'x-request-id' || name === 'apim-request-id' || name.startsWith('x-ratelimit-'))
    )
      continue;
    headers[name] = value;
  }
  const isStream = String(up.headers['content-type'] ?? '').startsWith('text/event-stream');
  if (fault === 'strip-content-type' && isStream) headers['content-type'] = 'application/octet-stream';
  if (fault === 'gzip' && isStream) headers['content-encoding'] = 'gzip';
  res.writeHead(status, headers);
  res.flushHeaders();
  if (!isStream) {
    up.pipe(res);
    return;
  }
  const out = fault === 'gzip' ? zlib.createGzip() : undefined;
  out?.pipe(res);
  const write = (chunk: Buffer | string): void => {
    if (out) out.write(chunk);
    else res.write(chunk);
  };
  let held: Buffer[] = [];
  let heldBytes = 0;
  let pending = '';
  let chatChunks = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const armIdleCut = (): void => {
    if (fault !== 'idle-cut') return;
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      forward.destroy();
      res.destroy();
    }, IDLE_CUT_MS);
  };
  armIdleCut();
  up.on('data', (chunk: Buffer) => {
    armIdleCut();
    if (res.destroyed) return;
    if (fault === 'buffer') {
      held.push(chunk);
      heldBytes += chunk.length;
      if (heldBytes >= BUFFER_BYTES) {
        write(Buffer.concat(held));
        held = [];
        heldBytes = 0;
      }
      return;
    }
    if (!['drop-done', 'reframe', 'drop-frames', 'strip-comments'].includes(fault)) {
      write(chunk);
      return;
    }
    pending += chunk.toString('latin1');
    let end: number;
    while ((end = pending.indexOf('\n\n')) >= 0) {
      const block = pending.slice(0, end);
      pending = pending.slice(end + 2);
      const rewritten = rewriteBlock(Buffer.from(block, 'latin1').toString('utf8'), fault, () => ++chatChunks);
      if (rewritten !== undefined) write(`${rewritten}\n\n`);
    }
  });
  up.on('end', () => {
    clearTimeout(idleTimer);
    if (held.length > 0) write(Buffer.concat(held));
    if (pending !== '') write(pending);
    if (out) out.end();
    else res.end();
  });
  up.on('error', () => res.destroy());
}

function rewriteBlock(block: string, fault: GatewayFault, countChat: () => number): string | undefined {
  const lines = block.split('\n');
  const data = lines
    .filter((l) => l.startsWith('data:'))
    .map((l) => l.slice(5).trimStart())
    .join('\n');
  switch (fault) {
    case 'drop-done':
      return data === '[DONE]' ? undefined : block;
    case 'drop-frames':
      return data.includes('"chat.completion.chunk"') && data.includes('"content"') && countChat() % 7 === 3
        ? undefined
        : block;
    case 'strip-comments': {
      const kept = lines.filter((l) => !l.startsWith(':'));
      return kept.length > 0 ? kept.join('\n') : undefined;
    }
    case 'reframe': {
      if (!data.startsWith('{')) return block;
      const pretty = JSON.stringify(JSON.parse(data), null, 2)
        .split('\n')
        .map((l) => `data: ${l}`);
      return [...lines.filter((l) => !l.startsWith('data:')), ...pretty].join('\n');
    }
    default:
      return block;
  }
}
