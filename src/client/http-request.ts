import http from 'node:http';
import https from 'node:https';
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

export const DEFAULT_TIMEOUTS: RequestTimeouts = { connectMs: 10_000, headersMs: 60_000, firstTokenMs: 60_000, idleMs: 30_000, totalMs: 300_000 };

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

/**
 * Sends one request and times it. Never throws: every failure ends as an outcome code on
 * the returned timeline. SSE is parsed incrementally as bytes arrive (never one event per
 * chunk); an event's arrival time is the arrival of the chunk that completed it.
 */
export function runHttpRequest(spec: HttpRequestSpec, options: HttpRequestOptions): Promise<Timeline> {
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const tl = createTimeline(spec.api, spec.isStream, options.intendedNs);
  const now = (): number => Number(process.hrtime.bigint() - options.intendedNs) / 1e6;

  return new Promise<Timeline>((resolve) => {
    let isDone = false;
    let res: http.IncomingMessage | undefined;
    // One timer per request, set for the nearest of three deadlines (the whole answer, the
    // current phase, the quiet gap): three timers cost about 0.4 KB per in-flight stream.
    const totalAt = performance.now() + timeouts.totalMs;
    let phase: { outcome: OutcomeCode; ms: number; what: string; at: number } | undefined;
    let idleAt = Number.POSITIVE_INFINITY;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(onDeadline, Math.max(1, Math.ceil(Math.min(totalAt, phase?.at ?? Number.POSITIVE_INFINITY, idleAt) - performance.now())));
    };
    const onDeadline = (): void => {
      if (isDone) return;
      const at = performance.now();
      if (at >= totalAt) return fail('timeout_total', `no complete answer within ${timeouts.totalMs} ms`);
      if (phase !== undefined && at >= phase.at) return fail(phase.outcome, `no ${phase.what} within ${phase.ms} ms`);
      if (at >= idleAt) return fail('timeout_idle', `quiet for more than ${timeouts.idleMs} ms`);
      arm();
    };

    const finish = (): void => {
      if (isDone) return;
      isDone = true;
      tl.endMs ??= now();
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(tl);
    };
    const fail = (outcome: OutcomeCode, message: string): void => {
      if (isDone) return;
      if (tl.outcome === 'ok') {
        tl.outcome = outcome;
        tl.errorMessage = message;
      }
      req.destroy();
      res?.destroy();
      finish();
    };
    const armPhase = (outcome: OutcomeCode, ms: number, what: string): void => {
      phase = { outcome, ms, what, at: performance.now() + ms };
      arm();
    };
    const endPhase = (): void => {
      phase = undefined;
    };
    const onAbort = (): void => fail('aborted', 'aborted by the run');
    arm();

    // Only the scheme is needed once the request is made: no URL object kept per stream.
    const isHttps = spec.url.startsWith('https:');
    const req = (isHttps ? https : http).request(spec.url, {
      method: 'POST',
      agent: options.agent,
      headers: {
        'content-type': 'application/json',
        accept: spec.isStream ? 'text/event-stream' : 'application/json',
        'content-length': Buffer.byteLength(spec.body),
        ...spec.headers,
      },
    });
    if (options.signal?.aborted) {
      queueMicrotask(onAbort);
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });

    req.on('socket', (socket) => {
      if ((socket as { connecting?: boolean }).connecting) {
        armPhase('timeout_connect', timeouts.connectMs, 'connection');
        socket.once(isHttps ? 'secureConnect' : 'connect', () => {
          tl.connectedMs = now();
          armPhase('timeout_headers', timeouts.headersMs, 'response headers');
        });
      } else {
        tl.connectedMs = now();
        armPhase('timeout_headers', timeouts.headersMs, 'response headers');
      }
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      const outcome: OutcomeCode = tl.headersMs === undefined ? 'connect_error' : 'protocol_truncated';
      fail(outcome, `${error.code ?? ''} ${error.message}`.trim());
    });
    req.on('response', (response) => {
      res = response;
      tl.headersMs = now();
      tl.status = response.statusCode ?? 0;
      readIds(tl, response.headers);
      const isSuccess = tl.status >= 200 && tl.status < 300;
      if (isSuccess && spec.isStream) armPhase('timeout_first_token', timeouts.firstTokenMs, 'first token');
      else endPhase();
      idleAt = performance.now() + timeouts.idleMs;
      arm();
      response.setEncoding('utf8');
      const onChunk = !isSuccess ? collectError(tl) : spec.isStream ? new StreamReader(spec.api, tl, now, options.keepFrames === true, fail, endPhase) : collectJson(spec.api, tl, now);
      response.on('data', (chunk: string) => {
        tl.firstByteMs ??= now();
        // The quiet-gap deadline moves with each chunk; the timer catches up when it fires.
        idleAt = performance.now() + timeouts.idleMs;
        onChunk.feed(chunk);
      });
      response.on('end', () => {
        tl.endMs = now();
        onChunk.end();
        finish();
      });
      response.on('error', () => fail('protocol_truncated', 'the connection closed before the response ended'));
      response.on('close', () => {
        if (!response.complete) fail('protocol_truncated', 'the connection closed before the response ended');
      });
    });
    tl.sentMs = now();
    req.end(spec.body);
  });
}

interface ChunkSink {
  feed(chunk: string): void;
  end(): void;
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
  else if (retrySeconds !== undefined && Number.isFinite(Number(retrySeconds))) tl.retryAfterMs = Number(retrySeconds) * 1000;
}

/**
 * Reads a successful stream's events into the timeline. A class (one per in-flight stream,
 * its methods shared) with the SSE parser's handler on itself: no closures per stream.
 */
class StreamReader implements ChunkSink, SseHandler {
  readonly #api: ApiKind;
  readonly #tl: Timeline;
  readonly #now: () => number;
  readonly #fail: (outcome: OutcomeCode, message: string) => void;
  readonly #onFirstContent: () => void;
  readonly #parser: SseParser;
  /** Arrival of the chunk being parsed: every event it completes arrived then. */
  #arrivalMs = 0;
  /** The stamp comment just before the next event, if any. */
  #pendingEmitNs: bigint | undefined = undefined;

  constructor(api: ApiKind, tl: Timeline, now: () => number, keepFrames: boolean, fail: (outcome: OutcomeCode, message: string) => void, onFirstContent: () => void) {
    this.#api = api;
    this.#tl = tl;
    this.#now = now;
    this.#fail = fail;
    this.#onFirstContent = onFirstContent;
    this.#parser = new SseParser(this);
    if (keepFrames) tl.frames = [];
  }

  feed(chunk: string): void {
    this.#arrivalMs = this.#now();
    this.#parser.feed(chunk);
  }

  end(): void {
    const tl = this.#tl;
    if (tl.outcome === 'ok' && tl.doneMs === undefined) {
      tl.outcome = 'protocol_missing_done';
      tl.errorMessage = this.#api === 'responses' ? 'the stream ended without a terminal response event' : 'the stream ended without data: [DONE]';
    }
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
      this.#fail('protocol_malformed_frame', `frame ${tl.events} is not JSON: ${data.slice(0, 80)}`);
      return;
    }
    const hadContent = tl.firstContentMs !== undefined;
    applyExtracted(tl, extractEvent(this.#api, event, parsed), arrivalMs);
    if (!hadContent && tl.firstContentMs !== undefined) {
      if (emitMs !== undefined) tl.firstContentEmitMs = emitMs;
      this.#onFirstContent();
    }
  }
}

function collectJson(api: ApiKind, tl: Timeline, now: () => number): ChunkSink {
  let body = '';
  return {
    feed(chunk) {
      body += chunk;
    },
    end() {
      const at = now();
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
    },
  };
}

function collectError(tl: Timeline): ChunkSink {
  let body = '';
  return {
    feed(chunk) {
      if (body.length < MAX_ERROR_BODY_CHARS) body += chunk;
    },
    end() {
      tl.outcome = `http_${tl.status ?? 0}`;
      try {
        const parsed = JSON.parse(body) as { error?: { message?: string; code?: string } };
        tl.errorMessage = parsed.error?.message ?? body.slice(0, 200);
      } catch {
        tl.errorMessage = body.slice(0, 200);
      }
    },
  };
}
