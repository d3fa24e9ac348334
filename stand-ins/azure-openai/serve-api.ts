import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiKind } from '../../src/protocol/index.ts';
import * as errors from './azure-errors.ts';
import type { MockContext } from './context.ts';
import { PacedFrameWriter } from './paced-frame-writer.ts';
import { chatCompletionBody, chatStreamEvents } from './frames/chat.ts';
import { completionsBody, completionsStreamEvents } from './frames/completions.ts';
import type { PlannedItem } from './frames/event.ts';
import { legacyExtensionsStreamEvents, onYourDataBody, onYourDataStreamEvents } from './frames/on-your-data.ts';
import { responsesBody, responsesStreamEvents } from './frames/responses.ts';
import { lastTokenAtMs, planGeneration, type Generation } from './generation.ts';
import { MAX_RECORDED_BODY_BYTES, redactHeaders, type RequestRecord } from './recorder.ts';
import type { ApiRequest } from './api-request.ts';
import { admitRequest, isAdmitted, type AdmittedRequest, type RouteSpec } from './request-gate.ts';

export type { ApiRequest, HeaderReader } from './api-request.ts';

const DEFAULT_SLOW_HEADERS_MS = 2_000;
const DEFAULT_RETRY_AFTER_MS = 2_000;

type Params = Record<string, string | readonly string[] | undefined>;

/** An answer before it is a fetch Response (toResponse) or node:http writes (the adapter). */
export interface ApiAnswer {
  status: number;
  headers: Record<string, string>;
  body: string | PacedFrameWriter;
}

/** The answer as a fetch Response (msw's in-process handler). An empty body is none (a 204 may have no body). */
export function toResponse(answer: ApiAnswer): Response {
  const body =
    typeof answer.body === 'string' ? (answer.body === '' ? null : answer.body) : answer.body.toReadableStream();
  return new Response(body, { status: answer.status, headers: answer.headers });
}

/** Serves one API request end to end: admit, fault, generate, stream or answer. */
export async function serveApi(
  request: ApiRequest,
  route: RouteSpec,
  params: Params,
  ctx: MockContext,
): Promise<ApiAnswer> {
  ctx.stats.requests++;
  const pausedMs = ctx.pausedUntilMs - performance.now();
  if (pausedMs > 0) await sleep(pausedMs, undefined, { signal: request.signal });
  const record = startRecord(request, ctx);
  const idHeaders = {
    'apim-request-id': record.apimRequestId,
    'x-request-id': record.requestId,
    'x-ms-client-request-id': record.clientRequestId ?? record.apimRequestId,
    'x-ms-region': ctx.config.region,
  };
  const answerError = (spec: errors.AzureErrorSpec): ApiAnswer => {
    record.status = spec.status;
    record.outcome = 'error';
    record.endedAt = new Date().toISOString();
    return errors.errorAnswer(spec, idHeaders);
  };

  const admitted = await admitRequest(request, route, params, ctx);
  if (!isAdmitted(admitted)) return answerError(admitted);
  record.api = admitted.api;
  record.deployment = admitted.profile.deployment;
  record.isStream = admitted.isStream;
  record.body = recordableBody(admitted.body);
  const { faults } = admitted.control;

  if ('slow-headers' in faults) {
    await sleep(faults['slow-headers'] ?? DEFAULT_SLOW_HEADERS_MS, undefined, { signal: request.signal });
  }
  if ('429' in faults) return answerError(errors.rateLimited(faults['429'] ?? DEFAULT_RETRY_AFTER_MS));
  if ('500' in faults) return answerError(errors.serverError(record.requestId));
  if ('503' in faults) return answerError(errors.SERVICE_UNAVAILABLE);

  const gen = planGeneration({
    api: admitted.api,
    profile: admitted.profile,
    timing: { ...admitted.profile.timing, ...ctx.config.timing, ...definedTiming(admitted) },
    seed: admitted.control.seed ?? ctx.nextSeed(),
    maxTokens: admitted.maxTokens,
    promptTokens: admitted.promptTokens,
    includeUsage: streamOption(admitted, 'include_usage') === true,
    includeObfuscation: streamOption(admitted, 'include_obfuscation') !== false,
    faults,
    body: admitted.body,
  });
  const limits = ctx.consumeRateLimit(admitted.profile.deployment, gen.promptTokens + gen.tokens.length);
  const headers: Record<string, string> = {
    ...idHeaders,
    'cache-control': 'no-cache, must-revalidate',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
    'access-control-allow-origin': '*',
    'strict-transport-security': 'max-age=31536000; includeSubDomains; preload',
    'x-ratelimit-limit-requests': String(ctx.config.rateLimitRequestsPerMin),
    'x-ratelimit-limit-tokens': String(ctx.config.rateLimitTokensPerMin),
    'x-ratelimit-remaining-requests': String(limits.remainingRequests),
    'x-ratelimit-remaining-tokens': String(limits.remainingTokens),
  };
  record.status = 200;

  if (!admitted.isStream) {
    // A non-streaming answer takes as long as the whole stream would have.
    await sleep(lastTokenAtMs(gen), undefined, { signal: request.signal }).catch((error: unknown) => {
      record.outcome = 'cancelled';
      throw error;
    });
    record.outcome = 'completed';
    record.endedAt = new Date().toISOString();
    return {
      status: 200,
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify(jsonBody(gen, route)),
    };
  }

  const stream = new PacedFrameWriter(
    streamEvents(gen, route),
    { contentCount: gen.tokens.length, endMs: lastTokenAtMs(gen) },
    {
      stamp: admitted.control.stamp === true,
      faults,
      stats: ctx.stats,
      record,
    },
  );
  return { status: 200, headers: { ...headers, 'content-type': 'text/event-stream; charset=utf-8' }, body: stream };
}

function startRecord(request: ApiRequest, ctx: MockContext): RequestRecord {
  const record: RequestRecord = {
    requestId: randomUUID(),
    apimRequestId: randomUUID(),
    clientRequestId: request.headers.get('x-ms-client-request-id'),
    method: request.method,
    path: new URL(request.url).pathname,
    api: null,
    deployment: null,
    status: 0,
    isStream: false,
    startedAt: new Date().toISOString(),
    endedAt: null,
    contentFramesPlanned: 0,
    framesEmitted: 0,
    outcome: 'pending',
    headers: redactHeaders(request.headers),
    body: null,
  };
  ctx.recorder.add(record);
  return record;
}

function recordableBody(body: Record<string, unknown>): unknown {
  const size = JSON.stringify(body).length;
  return size <= MAX_RECORDED_BODY_BYTES ? body : { truncated: true, bytes: size };
}

function definedTiming(admitted: AdmittedRequest): Record<string, number | string> {
  const { control } = admitted;
  const out: Record<string, number | string> = {};
  for (const key of ['ttftMs', 'itlMs', 'jitterMs', 'mode', 'burstTokens', 'outputTokens'] as const) {
    const value = control[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

function streamOption(admitted: AdmittedRequest, name: string): unknown {
  const options = admitted.body['stream_options'];
  return options !== null && typeof options === 'object' ? (options as Record<string, unknown>)[name] : undefined;
}

const STREAM_BUILDERS: Record<ApiKind, (gen: Generation) => Iterable<PlannedItem>> = {
  chat: chatStreamEvents,
  completions: completionsStreamEvents,
  responses: responsesStreamEvents,
  'on-your-data': onYourDataStreamEvents,
};

function streamEvents(gen: Generation, route: RouteSpec): Iterable<PlannedItem> {
  if (route.isLegacyExtensions) return legacyExtensionsStreamEvents(gen);
  return STREAM_BUILDERS[gen.api](gen);
}

function jsonBody(gen: Generation, route: RouteSpec): Record<string, unknown> {
  switch (gen.api) {
    case 'chat':
      return chatCompletionBody(gen);
    case 'completions':
      return completionsBody(gen);
    case 'responses':
      return responsesBody(gen);
    case 'on-your-data':
      return onYourDataBody(gen, route.isLegacyExtensions === true);
  }
}
