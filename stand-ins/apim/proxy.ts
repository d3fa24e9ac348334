import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { timingSafeEqual } from 'node:crypto';
import { BodyTooLargeError, readBody } from '../read-body.ts';
import {
  BRIDGE_UPSTREAM_PATH,
  bridgedDeployment,
  createStreamBridge,
  toChatCompletion,
  toResponsesRequest,
} from './responses-bridge.ts';
import { MESSAGES, writeGatewayError } from './gateway-errors.ts';
import type { BackendRouter } from './backend-router.ts';
import { retryDelayMs, type GatewayPolicy, type HeaderRule, type RetryRule } from './policy.ts';
import { createRelay } from './buffer-response.ts';
import type { TokenWindow } from './token-limit.ts';
import type { UpstreamPool, UpstreamResponse } from './upstream.ts';
import type { GatewayAttempt, GatewayLogEntry } from '../../src/protocol/gateway-log.ts';
import type * as UsageMeter from './usage-meter.ts';

export interface ProxyConfig {
  policy: GatewayPolicy;
  /** The backends (one `openai-backend` unless a backends file gives more) and their breakers. */
  router: BackendRouter;
  /** The backend or pool the policy's `set-backend-service` names. */
  backendId: string;
  /** Sent as `api-key` to the backend where the policy uses `authentication-managed-identity`. */
  backendKey: string | undefined;
  /** Valid subscription keys; empty means the API does not require a subscription. */
  subscriptionKeys: readonly string[];
  /** The lab's API: subscription key in this header or query parameter (APIM's subscriptionKeyParameterNames). */
  subscriptionKeyHeader: string;
  subscriptionKeyQuery: string;
  maxBodyBytes: number;
  /**
   * The token limit's window and its meter, only where the policy has `llm-token-limit`: a
   * relay that never counts a token loads no tokenizer (src/protocol/bpe.ts adds 17 MB, of
   * which 4.4 MB are ranks outside the JS heap; gpt-tokenizer's were 30 MB of heap, which
   * lengthened every GC pause).
   */
  tokens: { window: TokenWindow; meter: typeof UsageMeter } | undefined;
  stats: { requests: number; forwarded: number; cancelledUpstream: number; retried: number };
  /**
   * What a retry condition reads when forward-request could not reach the backend (connection
   * refused or reset, no answer in time): the status code it is evaluated with, reason
   * `BackendConnectionFailure`; undefined: such a failure is never retried. Microsoft does not
   * document what context.Response holds then; the default (503, what APIM answers for an
   * unavailable backend) lets the AI-Gateway failover conditions move to the next backend.
   */
  unreachableRetryStatus: number | undefined;
  /** Called once per request when its response ends, like a line of APIM's GatewayLogs. */
  accessLog?: ((entry: GatewayLogEntry) => void) | undefined;
}

const headerValue = (value: string | string[] | number | undefined): string | null =>
  value === undefined ? null : String(Array.isArray(value) ? value[0] : value);

/** The API's URL suffix: APIM serves the lab's API at `/openai`, nothing else. */
const API_PREFIX = '/openai/';
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'host',
  'content-length',
]);
/** Only used to parse request targets; the gateway forwards to its backends' URLs only. */
const PARSE_BASE = 'http://gateway.invalid';

/** One request through the gateway: inbound policies, forward (with retry), outbound policies, relay. */
export async function handleProxyRequest(
  config: ProxyConfig,
  pool: UpstreamPool,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  config.stats.requests++;
  const target = req.url ?? '/';
  const logged = config.accessLog ? logOnClose(config.accessLog, req, res) : undefined;
  if (!target.startsWith('/')) return writeGatewayError(res, 400, MESSAGES.badTarget);
  const url = new URL(target, PARSE_BASE);
  if (!url.pathname.startsWith(API_PREFIX) || url.origin !== PARSE_BASE)
    return writeGatewayError(res, 404, MESSAGES.notFound);
  const refusal = checkSubscription(config, req, url);
  if (refusal !== undefined) return writeGatewayError(res, 401, refusal);

  let raw: Buffer;
  try {
    raw = await readBody(req, config.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError)
      return writeGatewayError(res, 413, MESSAGES.tooLarge(config.maxBodyBytes), { connection: 'close' });
    throw error;
  }
  const body = parseJsonObject(raw);
  const isStream = body?.['stream'] === true;
  const { tokens } = config;
  const promptTokens = tokens ? tokens.meter.estimatePromptTokens(body) : 0;
  const isPromptEstimated = isStream || config.policy.tokenLimit?.estimatePromptTokens === true;
  let remainingTokens: number | undefined;
  if (tokens) {
    const admission = tokens.window.admit(promptTokens, isPromptEstimated);
    if (!admission.isAllowed) {
      return writeGatewayError(res, 429, MESSAGES.tokenLimit(admission.retryAfterSec), {
        [config.policy.tokenLimit!.retryAfterHeaderName]: String(admission.retryAfterSec),
      });
    }
    remainingTokens = admission.remainingTokens;
  }

  const bridged = bridgedDeployment(url.pathname, body);
  // The buffered request body (forward-request buffer-request-body="true") is what every attempt sends.
  const upstreamBody =
    bridged !== undefined && body ? Buffer.from(JSON.stringify(toResponsesRequest(body, bridged))) : raw;
  // The operation's path below the API's URL suffix, appended to the backend's URL as APIM does.
  // A bridged request goes to the v1 Responses route, which takes no dated api-version.
  const operation =
    bridged !== undefined
      ? BRIDGE_UPSTREAM_PATH.slice(API_PREFIX.length - 1)
      : url.pathname.slice(API_PREFIX.length - 1) + url.search;
  const ctx: RelayContext = {
    bridged,
    requestedModel: String(body?.['model'] ?? bridged ?? ''),
    includeUsage: includesUsage(body),
    promptTokens,
    isPromptEstimated,
    remainingTokens,
  };

  let abortCurrent: (() => void) | undefined;
  let isClientGone = false;
  // The client left before the response ended: cancel the backend request, as APIM does.
  res.on('close', () => {
    isClientGone = !res.writableFinished;
    if (isClientGone && abortCurrent !== undefined) {
      config.stats.cancelledUpstream++;
      abortCurrent();
      abortCurrent = undefined;
    }
  });
  const retry = config.policy.retry;
  for (let attempt = 1; !isClientGone; attempt++) {
    const mayRetry = retry !== undefined && attempt <= retry.count;
    const choice = config.router.select(config.backendId);
    if (choice.kind === 'unavailable') {
      logged?.attempt({ backend: null, status: 503 });
      if (mayRetry && retry.condition({ statusCode: 503, statusReason: choice.message })) {
        await nextAttempt(config, retry, attempt);
        continue;
      }
      return writeGatewayError(res, 503, choice.message);
    }
    const attemptRequest = pool.request(
      backendUrl(choice.url, operation),
      req.method ?? 'POST',
      forwardHeaders(config, req.headers, choice.url, upstreamBody.length),
      upstreamBody,
      config.policy.timeoutMs,
    );
    abortCurrent = attemptRequest.abort;
    config.stats.forwarded++;
    const outcome = await attemptRequest.exchange;
    if (outcome.kind === 'response') {
      const upstreamRes = outcome.response;
      const status = upstreamRes.statusCode;
      config.router.observe(choice.name, status, upstreamRes.headers);
      logged?.attempt({ backend: choice.name, status });
      if (isClientGone) return void upstreamRes.destroy();
      // A retry is only possible before the response headers reach the client.
      if (mayRetry && retry.condition({ statusCode: status, statusReason: upstreamRes.statusMessage })) {
        upstreamRes.discard();
        await nextAttempt(config, retry, attempt);
        continue;
      }
      logged?.reachedBackend(upstreamRes.headers);
      return relayResponse(config, upstreamRes, res, ctx);
    }
    logged?.attempt({ backend: choice.name, status: null });
    if (isClientGone) return;
    // Unreachable: counted by a breaker that lists error reasons, retried as configured.
    config.router.observeUnreachable(choice.name);
    if (
      mayRetry &&
      config.unreachableRetryStatus !== undefined &&
      retry.condition({ statusCode: config.unreachableRetryStatus, statusReason: 'BackendConnectionFailure' })
    ) {
      await nextAttempt(config, retry, attempt);
      continue;
    }
    if (outcome.kind === 'timeout') return writeGatewayError(res, 504, MESSAGES.timeout(config.policy.timeoutMs));
    return writeGatewayError(res, 502, MESSAGES.backendFailed(outcome.reason));
  }
}

async function nextAttempt(config: ProxyConfig, retry: RetryRule, attempt: number): Promise<void> {
  config.stats.retried++;
  const wait = retryDelayMs(retry, attempt);
  if (wait > 0) await sleep(wait);
}

/** The backend's URL (which may carry a path, such as `https://x.openai.azure.com/openai`) with the operation appended. */
function backendUrl(base: URL, operation: string): URL {
  return new URL(base.pathname.replace(/\/+$/, '') + operation, base.origin);
}

interface RelayContext {
  bridged: string | undefined;
  requestedModel: string;
  includeUsage: boolean;
  promptTokens: number;
  isPromptEstimated: boolean;
  remainingTokens: number | undefined;
}

function relayResponse(
  config: ProxyConfig,
  upstreamRes: UpstreamResponse,
  res: ServerResponse,
  ctx: RelayContext,
): void {
  const isEventStream = String(upstreamRes.headers['content-type'] ?? '').startsWith('text/event-stream');
  const translates = ctx.bridged !== undefined && upstreamRes.statusCode < 400;
  const headers = responseHeaders(config, upstreamRes.headers, !translates);
  if (ctx.remainingTokens !== undefined && config.policy.tokenLimit?.remainingTokensHeaderName)
    headers[config.policy.tokenLimit.remainingTokensHeaderName] = String(ctx.remainingTokens);
  try {
    res.writeHead(upstreamRes.statusCode, headers);
  } catch (error) {
    // A header Node refuses (the policy's are checked at start): the client gets the gateway's 500, the backend's response is dropped.
    upstreamRes.destroy();
    throw error;
  }
  res.flushHeaders();
  // (Close first: a backend that drops the stream mid-way drops the client too, rather than end it cleanly.)
  upstreamRes.on('close', () => {
    if (!upstreamRes.complete) res.destroy();
  });
  if (passesThrough(config, upstreamRes, res, translates)) return passThrough(upstreamRes, res, res.socket!);

  const relay = createRelay(res, config.policy.bufferResponse, config.policy.readsResponseBody);
  const { tokens } = config;
  const meter = tokens && isEventStream ? tokens.meter.createStreamMeter() : undefined;
  const bridge =
    translates && isEventStream
      ? createStreamBridge({ includeUsage: ctx.includeUsage, requestedModel: ctx.requestedModel })
      : undefined;
  const whole: Buffer[] = [];
  const mustCollect = !isEventStream && (translates || tokens !== undefined);
  upstreamRes.on('data', (chunk: Buffer) => {
    meter?.push(chunk);
    if (mustCollect) return void whole.push(chunk);
    const out = bridge ? bridge.push(chunk) : chunk;
    if (out.length > 0 && !relay.write(out)) {
      upstreamRes.pause();
      res.once('drain', () => upstreamRes.resume());
    }
  });
  upstreamRes.on('end', () => {
    const collected = mustCollect ? Buffer.concat(whole).toString('utf8') : '';
    if (meter) tokens?.window.charge(meter.completionTokens());
    else if (tokens) {
      const usage = tokens.meter.usageOf(collected);
      tokens.window.charge(
        (usage?.completionTokens ?? 0) + (ctx.isPromptEstimated ? 0 : (usage?.promptTokens ?? ctx.promptTokens)),
      );
    }
    if (bridge) relay.write(bridge.end());
    else if (mustCollect) relay.write(translates ? bridgeBody(collected, ctx.requestedModel) : collected);
    relay.end();
  });
  upstreamRes.resume();
}

/**
 * Whether the backend's chunks can go to the client as they came: no policy reads or holds
 * the body (no bridge, no token count, `buffer-response="false"`), both sides are chunked,
 * and the response owns its socket (its head is on it: not a pipelined response still queued).
 */
function passesThrough(
  config: ProxyConfig,
  upstreamRes: UpstreamResponse,
  res: ServerResponse,
  translates: boolean,
): boolean {
  if (translates || config.tokens !== undefined || config.policy.bufferResponse || config.policy.readsResponseBody)
    return false;
  return upstreamRes.isChunked && res.chunkedEncoding && res.socket !== null && !res.socket.destroyed;
}

/**
 * The relay without re-framing: each read from the backend (whole HTTP/1.1 chunks, or parts
 * of them) is written to the client's socket as it is. The terminating chunk is the one
 * `res.end()` writes, so Node's bookkeeping of the response (finish, keep-alive) stays its own.
 */
function passThrough(
  upstreamRes: UpstreamResponse,
  res: ServerResponse,
  socket: NonNullable<ServerResponse['socket']>,
): void {
  upstreamRes.readRaw();
  upstreamRes.on('data', (bytes: Buffer) => {
    if (!socket.write(bytes)) {
      upstreamRes.pause();
      socket.once('drain', () => upstreamRes.resume());
    }
  });
  upstreamRes.on('end', () => res.end());
  upstreamRes.resume();
}

/** A non-streamed Responses body as a chat.completion; a body that is not JSON is relayed as it came, never a crash. */
function bridgeBody(collected: string, requestedModel: string): string {
  try {
    return JSON.stringify(toChatCompletion(JSON.parse(collected), requestedModel));
  } catch {
    return collected;
  }
}

function checkSubscription(config: ProxyConfig, req: IncomingMessage, url: URL): string | undefined {
  if (config.subscriptionKeys.length === 0) return undefined;
  const header = req.headers[config.subscriptionKeyHeader];
  const given =
    (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get(config.subscriptionKeyQuery) ?? undefined;
  if (given === undefined || given === '') return MESSAGES.missingKey;
  const candidate = Buffer.from(given);
  const isValid = config.subscriptionKeys.some((key) => {
    const expected = Buffer.from(key);
    return expected.length === candidate.length && timingSafeEqual(expected, candidate);
  });
  if (!isValid) return MESSAGES.invalidKey;
  // APIM does not forward the subscription key to the backend.
  url.searchParams.delete(config.subscriptionKeyQuery);
  return undefined;
}

function forwardHeaders(
  config: ProxyConfig,
  incoming: IncomingHttpHeaders,
  backend: URL,
  bodyBytes: number,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && name !== config.subscriptionKeyHeader) out[name] = value;
  }
  out['host'] = backend.host;
  out['content-length'] = String(bodyBytes);
  if (config.policy.usesManagedIdentity && config.backendKey !== undefined) out['api-key'] = config.backendKey;
  applyHeaderRules(out, config.policy.inboundHeaders);
  return out;
}

function responseHeaders(config: ProxyConfig, incoming: IncomingHttpHeaders, keepLength: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  if (keepLength && incoming['content-length'] !== undefined) out['content-length'] = incoming['content-length'];
  applyHeaderRules(out, config.policy.outboundHeaders);
  return out;
}

/** `set-header` with APIM's exists-action semantics. */
export function applyHeaderRules(headers: OutgoingHttpHeaders, rules: readonly HeaderRule[]): void {
  for (const rule of rules) {
    const existing = headers[rule.name];
    switch (rule.existsAction) {
      case 'delete':
        delete headers[rule.name];
        break;
      case 'skip':
        if (existing === undefined) headers[rule.name] = rule.values.length === 1 ? rule.values[0] : rule.values;
        break;
      case 'append':
        headers[rule.name] = [
          ...(existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]),
          ...rule.values,
        ];
        break;
      case 'override':
        headers[rule.name] = rule.values.length === 1 ? rule.values[0] : rule.values;
    }
  }
}

function includesUsage(body: Record<string, unknown> | undefined): boolean {
  const options = body?.['stream_options'];
  return (
    options !== null && typeof options === 'object' && (options as Record<string, unknown>)['include_usage'] === true
  );
}

function parseJsonObject(raw: Buffer): Record<string, unknown> | undefined {
  if (raw.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** What the access log is told as a request goes: each attempt, and the backend response that was relayed. */
interface RequestLog {
  attempt(result: { backend: string | null; status: number | null }): void;
  reachedBackend(headers: IncomingHttpHeaders): void;
}

/** Logs the request when its response closes; `attempt` records each forward (backend, status, time), `reachedBackend` the relayed response's ids. */
function logOnClose(log: (entry: GatewayLogEntry) => void, req: IncomingMessage, res: ServerResponse): RequestLog {
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 100) / 100;
  let backendTimeMs: number | null = null;
  let backend: IncomingHttpHeaders = {};
  const attempts: GatewayAttempt[] = [];
  res.once('close', () => {
    log({
      event: 'request',
      time: new Date().toISOString(),
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://gateway').pathname,
      responseCode: res.statusCode,
      clientRequestId: headerValue(req.headers['x-ms-client-request-id']),
      backendRequestId: headerValue(backend['x-request-id']),
      apimRequestId: headerValue(backend['apim-request-id']),
      backendId: attempts.at(-1)?.backend ?? null,
      attempts,
      backendTimeMs,
      totalTimeMs: elapsed(),
      isCancelled: !res.writableFinished,
    });
  });
  return {
    attempt(result) {
      attempts.push({ ...result, timeMs: elapsed() });
    },
    reachedBackend(headers) {
      backendTimeMs = elapsed();
      backend = headers;
    },
  };
}
