import { Agent, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { BodyTooLargeError, readBody } from '../http-adapter.ts';
import { BRIDGE_UPSTREAM_PATH, bridgedDeployment, createStreamBridge, toChatCompletion, toResponsesRequest } from './bridge.ts';
import { MESSAGES, writeGatewayError } from './gateway-errors.ts';
import type { GatewayPolicy, HeaderRule } from './policy.ts';
import { createRelay } from './relay.ts';
import type { TokenWindow } from './token-limit.ts';
import type { GatewayLogEntry } from '../../src/protocol/gateway-log.ts';
import { createStreamMeter, estimatePromptTokens, usageOf } from './usage-meter.ts';

export interface ProxyConfig {
  policy: GatewayPolicy;
  /** The one backend this gateway forwards to (origin, e.g. `http://127.0.0.1:41234`). */
  backend: URL;
  /** Sent as `api-key` to the backend where the policy uses `authentication-managed-identity`. */
  backendKey: string | undefined;
  /** Valid subscription keys; empty means the API does not require a subscription. */
  subscriptionKeys: readonly string[];
  /** The lab's API: subscription key in this header or query parameter (APIM's subscriptionKeyParameterNames). */
  subscriptionKeyHeader: string;
  subscriptionKeyQuery: string;
  maxBodyBytes: number;
  tokenWindow: TokenWindow | undefined;
  stats: { requests: number; forwarded: number; cancelledUpstream: number };
  /** Called once per request when its response ends, like a line of APIM's GatewayLogs. */
  accessLog?: ((entry: GatewayLogEntry) => void) | undefined;
}

const headerValue = (value: string | string[] | number | undefined): string | null => (value === undefined ? null : String(Array.isArray(value) ? value[0] : value));

/** The API's URL suffix: APIM serves the lab's API at `/openai`, nothing else. */
const API_PREFIX = '/openai/';
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate', 'host', 'content-length']);

/** One request through the gateway: inbound policies, forward, outbound policies, relay. */
export async function handleProxyRequest(config: ProxyConfig, agent: Agent, req: IncomingMessage, res: ServerResponse): Promise<void> {
  config.stats.requests++;
  const target = req.url ?? '/';
  const logged = config.accessLog ? logOnClose(config.accessLog, req, res) : undefined;
  if (!target.startsWith('/')) return writeGatewayError(res, 400, MESSAGES.badTarget);
  const url = new URL(target, config.backend);
  if (!url.pathname.startsWith(API_PREFIX) || url.origin !== config.backend.origin) return writeGatewayError(res, 404, MESSAGES.notFound);
  const refusal = checkSubscription(config, req, url);
  if (refusal !== undefined) return writeGatewayError(res, 401, refusal);

  let raw: Buffer;
  try {
    raw = await readBody(req, config.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return writeGatewayError(res, 413, MESSAGES.tooLarge(config.maxBodyBytes), { connection: 'close' });
    throw error;
  }
  const body = parseJsonObject(raw);
  const isStream = body?.['stream'] === true;
  const promptTokens = config.tokenWindow ? estimatePromptTokens(body) : 0;
  const isPromptEstimated = isStream || config.policy.tokenLimit?.estimatePromptTokens === true;
  let remainingTokens: number | undefined;
  if (config.tokenWindow) {
    const admission = config.tokenWindow.admit(promptTokens, isPromptEstimated);
    if (!admission.isAllowed) {
      return writeGatewayError(res, 429, MESSAGES.tokenLimit(admission.retryAfterSec), { [config.policy.tokenLimit!.retryAfterHeaderName]: String(admission.retryAfterSec) });
    }
    remainingTokens = admission.remainingTokens;
  }

  const bridged = bridgedDeployment(url.pathname, body);
  const upstreamBody = bridged !== undefined && body ? Buffer.from(JSON.stringify(toResponsesRequest(body, bridged))) : raw;
  const upstreamPath = bridged !== undefined ? BRIDGE_UPSTREAM_PATH : url.pathname + url.search;
  const headers = forwardHeaders(config, req.headers, upstreamBody.length);

  const upstream = httpRequest(new URL(upstreamPath, config.backend), { method: req.method, headers, agent });
  // Every frame is a small write; Nagle would hold one back for the backend's delayed ACK.
  upstream.setNoDelay(true);
  config.stats.forwarded++;
  const headersTimer = setTimeout(() => {
    upstream.destroy();
    writeGatewayError(res, 504, MESSAGES.timeout(config.policy.timeoutMs));
  }, config.policy.timeoutMs);
  // The client left before the response ended: cancel the backend request, as APIM does.
  res.on('close', () => {
    clearTimeout(headersTimer);
    if (!res.writableFinished && !upstream.destroyed) {
      config.stats.cancelledUpstream++;
      upstream.destroy();
    }
  });
  upstream.on('error', (error) => {
    clearTimeout(headersTimer);
    if (!res.headersSent) writeGatewayError(res, 502, MESSAGES.backendFailed((error as NodeJS.ErrnoException).code ?? error.message));
    else res.destroy();
  });
  upstream.on('response', (upstreamRes) => {
    clearTimeout(headersTimer);
    if (res.destroyed) return upstreamRes.destroy();
    logged?.reachedBackend(upstreamRes.headers);
    relayResponse(config, upstreamRes, res, { bridged, requestedModel: String(body?.['model'] ?? bridged ?? ''), includeUsage: includesUsage(body), promptTokens, isPromptEstimated, remainingTokens });
  });
  upstream.end(upstreamBody);
}

interface RelayContext {
  bridged: string | undefined;
  requestedModel: string;
  includeUsage: boolean;
  promptTokens: number;
  isPromptEstimated: boolean;
  remainingTokens: number | undefined;
}

function relayResponse(config: ProxyConfig, upstreamRes: IncomingMessage, res: ServerResponse, ctx: RelayContext): void {
  const isEventStream = (upstreamRes.headers['content-type'] ?? '').startsWith('text/event-stream');
  const translates = ctx.bridged !== undefined && (upstreamRes.statusCode ?? 500) < 400;
  const headers = responseHeaders(config, upstreamRes.headers, !translates);
  if (ctx.remainingTokens !== undefined && config.policy.tokenLimit?.remainingTokensHeaderName) headers[config.policy.tokenLimit.remainingTokensHeaderName] = String(ctx.remainingTokens);
  res.writeHead(upstreamRes.statusCode ?? 502, headers);
  res.flushHeaders();

  const relay = createRelay(res, config.policy.bufferResponse, config.policy.readsResponseBody);
  const meter = config.tokenWindow && isEventStream ? createStreamMeter() : undefined;
  const bridge = translates && isEventStream ? createStreamBridge({ includeUsage: ctx.includeUsage, requestedModel: ctx.requestedModel }) : undefined;
  const whole: Buffer[] = [];
  const mustCollect = !isEventStream && (translates || config.tokenWindow !== undefined);
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
    if (meter) config.tokenWindow?.charge(meter.completionTokens());
    else if (config.tokenWindow) {
      const usage = usageOf(collected);
      config.tokenWindow.charge((usage?.completionTokens ?? 0) + (ctx.isPromptEstimated ? 0 : (usage?.promptTokens ?? ctx.promptTokens)));
    }
    if (bridge) relay.write(bridge.end());
    else if (mustCollect) relay.write(translates ? bridgeBody(collected, ctx.requestedModel) : collected);
    relay.end();
  });
  // The backend dropped the stream mid-way: drop the client too, rather than end it cleanly.
  upstreamRes.on('close', () => {
    if (!upstreamRes.complete) res.destroy();
  });
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
  const given = (Array.isArray(header) ? header[0] : header) ?? url.searchParams.get(config.subscriptionKeyQuery) ?? undefined;
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

function forwardHeaders(config: ProxyConfig, incoming: IncomingHttpHeaders, bodyBytes: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && name !== config.subscriptionKeyHeader) out[name] = value;
  }
  out['host'] = config.backend.host;
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
        headers[rule.name] = [...(existing === undefined ? [] : Array.isArray(existing) ? existing : [String(existing)]), ...rule.values];
        break;
      case 'override':
        headers[rule.name] = rule.values.length === 1 ? rule.values[0] : rule.values;
    }
  }
}

function includesUsage(body: Record<string, unknown> | undefined): boolean {
  const options = body?.['stream_options'];
  return options !== null && typeof options === 'object' && (options as Record<string, unknown>)['include_usage'] === true;
}

function parseJsonObject(raw: Buffer): Record<string, unknown> | undefined {
  if (raw.length === 0) return undefined;
  try {
    const value: unknown = JSON.parse(raw.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Logs the request when its response closes; `reachedBackend` marks the backend's response headers and takes its ids. */
function logOnClose(log: (entry: GatewayLogEntry) => void, req: IncomingMessage, res: ServerResponse): { reachedBackend(headers: IncomingHttpHeaders): void } {
  const started = performance.now();
  let backendTimeMs: number | null = null;
  let backend: IncomingHttpHeaders = {};
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
      backendTimeMs,
      totalTimeMs: Math.round((performance.now() - started) * 100) / 100,
      isCancelled: !res.writableFinished,
    });
  });
  return {
    reachedBackend(headers) {
      backendTimeMs = Math.round((performance.now() - started) * 100) / 100;
      backend = headers;
    },
  };
}
