import http from 'node:http';
import https from 'node:https';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { parseStampComment, type ApiKind } from '../protocol/index.ts';
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
    let phaseTimer: NodeJS.Timeout | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    let res: http.IncomingMessage | undefined;
    const totalTimer = setTimeout(() => fail('timeout_total', `no complete answer within ${timeouts.totalMs} ms`), timeouts.totalMs);

    const finish = (): void => {
      if (isDone) return;
      isDone = true;
      tl.endMs ??= now();
      clearTimeout(totalTimer);
      clearTimeout(phaseTimer);
      clearTimeout(idleTimer);
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
      clearTimeout(phaseTimer);
      phaseTimer = setTimeout(() => fail(outcome, `no ${what} within ${ms} ms`), ms);
    };
    const onAbort = (): void => fail('aborted', 'aborted by the run');

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
      else clearTimeout(phaseTimer);
      idleTimer = setTimeout(() => fail('timeout_idle', `quiet for more than ${timeouts.idleMs} ms`), timeouts.idleMs);
      response.setEncoding('utf8');
      const onChunk = !isSuccess ? collectError(tl) : spec.isStream ? streamReader(spec.api, tl, now, options.keepFrames === true, fail, () => clearTimeout(phaseTimer)) : collectJson(spec.api, tl, now);
      response.on('data', (chunk: string) => {
        tl.firstByteMs ??= now();
        idleTimer?.refresh();
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

function streamReader(
  api: ApiKind,
  tl: Timeline,
  now: () => number,
  keepFrames: boolean,
  fail: (outcome: OutcomeCode, message: string) => void,
  onFirstContent: () => void,
): ChunkSink {
  let arrivalMs = 0;
  let pendingEmitNs: bigint | undefined;
  if (keepFrames) tl.frames = [];
  const onEvent = (event: EventSourceMessage): void => {
    tl.events++;
    tl.firstEventMs ??= arrivalMs;
    const emitMs = pendingEmitNs === undefined ? undefined : Number(pendingEmitNs - tl.intendedNs) / 1e6;
    pendingEmitNs = undefined;
    tl.frames?.push({ arrivalMs, ...(event.event ? { event: event.event } : {}), data: event.data, ...(emitMs !== undefined ? { emitMs } : {}) });
    if (emitMs !== undefined) tl.deliveryLatencyMs.push(arrivalMs - emitMs);
    if (event.data === '[DONE]') {
      tl.doneMs = arrivalMs;
      return;
    }
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(event.data) as Record<string, unknown>;
    } catch {
      fail('protocol_malformed_frame', `frame ${tl.events} is not JSON: ${event.data.slice(0, 80)}`);
      return;
    }
    const hadContent = tl.firstContentMs !== undefined;
    applyExtracted(tl, extractEvent(api, event.event, data), arrivalMs);
    if (!hadContent && tl.firstContentMs !== undefined) {
      if (emitMs !== undefined) tl.firstContentEmitMs = emitMs;
      onFirstContent();
    }
  };
  const parser = createParser({
    onEvent,
    onComment(comment) {
      const stamp = parseStampComment(comment);
      if (stamp) pendingEmitNs = stamp.emitNs;
    },
  });
  return {
    feed(chunk) {
      arrivalMs = now();
      parser.feed(chunk);
    },
    end() {
      if (tl.outcome === 'ok' && tl.doneMs === undefined) {
        tl.outcome = 'protocol_missing_done';
        tl.errorMessage = api === 'responses' ? 'the stream ended without a terminal response event' : 'the stream ended without data: [DONE]';
      }
    },
  };
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
