import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { parseStampComment, SseParser, type ApiKind, type SseHandler } from '../protocol/index.ts';
import { applyExtracted, extractEvent, extractJsonBody } from './extract.ts';
import type { OutcomeCode } from './outcome.ts';
import { createTimeline, type Timeline } from './timeline.ts';

export interface RequestTimeouts {
  connectMs: number;
  headersMs: number;
  /** From response headers to the first content event (streams only). */
  firstTokenMs: number;
  /** Longest quiet gap between body chunks. */
  idleMs: number;
  totalMs: number;
}

export const DEFAULT_TIMEOUTS: RequestTimeouts = {
  connectMs: 10_000,
  headersMs: 60_000,
  firstTokenMs: 60_000,
  idleMs: 30_000,
  totalMs: 300_000,
};

export interface HttpRequestSpec {
  api: ApiKind;
  isStream: boolean;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface HttpRequestOptions {
  intendedNs: bigint;
  timeouts?: RequestTimeouts;
  signal?: AbortSignal;
  agent?: http.Agent;
  /** Keep every raw frame with its arrival time (memory grows with the stream). */
  keepFrames?: boolean;
}

const MAX_ERROR_BODY_CHARS = 64 * 1024;

/** A phase of the request with its own deadline: what ends it late, and how that reads. */
interface Phase {
  outcome: OutcomeCode;
  what: string;
  timeout: keyof RequestTimeouts;
}
const CONNECTING: Phase = { outcome: 'timeout_connect', what: 'connection', timeout: 'connectMs' };
const AWAITING_HEADERS: Phase = { outcome: 'timeout_headers', what: 'response headers', timeout: 'headersMs' };
const AWAITING_FIRST_TOKEN: Phase = { outcome: 'timeout_first_token', what: 'first token', timeout: 'firstTokenMs' };

/** How the body of the answer is read: a successful stream is parsed as SSE while it arrives. */
const STREAM_BODY = 0;
/** A successful JSON answer: read whole, then parsed. */
const JSON_BODY = 1;
/** A failed answer: its first 64 K characters kept for the message. */
const ERROR_BODY = 2;
type BodyMode = typeof STREAM_BODY | typeof JSON_BODY | typeof ERROR_BODY;

/**
 * Sends one request and times it. Never throws: every failure ends as an outcome code on
 * the returned timeline. SSE is parsed incrementally as bytes arrive (never one event per
 * chunk); an event's arrival time is the arrival of the chunk that completed it.
 */
export function runHttpRequest(spec: HttpRequestSpec, options: HttpRequestOptions): Promise<Timeline> {
  return new Promise<Timeline>((resolve) => {
    new TimedRequest(spec, options, resolve);
  });
}

/**
 * The request's node:http objects point back to their TimedRequest under this symbol, so that
 * their listeners are the module's functions below, shared by every request: one closure per
 * listener per request held about 1.2 KB of closures and contexts per in-flight stream.
 */
const kTimed = Symbol('TimedRequest');
type Tagged<T> = T & { [kTimed]: TimedRequest };

function onSocket(this: Tagged<http.ClientRequest>, socket: Socket): void {
  this[kTimed].onSocket(socket);
}
function onRequestError(this: Tagged<http.ClientRequest>, error: NodeJS.ErrnoException): void {
  this[kTimed].onRequestError(error);
}
function onResponse(this: Tagged<http.ClientRequest>, response: http.IncomingMessage): void {
  this[kTimed].onResponse(response);
}
function onData(this: Tagged<http.IncomingMessage>, chunk: Buffer): void {
  this[kTimed].onData(chunk);
}
function onEnd(this: Tagged<http.IncomingMessage>): void {
  this[kTimed].onEnd();
}
/**
 * The request closes once its answer has ended (a no-op then), or when the connection closed
 * first: with no answer, after its 'error'; with part of one, the answer is cut short. (The
 * answer emits no 'error' of its own without a listener: node:http keeps that behaviour for
 * compatibility. Two listeners less on every answer: about 0.1 KB per stream.)
 */
function onRequestClose(this: Tagged<http.ClientRequest>): void {
  this[kTimed].fail('protocol_truncated', 'the connection closed before the response ended');
}
function onDeadline(timed: TimedRequest): void {
  timed.onDeadline();
}

/** A deadline that never comes: the largest small integer (2^31 - 1 ms of process uptime). */
const NEVER = 2 ** 31 - 1;
/** `ms` from now on performance.now(), in whole ms, rounded up. */
function deadline(ms: number): number {
  return Math.ceil(performance.now() + ms);
}

/**
 * The length of `chunk` without a UTF-8 sequence cut off at its end (at most 3 bytes), so
 * that chunks decode on their own and no StringDecoder is kept per response.
 */
export function wholeUtf8Length(chunk: Buffer): number {
  const length = chunk.length;
  for (let i = length - 1; i >= 0 && i >= length - 4; i--) {
    const byte = chunk[i]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back for its lead
    const size = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length - i >= size ? length : i;
  }
  return length;
}

/**
 * One request in flight. A class, its methods shared, because the harness keeps one per
 * in-flight stream: its state is a few fields, and it is its own SSE handler and its own
 * abort listener (`handleEvent`).
 */
class TimedRequest implements SseHandler {
  readonly #tl: Timeline;
  readonly #keepFrames: boolean;
  readonly #timeouts: RequestTimeouts;
  readonly #signal: AbortSignal | undefined;
  readonly #resolve: (tl: Timeline) => void;
  readonly #req: Tagged<http.ClientRequest>;
  #res: Tagged<http.IncomingMessage> | undefined = undefined;
  #isDone = false;
  // One timer per request, set for the nearest of three deadlines (the whole answer, the
  // current phase, the quiet gap): three timers cost about 0.4 KB per in-flight stream. The
  // deadlines are whole ms of performance.now(), rounded up (never early), so that they are
  // small integers held in the object, not a boxed number each.
  #timer: NodeJS.Timeout | undefined = undefined;
  readonly #totalAt: number;
  #phase: Phase | undefined = undefined;
  #phaseAt = NEVER;
  #idleAt = NEVER;
  #mode: BodyMode = STREAM_BODY;
  /** The SSE parser of a successful stream. */
  #parser: SseParser | undefined = undefined;
  /** The body so far of a JSON or error answer. */
  #body = '';
  /** The start of a UTF-8 sequence the last chunk cut off. */
  #held: Buffer | undefined = undefined;
  /** Arrival of the chunk being parsed: every event it completes arrived then. */
  #arrivalMs = 0;
  /** The stamp comment just before the next event, if any. */
  #pendingEmitNs: bigint | undefined = undefined;

  constructor(spec: HttpRequestSpec, options: HttpRequestOptions, resolve: (tl: Timeline) => void) {
    this.#tl = createTimeline(spec.api, spec.isStream, options.intendedNs);
    this.#keepFrames = options.keepFrames === true;
    this.#timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
    this.#signal = options.signal;
    this.#resolve = resolve;
    this.#totalAt = deadline(this.#timeouts.totalMs);
    this.#arm();
    const url = new URL(spec.url);
    const req = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      agent: options.agent,
      headers: requestHead(url, spec),
    }) as Tagged<http.ClientRequest>;
    req[kTimed] = this;
    this.#req = req;
    if (this.#signal?.aborted) queueMicrotask(() => this.handleEvent());
    else this.#signal?.addEventListener('abort', this, { once: true });
    req.on('socket', onSocket);
    req.on('error', onRequestError);
    req.on('response', onResponse);
    req.on('close', onRequestClose);
    this.#tl.sentMs = this.#now();
    req.end(spec.body);
  }

  /** ms since the intended start, on the monotonic clock. */
  #now(): number {
    return Number(process.hrtime.bigint() - this.#tl.intendedNs) / 1e6;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const at = Math.min(this.#totalAt, this.#phaseAt, this.#idleAt);
    this.#timer = setTimeout(onDeadline, Math.max(1, Math.ceil(at - performance.now())), this);
  }

  #startPhase(phase: Phase): void {
    this.#phase = phase;
    this.#phaseAt = deadline(this.#timeouts[phase.timeout]);
    this.#arm();
  }

  #endPhase(): void {
    this.#phase = undefined;
    this.#phaseAt = NEVER;
  }

  onDeadline(): void {
    if (this.#isDone) return;
    const at = performance.now();
    const timeouts = this.#timeouts;
    if (at >= this.#totalAt) return this.fail('timeout_total', `no complete answer within ${timeouts.totalMs} ms`);
    const phase = this.#phase;
    if (phase !== undefined && at >= this.#phaseAt)
      return this.fail(phase.outcome, `no ${phase.what} within ${timeouts[phase.timeout]} ms`);
    if (at >= this.#idleAt) return this.fail('timeout_idle', `quiet for more than ${timeouts.idleMs} ms`);
    this.#arm();
  }

  /** The run's abort signal fired (an EventListener object: no closure per request). */
  handleEvent(): void {
    this.fail('aborted', 'aborted by the run');
  }

  #finish(): void {
    if (this.#isDone) return;
    this.#isDone = true;
    this.#tl.endMs ??= this.#now();
    clearTimeout(this.#timer);
    this.#signal?.removeEventListener('abort', this);
    this.#resolve(this.#tl);
  }

  fail(outcome: OutcomeCode, message: string): void {
    if (this.#isDone) return;
    const tl = this.#tl;
    if (tl.outcome === 'ok') {
      tl.outcome = outcome;
      tl.errorMessage = message;
    }
    this.#req.destroy();
    this.#res?.destroy();
    this.#finish();
  }

  onSocket(socket: Socket): void {
    if ((socket as { connecting?: boolean }).connecting) {
      this.#startPhase(CONNECTING);
      // A new connection only: pooled sockets are connected already.
      socket.once(this.#req.protocol === 'https:' ? 'secureConnect' : 'connect', () => this.#connected());
    } else {
      this.#connected();
    }
  }

  #connected(): void {
    this.#tl.connectedMs = this.#now();
    this.#startPhase(AWAITING_HEADERS);
  }

  onRequestError(error: NodeJS.ErrnoException): void {
    const outcome: OutcomeCode = this.#tl.headersMs === undefined ? 'connect_error' : 'protocol_truncated';
    this.fail(outcome, `${error.code ?? ''} ${error.message}`.trim());
  }

  onResponse(response: http.IncomingMessage): void {
    const res = response as Tagged<http.IncomingMessage>;
    res[kTimed] = this;
    this.#res = res;
    const tl = this.#tl;
    tl.headersMs = this.#now();
    tl.status = res.statusCode ?? 0;
    readIds(tl, res.headers);
    const isSuccess = tl.status >= 200 && tl.status < 300;
    this.#mode = !isSuccess ? ERROR_BODY : tl.isStream ? STREAM_BODY : JSON_BODY;
    this.#idleAt = deadline(this.#timeouts.idleMs);
    if (this.#mode === STREAM_BODY) {
      this.#parser = new SseParser(this);
      if (this.#keepFrames) tl.frames = [];
      this.#startPhase(AWAITING_FIRST_TOKEN);
    } else {
      this.#endPhase();
      this.#arm();
    }
    res.on('data', onData);
    res.on('end', onEnd);
  }

  onData(chunk: Buffer): void {
    const tl = this.#tl;
    const at = this.#now();
    tl.firstByteMs ??= at;
    // The quiet-gap deadline moves with each chunk; the timer catches up when it fires.
    this.#idleAt = deadline(this.#timeouts.idleMs);
    const text = this.#decode(chunk);
    if (this.#mode === STREAM_BODY) {
      this.#arrivalMs = at;
      this.#parser!.feed(text);
    } else if (this.#mode === JSON_BODY || this.#body.length < MAX_ERROR_BODY_CHARS) {
      this.#body += text;
    }
  }

  /** The chunk's whole characters; the start of one it cuts off waits for the next chunk. */
  #decode(chunk: Buffer): string {
    if (this.#held !== undefined) {
      chunk = Buffer.concat([this.#held, chunk]);
      this.#held = undefined;
    }
    const end = wholeUtf8Length(chunk);
    if (end === chunk.length) return chunk.toString('utf8');
    // Copied: a view would keep the whole socket read buffer alive.
    this.#held = Buffer.from(chunk.subarray(end));
    return chunk.toString('utf8', 0, end);
  }

  onEnd(): void {
    const tl = this.#tl;
    tl.endMs = this.#now();
    // A sequence cut off by the end of the body decodes as U+FFFD, as a StringDecoder ends it.
    const rest = this.#held?.toString('utf8') ?? '';
    this.#held = undefined;
    if (this.#mode === STREAM_BODY) {
      this.#parser!.feed(rest);
      if (tl.outcome === 'ok' && tl.doneMs === undefined) {
        tl.outcome = 'protocol_missing_done';
        tl.errorMessage =
          tl.api === 'responses'
            ? 'the stream ended without a terminal response event'
            : 'the stream ended without data: [DONE]';
      }
    } else if (this.#mode === JSON_BODY) {
      readJsonBody(tl.api, tl, this.#body + rest, tl.endMs);
    } else {
      readErrorBody(tl, this.#body + rest);
    }
    this.#finish();
  }

  onComment(text: string): void {
    const stamp = parseStampComment(text);
    if (stamp) this.#pendingEmitNs = stamp.emitNs;
  }

  onEvent(data: string, event: string | undefined): void {
    const tl = this.#tl;
    const arrivalMs = this.#arrivalMs;
    tl.events++;
    tl.firstEventMs ??= arrivalMs;
    const emitMs = this.#pendingEmitNs === undefined ? undefined : Number(this.#pendingEmitNs - tl.intendedNs) / 1e6;
    this.#pendingEmitNs = undefined;
    tl.frames?.push({ arrivalMs, ...(event ? { event } : {}), data, ...(emitMs !== undefined ? { emitMs } : {}) });
    if (emitMs !== undefined) tl.deliveryLatencyMs.push(arrivalMs - emitMs);
    if (data === '[DONE]') {
      tl.doneMs = arrivalMs;
      return;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(data) as Record<string, unknown>;
    } catch {
      this.fail('protocol_malformed_frame', `frame ${tl.events} is not JSON: ${data.slice(0, 80)}`);
      return;
    }
    const hadContent = tl.firstContentMs !== undefined;
    applyExtracted(tl, extractEvent(tl.api, event, parsed), arrivalMs);
    if (!hadContent && tl.firstContentMs !== undefined) {
      if (emitMs !== undefined) tl.firstContentEmitMs = emitMs;
      this.#endPhase();
    }
  }
}

/**
 * The request's headers as one flat list, names lowercase, a given header replacing the
 * default of the same name. node:http writes a list into the request head as it is, where an
 * object's headers are each also kept as a [name, value] pair for the request's life (about
 * 0.6 KB per in-flight stream), and it adds no Host header to a list: it is here.
 */
function requestHead(url: URL, spec: HttpRequestSpec): string[] {
  const head: Record<string, string> = {
    host: url.host,
    'content-type': 'application/json',
    accept: spec.isStream ? 'text/event-stream' : 'application/json',
    'content-length': String(Buffer.byteLength(spec.body)),
  };
  for (const name in spec.headers) head[name.toLowerCase()] = spec.headers[name]!;
  const flat: string[] = [];
  for (const name in head) flat.push(name, head[name]!);
  return flat;
}

function readIds(tl: Timeline, headers: http.IncomingHttpHeaders): void {
  const one = (name: string): string | undefined => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const requestId = one('x-request-id');
  const apimRequestId = one('apim-request-id');
  if (requestId) tl.ids.requestId = requestId;
  if (apimRequestId) tl.ids.apimRequestId = apimRequestId;
  const retryMs = one('retry-after-ms');
  const retrySeconds = one('retry-after');
  if (retryMs !== undefined && Number.isFinite(Number(retryMs))) tl.retryAfterMs = Number(retryMs);
  else if (retrySeconds !== undefined && Number.isFinite(Number(retrySeconds)))
    tl.retryAfterMs = Number(retrySeconds) * 1000;
}

function readJsonBody(api: ApiKind, tl: Timeline, body: string, at: number): void {
  try {
    const extracted = extractJsonBody(api, JSON.parse(body) as Record<string, unknown>);
    applyExtracted(tl, extracted, at);
    tl.events = 1;
    tl.firstEventMs = at;
    tl.doneMs = at;
  } catch {
    tl.outcome = 'protocol_malformed_frame';
    tl.errorMessage = `the response body is not JSON: ${body.slice(0, 80)}`;
  }
}

function readErrorBody(tl: Timeline, body: string): void {
  tl.outcome = `http_${tl.status ?? 0}`;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string; code?: string } };
    tl.errorMessage = parsed.error?.message ?? body.slice(0, 200);
  } catch {
    tl.errorMessage = body.slice(0, 200);
  }
}
