import { EventEmitter } from 'node:events';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import {
  BackendUnreachable,
  type ChunkedWire,
  type Upstream,
  type UpstreamBody,
  type UpstreamReply,
  type UpstreamRequest,
  type WireSink,
} from './core.ts';

/**
 * The gateway's HTTP/1.1 client for its backends: keep-alive connections per origin, the
 * response head parsed here, and the body handed over either decoded (what a policy that
 * reads the stream needs) or raw: the backend's chunks as they came off the wire, for a relay
 * that passes them on untouched.
 *
 * Why not node:http's client: it parses every chunk into a stream 'data' event, and the
 * server side frames it again as four pieces, corked and written with a writev. In the
 * gateway's heap profile that was about 3 KB of garbage per relayed frame, and the
 * young-generation GCs it caused were the relay's p99 (a plain socket pipe in Node matched
 * nginx's p99 on the same load). Here a relayed frame costs one socket read and one write.
 */

/** What one forward attempt came to: the backend's response head, or a connection failure (its code). */
export type Exchange = { kind: 'response'; response: UpstreamResponse } | { kind: 'error'; reason: string };

/** The largest response head accepted (Node's own limit is 16 KB). */
const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line longer than this is not HTTP. */
const MAX_SIZE_LINE_BYTES = 4 * 1024;

interface IdleSocket {
  socket: Socket;
  drop: () => void;
}

/** The gateway core's upstream (core.ts): this client, over sockets. */
export class UpstreamPool implements Upstream {
  readonly #idle = new Map<string, IdleSocket[]>();
  #isDestroyed = false;

  /**
   * The core's forward: resolves with the response head and its body, or rejects with
   * BackendUnreachable when no head came. Aborting the signal drops the request or the
   * response (the forward timeout, the client left).
   */
  async send(request: UpstreamRequest): Promise<UpstreamReply> {
    const { signal } = request;
    const { exchange, abort } = this.request(request.url, request.method, request.headers, request.body);
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
    const outcome = await exchange;
    if (outcome.kind === 'error') {
      signal.removeEventListener('abort', abort);
      throw new BackendUnreachable(outcome.reason);
    }
    const { response } = outcome;
    response.once('close', () => signal.removeEventListener('abort', abort));
    return {
      status: response.statusCode,
      statusText: response.statusMessage,
      headers: response.headers,
      body: new ResponseBody(response),
    };
  }

  /**
   * Sends one request and resolves once the response head has arrived (or the attempt failed).
   * `url` is the full backend URL; `headers` are sent as given (the caller sets host and
   * content-length).
   */
  request(
    url: URL,
    method: string,
    headers: OutgoingHttpHeaders,
    body: Buffer,
  ): { exchange: Promise<Exchange>; abort: () => void } {
    const origin = `${url.protocol}//${url.host}`;
    // The head first: a header that cannot be sent throws before any connection is used.
    const head = requestHead(method, url, headers);
    const socket = this.#take(origin) ?? connect(url);
    const response = new UpstreamResponse(socket, method === 'HEAD', (reusable) =>
      this.#release(origin, socket, reusable),
    );
    const exchange = new Promise<Exchange>((resolve) => {
      response.onHead = (error) =>
        resolve(error === undefined ? { kind: 'response', response } : { kind: 'error', reason: error });
    });
    socket.cork();
    socket.write(head, 'latin1');
    if (body.length > 0) socket.write(body);
    socket.uncork();
    return { exchange, abort: () => response.destroy() };
  }

  destroy(): void {
    this.#isDestroyed = true;
    for (const sockets of this.#idle.values()) for (const { socket } of sockets) socket.destroy();
    this.#idle.clear();
  }

  #take(origin: string): Socket | undefined {
    const sockets = this.#idle.get(origin);
    while (sockets !== undefined && sockets.length > 0) {
      const { socket, drop } = sockets.pop()!;
      socket.off('close', drop).off('error', drop).off('data', drop);
      if (!socket.destroyed && socket.readyState === 'open') return socket;
      socket.destroy();
    }
    return undefined;
  }

  #release(origin: string, socket: Socket, isReusable: boolean): void {
    if (!isReusable || this.#isDestroyed || socket.destroyed) {
      socket.destroy();
      return;
    }
    // Idle: a close, an error or anything the backend sends now ends the connection.
    const idle: IdleSocket = {
      socket,
      drop: () => {
        socket.destroy();
        const sockets = this.#idle.get(origin);
        const at = sockets?.indexOf(idle) ?? -1;
        if (at !== -1) sockets!.splice(at, 1);
      },
    };
    socket.on('close', idle.drop).on('error', idle.drop).on('data', idle.drop);
    socket.resume();
    const sockets = this.#idle.get(origin) ?? [];
    sockets.push(idle);
    this.#idle.set(origin, sockets);
  }
}

/** Pieces the body reader holds (decoded, not yet taken) before it pauses the backend's connection. */
const BODY_QUEUE_BYTES = 16 * 1024;

/**
 * A response's body for the core: its decoded pieces as an async iterator (the connection
 * pauses while the reader does not take them), or, for a chunked body, its wire bytes
 * (`wire.relay`), for the pass-through. Returning early drops the response.
 */
class ResponseBody implements UpstreamBody, AsyncIterator<Buffer, undefined> {
  readonly wire: ChunkedWire | undefined;
  readonly #response: UpstreamResponse;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #isStarted = false;
  #isEnded = false;
  #failure: Error | undefined;
  #waiter: { resolve: (result: IteratorResult<Buffer, undefined>) => void; reject: (error: Error) => void } | undefined;

  constructor(response: UpstreamResponse) {
    this.#response = response;
    this.wire = response.isChunked ? { relay: (sink) => relayWire(response, sink) } : undefined;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<Buffer, undefined>> {
    if (!this.#isStarted) this.#start();
    const piece = this.#queue.shift();
    if (piece !== undefined) {
      this.#queuedBytes -= piece.length;
      if (this.#queuedBytes < BODY_QUEUE_BYTES && !this.#isEnded) this.#response.resume();
      return Promise.resolve({ value: piece, done: false });
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#isEnded) return Promise.resolve({ value: undefined, done: true });
    const waiting = new Promise<IteratorResult<Buffer, undefined>>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
    // (Resuming may deliver at once: bytes that came with the head, or the end of an empty body.)
    this.#response.resume();
    return waiting;
  }

  return(): Promise<IteratorResult<Buffer, undefined>> {
    if (!this.#isEnded) this.#response.destroy();
    this.#isEnded = true;
    this.#queue = [];
    return Promise.resolve({ value: undefined, done: true });
  }

  #start(): void {
    this.#isStarted = true;
    const response = this.#response;
    response.on('data', (piece: Buffer) => {
      const waiter = this.#waiter;
      if (waiter !== undefined) {
        this.#waiter = undefined;
        waiter.resolve({ value: piece, done: false });
        return;
      }
      this.#queue.push(piece);
      this.#queuedBytes += piece.length;
      if (this.#queuedBytes >= BODY_QUEUE_BYTES) response.pause();
    });
    response.on('end', () => {
      this.#isEnded = true;
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.resolve({ value: undefined, done: true });
    });
    response.on('close', () => {
      if (response.complete || this.#isEnded) return;
      // Cut before its end: the reader gets what came, then the failure.
      this.#failure = new Error('ECONNRESET: the backend response ended before its body did');
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.reject(this.#failure);
    });
  }
}

/**
 * The relay without re-framing: each read from the backend (whole HTTP/1.1 chunks, or parts of
 * them) goes to the sink as it is. A response cut short is the sink's `cut` (registered first,
 * so a dropped stream drops the client too rather than ending it cleanly).
 */
function relayWire(response: UpstreamResponse, sink: WireSink): void {
  response.on('close', () => {
    if (!response.complete) sink.cut();
  });
  response.readRaw();
  response.on('data', (bytes: Buffer) => {
    if (!sink.write(bytes)) {
      response.pause();
      sink.onDrain(() => response.resume());
    }
  });
  response.on('end', () => sink.end());
  response.resume();
}

function connect(url: URL): Socket {
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const socket =
    url.protocol === 'https:'
      ? tls.connect({ host, port, servername: net.isIP(host) === 0 ? host : undefined, ALPNProtocols: ['http/1.1'] })
      : net.connect({ host, port });
  // Every frame is a small write; Nagle would hold one back for the backend's delayed ACK.
  socket.setNoDelay(true);
  return socket;
}

function requestHead(method: string, url: URL, headers: OutgoingHttpHeaders): string {
  let head = `${method} ${url.pathname}${url.search} HTTP/1.1\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (/[\r\n:]/.test(name)) throw new Error(`invalid header ${name}`);
    for (const one of Array.isArray(value) ? value : [value]) {
      const text = String(one);
      if (/[\r\n]/.test(text)) throw new Error(`invalid header ${name}`);
      head += `${name}: ${text}\r\n`;
    }
  }
  return `${head}\r\n`;
}

/**
 * A backend's response, read off its connection. Events, as node:http's IncomingMessage has
 * them: 'data' (a Buffer), 'end' (the whole body arrived: `complete` is true), 'close' (the
 * connection is done with this response, complete or not). Raw mode (`readRaw`, before the
 * body flows) gives a chunked body's bytes as they came, chunk framing included, without the
 * terminating chunk and trailers, which the relay's own end writes.
 */
export class UpstreamResponse extends EventEmitter {
  statusCode = 0;
  statusMessage = '';
  headers: IncomingHttpHeaders = {};
  /** The body is `Transfer-Encoding: chunked`. */
  isChunked = false;
  complete = false;
  /** Called once: with no argument when the head has arrived, or with the failure's code. */
  onHead: ((error?: string) => void) | undefined;

  readonly #socket: Socket;
  readonly #isHead: boolean;
  readonly #release: (isReusable: boolean) => void;
  #head: Buffer | undefined = Buffer.alloc(0);
  #length = -1;
  #chunked: ChunkedScanner | undefined;
  #isRaw = false;
  #isFlowing = false;
  /** Body bytes that came with the head, held until the body flows. */
  #early: Buffer | undefined;
  #keepAlive = true;
  #isClosed = false;

  constructor(socket: Socket, isHead: boolean, release: (isReusable: boolean) => void) {
    super();
    this.#socket = socket;
    this.#isHead = isHead;
    this.#release = release;
    socket.on('data', this.#onData).on('end', this.#onEnd).on('error', this.#onError).on('close', this.#onClose);
  }

  // The connection's listeners while it serves this response; removed when it goes back to the pool.
  readonly #onData = (bytes: Buffer): void => this.#onBytes(bytes);
  readonly #onEnd = (): void => this.#onSocketEnd();
  readonly #onError = (error: NodeJS.ErrnoException): void => this.#fail(error.code ?? error.message);
  readonly #onClose = (): void => this.#fail('ECONNRESET');
  readonly #emitData = (piece: Buffer): void => void this.emit('data', piece);

  /** Body bytes as they came off the wire (chunked bodies only; call before `resume`). */
  readRaw(): void {
    if (this.isChunked) this.#isRaw = true;
  }

  /** Starts (or restarts) the body's flow: 'data' events from now on. */
  resume(): this {
    if (this.#isClosed) return this;
    if (!this.#isFlowing) {
      this.#isFlowing = true;
      const early = this.#early;
      this.#early = undefined;
      if (early !== undefined) this.#onBody(early);
      // No body (204, 304, HEAD, content-length 0): it ends as it starts to flow, when the
      // caller listens, not at the head, when nobody does yet.
      if (this.#length === 0) this.#finish();
    }
    this.#socket.resume();
    return this;
  }

  pause(): this {
    this.#socket.pause();
    return this;
  }

  /** Reads the body to its end and drops it (a response that will be retried). */
  discard(): void {
    this.removeAllListeners('data');
    this.on('data', () => undefined);
    this.resume();
  }

  destroy(): void {
    this.#fail('ECONNRESET');
  }

  #onBytes(bytes: Buffer): void {
    if (this.#head === undefined) {
      if (this.#isFlowing) return this.#onBody(bytes);
      this.#early = this.#early === undefined ? bytes : Buffer.concat([this.#early, bytes]);
      this.#socket.pause();
      return;
    }
    const head = this.#head.length === 0 ? bytes : Buffer.concat([this.#head, bytes]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) {
      if (head.length > MAX_HEAD_BYTES) return this.#fail('HPE_HEADER_OVERFLOW');
      this.#head = head;
      return;
    }
    const parsed = parseHead(head.toString('latin1', 0, end));
    if (parsed === undefined) return this.#fail('HPE_INVALID_CONSTANT');
    const rest = head.subarray(end + 4);
    // 1xx informational responses (100 Continue) come before the real one.
    if (parsed.statusCode < 200) {
      this.#head = Buffer.alloc(0);
      if (rest.length > 0) this.#onBytes(rest);
      return;
    }
    this.#head = undefined;
    this.statusCode = parsed.statusCode;
    this.statusMessage = parsed.statusMessage;
    this.headers = parsed.headers;
    const connection = String(parsed.headers['connection'] ?? '').toLowerCase();
    this.#keepAlive = parsed.isHttp11 ? connection !== 'close' : connection === 'keep-alive';
    const hasNoBody = this.#isHead || this.statusCode === 204 || this.statusCode === 304;
    this.isChunked = !hasNoBody && /(^|,)\s*chunked\s*$/i.test(String(parsed.headers['transfer-encoding'] ?? ''));
    if (this.isChunked) this.#chunked = new ChunkedScanner();
    else if (hasNoBody) this.#length = 0;
    else if (parsed.headers['content-length'] !== undefined) this.#length = Number(parsed.headers['content-length']);
    else this.#keepAlive = false; // delimited by the connection's close
    if (Number.isNaN(this.#length)) return this.#fail('HPE_INVALID_CONTENT_LENGTH');
    // Nothing flows until the caller has chosen what to do with the body (relay it, retry).
    this.#socket.pause();
    if (rest.length > 0) this.#early = rest;
    const onHead = this.onHead;
    this.onHead = undefined;
    onHead?.();
  }

  #onBody(bytes: Buffer): void {
    if (this.complete || this.#isClosed) return;
    if (this.#chunked !== undefined) {
      this.#chunked.scan(bytes, this.#isRaw, this.#emitData);
      if (this.#chunked.error !== undefined) return this.#fail(this.#chunked.error);
      if (this.#chunked.isDone) {
        if (this.#chunked.hasExcess) this.#keepAlive = false;
        this.#finish();
      }
      return;
    }
    if (this.#length < 0) {
      this.emit('data', bytes);
      return;
    }
    // Bytes past the declared end (or any with an answer that has no body): what they are is
    // unknown, so the connection is not reused.
    if (bytes.length > this.#length) this.#keepAlive = false;
    const piece = bytes.length <= this.#length ? bytes : bytes.subarray(0, this.#length);
    this.#length -= piece.length;
    this.emit('data', piece);
    if (this.#length === 0) this.#finish();
  }

  #finish(): void {
    if (this.complete || this.#isClosed) return;
    this.complete = true;
    this.emit('end');
    this.#close(this.#keepAlive);
  }

  #onSocketEnd(): void {
    // A body delimited by the connection's close ends here; any other is cut short.
    if (this.#head === undefined && this.#length < 0 && this.#chunked === undefined) return this.#finish();
    this.#fail('ECONNRESET');
  }

  #fail(reason: string): void {
    if (this.#isClosed || this.complete) return;
    const onHead = this.onHead;
    this.onHead = undefined;
    this.#socket.destroy();
    this.#keepAlive = false;
    if (onHead !== undefined) {
      this.#isClosed = true;
      this.#detach();
      this.#release(false);
      onHead(reason);
      return;
    }
    this.#close(false);
  }

  #close(isReusable: boolean): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#detach();
    this.#release(isReusable);
    this.emit('close');
  }

  #detach(): void {
    this.#socket
      .off('data', this.#onData)
      .off('end', this.#onEnd)
      .off('error', this.#onError)
      .off('close', this.#onClose);
  }
}

interface ParsedHead {
  statusCode: number;
  statusMessage: string;
  isHttp11: boolean;
  headers: IncomingHttpHeaders;
}

/** A response head (status line and header lines, without the blank line), or undefined if it is not HTTP/1.x. */
export function parseHead(text: string): ParsedHead | undefined {
  const lines = text.split('\r\n');
  const status = /^HTTP\/1\.([01]) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
  if (status === null) return undefined;
  const headers: IncomingHttpHeaders = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const existing = headers[name];
    if (name === 'set-cookie') headers[name] = [...((existing as string[] | undefined) ?? []), value];
    else headers[name] = existing === undefined ? value : `${String(existing)}, ${value}`;
  }
  return { statusCode: Number(status[2]), statusMessage: status[3] ?? '', isHttp11: status[1] === '1', headers };
}

const SIZE = 0;
const SIZE_EXTENSION = 1;
const SIZE_LF = 2;
const DATA = 3;
const DATA_CR = 4;
const DATA_LF = 5;
const TRAILER_START = 6;
const TRAILER_LINE = 7;
const TRAILER_LF = 8;
const DONE = 9;

/**
 * Walks a `Transfer-Encoding: chunked` body as its bytes arrive, in buffers cut anywhere.
 * Decoded, it gives each piece of chunk data. Raw, it gives the bytes as they came, chunk
 * framing included, up to (not including) the terminating zero-size chunk: a size line cut
 * by a buffer's end is held back until its line is whole, since it may be the terminator.
 */
export class ChunkedScanner {
  isDone = false;
  /** Bytes came after the terminating chunk in the same read: the connection's framing is lost. */
  hasExcess = false;
  error: string | undefined = undefined;
  #state = SIZE;
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #held: Buffer | undefined = undefined;

  scan(input: Buffer, isRaw: boolean, out: (bytes: Buffer) => void): void {
    let bytes = input;
    if (this.#held !== undefined) {
      bytes = Buffer.concat([this.#held, input]);
      this.#held = undefined;
    }
    const length = bytes.length;
    let i = 0;
    let lineStart = -1;
    while (i < length && this.#state !== DONE) {
      const c = bytes[i]!;
      switch (this.#state) {
        case SIZE: {
          if (lineStart === -1) lineStart = i;
          const digit = hexValue(c);
          if (digit !== -1) {
            this.#size = this.#size * 16 + digit;
            if (++this.#digits > 12) return this.#invalid('a chunk size of more than 12 hex digits');
          } else if (this.#digits === 0) {
            return this.#invalid(`a chunk size line starting with byte ${c}`);
          } else if (c === 13) this.#state = SIZE_LF;
          else if (c === 10) this.#endSizeLine(bytes, isRaw, out, lineStart);
          else this.#state = SIZE_EXTENSION;
          i++;
          break;
        }
        case SIZE_EXTENSION:
          if (c === 13) this.#state = SIZE_LF;
          else if (c === 10) this.#endSizeLine(bytes, isRaw, out, lineStart);
          i++;
          break;
        case SIZE_LF:
          if (c !== 10) return this.#invalid('a chunk size line not ended by CRLF');
          this.#endSizeLine(bytes, isRaw, out, lineStart);
          i++;
          break;
        case DATA: {
          const take = Math.min(this.#remaining, length - i);
          if (!isRaw) out(bytes.subarray(i, i + take));
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#state = DATA_CR;
          break;
        }
        case DATA_CR:
          if (c !== 13) return this.#invalid('chunk data not followed by CRLF');
          this.#state = DATA_LF;
          i++;
          break;
        case DATA_LF:
          if (c !== 10) return this.#invalid('chunk data not followed by CRLF');
          this.#state = SIZE;
          lineStart = -1;
          i++;
          break;
        case TRAILER_START:
          this.#state = c === 13 ? TRAILER_LF : c === 10 ? DONE : TRAILER_LINE;
          i++;
          break;
        case TRAILER_LINE:
          if (c === 10) this.#state = TRAILER_START;
          i++;
          break;
        case TRAILER_LF:
          if (c !== 10) return this.#invalid('trailers not ended by CRLF');
          this.#state = DONE;
          i++;
          break;
      }
    }
    if (this.#state === DONE) {
      this.isDone = true;
      this.hasExcess = this.error === undefined && i < length;
    }
    const isMidSizeLine =
      this.#state === SIZE_EXTENSION || this.#state === SIZE_LF || (this.#state === SIZE && this.#digits > 0);
    if (isMidSizeLine) {
      if (length - lineStart > MAX_SIZE_LINE_BYTES) return this.#invalid('a chunk size line of more than 4 KB');
      // Held from the line's start; the line is read again, whole, with the next bytes.
      this.#held = Buffer.from(bytes.subarray(lineStart));
      this.#state = SIZE;
      this.#size = 0;
      this.#digits = 0;
      if (isRaw && lineStart > 0) out(bytes.subarray(0, lineStart));
      return;
    }
    // Before the terminator's size line, a read goes on whole: the very buffer that was read
    // (from that line on, #endSizeLine has forwarded what came before it).
    if (isRaw && this.#state < TRAILER_START && length > 0) out(bytes);
  }

  #endSizeLine(bytes: Buffer, isRaw: boolean, out: (bytes: Buffer) => void, lineStart: number): void {
    const size = this.#size;
    this.#size = 0;
    this.#digits = 0;
    if (size > 0) {
      this.#remaining = size;
      this.#state = DATA;
      return;
    }
    // The terminating chunk: what came before its size line is the last of the body.
    if (isRaw && lineStart > 0) out(bytes.subarray(0, lineStart));
    this.#state = TRAILER_START;
  }

  #invalid(what: string): void {
    this.error = `HPE_INVALID_CHUNK_SIZE: ${what}`;
    this.#state = DONE;
  }
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}
