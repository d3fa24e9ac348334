import http from 'node:http';
import https from 'node:https';
import zlib from 'node:zlib';
import { parseStampComment, SseParser, type FrameStamp } from '../protocol/index.ts';

/**
 * The verifier's instrument: one HTTP request whose response is recorded as it arrives,
 * read by read, with nothing interpreted away. Unlike the benchmark client it asks for
 * compression (as browsers do) and decodes it incrementally, so a compressing gateway shows
 * itself; it keeps every event's raw data, every comment and every read's size and time.
 */
export interface ProbeRequest {
  url: string;
  headers: Record<string, string>;
  body: unknown;
  /** Give up after this long in all (the result then ends as `timeout`). */
  timeoutMs: number;
  /** Destroy the connection once this many events have arrived (client-disconnect). */
  closeAfterEvents?: number;
  signal?: AbortSignal;
}

export interface ProbeEvent {
  arrivalNs: bigint;
  event: string | undefined;
  data: string;
  stamp: FrameStamp | undefined;
}

export interface ProbeResult {
  url: string;
  status: number;
  httpVersion: string;
  headers: Record<string, string>;
  startNs: bigint;
  headersNs: bigint | undefined;
  endNs: bigint;
  /** Network reads: arrival and size in bytes as they came off the socket (before decoding). */
  reads: Array<{ atNs: bigint; bytes: number }>;
  events: ProbeEvent[];
  comments: Array<{ arrivalNs: bigint; text: string }>;
  /** The decoded body when the response was not an event stream (first 64 KiB). */
  bodyText: string;
  /** How the response ended. `closed` = the probe itself closed it (closeAfterEvents). */
  end: 'complete' | 'error' | 'timeout' | 'closed';
  error: string | undefined;
}

const MAX_BODY_TEXT = 64 * 1024;

export function runProbe(request: ProbeRequest): Promise<ProbeResult> {
  const url = new URL(request.url);
  const payload = Buffer.from(JSON.stringify(request.body));
  const transport = url.protocol === 'https:' ? https : http;
  const startNs = process.hrtime.bigint();
  const result: ProbeResult = {
    url: request.url,
    status: 0,
    httpVersion: '',
    headers: {},
    startNs,
    headersNs: undefined,
    endNs: startNs,
    reads: [],
    events: [],
    comments: [],
    bodyText: '',
    end: 'complete',
    error: undefined,
  };
  return new Promise((resolve) => {
    let pendingStamp: FrameStamp | undefined;
    let settled = false;
    const parser = new SseParser({
      onEvent: (data, event) => {
        result.events.push({ arrivalNs: process.hrtime.bigint(), event, data, stamp: pendingStamp });
        pendingStamp = undefined;
        if (request.closeAfterEvents !== undefined && result.events.length >= request.closeAfterEvents)
          finish('closed');
      },
      onComment: (text) => {
        const stamp = parseStampComment(text);
        if (stamp) pendingStamp = stamp;
        else result.comments.push({ arrivalNs: process.hrtime.bigint(), text });
      },
    });
    const finish = (end: ProbeResult['end'], error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      result.end = end;
      result.error = error;
      result.endNs = process.hrtime.bigint();
      req.destroy();
      resolve(result);
    };
    const onAbort = (): void => finish('closed', 'aborted by the verifier');
    const timer = setTimeout(() => finish('timeout', `no end after ${request.timeoutMs} ms`), request.timeoutMs);
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const req = transport.request(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream, application/json',
        'accept-encoding': 'gzip, deflate, br',
        ...request.headers,
        'content-length': String(payload.length),
      },
      agent: false,
    });
    req.setNoDelay(true);
    req.on('error', (error) => finish('error', error.message));
    req.on('response', (res) => {
      result.headersNs = process.hrtime.bigint();
      result.status = res.statusCode ?? 0;
      result.httpVersion = res.httpVersion;
      for (const [name, value] of Object.entries(res.headers))
        if (value !== undefined) result.headers[name] = Array.isArray(value) ? value.join(', ') : value;
      const isEventStream = (result.headers['content-type'] ?? '').startsWith('text/event-stream');
      const decoded = decoderFor(result.headers['content-encoding']);
      const decoder = new TextDecoder('utf-8');
      const onText = (chunk: Buffer): void => {
        const text = decoder.decode(chunk, { stream: true });
        if (isEventStream || text.startsWith('data:') || text.startsWith(':') || result.events.length > 0)
          parser.feed(text);
        if (result.bodyText.length < MAX_BODY_TEXT)
          result.bodyText += text.slice(0, MAX_BODY_TEXT - result.bodyText.length);
      };
      res.on('data', (chunk: Buffer) => {
        result.reads.push({ atNs: process.hrtime.bigint(), bytes: chunk.length });
        if (decoded) decoded.write(chunk);
        else onText(chunk);
      });
      decoded?.on('data', onText);
      decoded?.on('error', (error) =>
        finish('error', `cannot decode ${result.headers['content-encoding']}: ${error.message}`),
      );
      const onEnd = (): void => {
        onText(Buffer.alloc(0));
        parser.end();
        finish('complete');
      };
      if (decoded) {
        res.on('end', () => decoded.end());
        decoded.on('end', onEnd);
      } else res.on('end', onEnd);
      res.on('error', (error) => finish('error', error.message));
      res.on('aborted', () => finish('error', 'the response was cut before its end'));
    });
    req.end(payload);
  });
}

/** A streaming decoder that flushes what it has on every write, so frames are not held here. */
function decoderFor(encoding: string | undefined): zlib.Gunzip | zlib.Inflate | zlib.BrotliDecompress | undefined {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH });
    case 'deflate':
      return zlib.createInflate({ flush: zlib.constants.Z_SYNC_FLUSH });
    case 'br':
      return zlib.createBrotliDecompress({ flush: zlib.constants.BROTLI_OPERATION_FLUSH });
    default:
      return undefined;
  }
}

/** Milliseconds from `from` to `to` on the monotonic clock. */
export function msBetween(from: bigint, to: bigint): number {
  return Number(to - from) / 1e6;
}
