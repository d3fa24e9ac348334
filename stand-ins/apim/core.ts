import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { setTimeout as realSleep } from 'node:timers/promises';
import { InvalidOptionError } from '../../src/errors.ts';
import { parseBackends, type BackendTable } from '../../src/protocol/index.ts';
import type { GatewayAttempt, GatewayLogEntry } from '../../src/protocol/gateway-log.ts';
import { BodyTooLargeError } from '../read-body.ts';
import { BackendRouter } from './backend-router.ts';
import { holdMode, ResponseHold } from './buffer-response.ts';
import { gatewayError, MESSAGES } from './gateway-errors.ts';
import { retryDelayMs, type GatewayPolicy, type HeaderRule, type RetryRule } from './policy.ts';
import {
  BRIDGE_UPSTREAM_PATH,
  bridgedDeployment,
  createStreamBridge,
  toChatCompletion,
  toResponsesRequest,
} from './responses-bridge.ts';
import { TokenWindow } from './token-limit.ts';
import type * as UsageMeter from './usage-meter.ts';

/*
 * The gateway's core: one request in, one response out, in process. Every decision the local
 * APIM makes is here: the request target, subscription keys, the body limit, the token limit,
 * the backend (pools, circuit breakers), the retry and its waits, the forward timeout, what an
 * unreachable backend becomes, the response headers, how the body is held, bridged and metered,
 * the gateway's own error bodies and the access-log entry. The backend is an `Upstream` (the
 * gateway's HTTP/1.1 client, `UpstreamPool`, or a test's fake), and the node:http server
 * (`proxy.ts`) only turns a socket's request into a `GatewayRequest` and writes the
 * `GatewayResponse` back, the raw pass-through included.
 */

/** The backend id the lab's policies name (`set-backend-service backend-id="openai-backend"`). */
export const LAB_BACKEND_ID = 'openai-backend';
export const GATEWAY_HEALTH_PATH = '/_gateway/health';
/** APIM v2 tiers buffer at most 2 MiB of payload; the lab's gateway refuses larger bodies. */
export const DEFAULT_GATEWAY_MAX_BODY_BYTES = 2 * 1024 * 1024;
/** What a retry condition reads, by default, when the backend could not be reached (see GatewayConfig.unreachableRetryStatus). */
export const DEFAULT_UNREACHABLE_RETRY_STATUS = 503;

// ---------------------------------------------------------------------------------------------
// The core's request and response

/** A client's request, as plain values. */
export interface GatewayRequest {
  method: string;
  /** The request target as the client sent it: only origin-form (`/openai/…`) is served. */
  url: string;
  /** Header names in lower case, as node:http gives them. */
  headers: IncomingHttpHeaders;
  /**
   * The body's bytes, or a reader the core calls once the request has passed the subscription
   * check, with the size limit; it rejects with `BodyTooLargeError` (stand-ins/read-body.ts)
   * past it, and the core answers 413.
   */
  body: Uint8Array | ((maxBytes: number) => Promise<Uint8Array>);
  /** Aborted when the client leaves before its response has ended: the backend request is cancelled. */
  signal: AbortSignal;
}

/** The response for the client. */
export interface GatewayResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  /**
   * Bytes (an answer of the gateway's own), or the backend's body as the client should get it
   * (held in blocks, bridged, as the policy says). Iterating it reads the backend; leaving the
   * loop early (or `return()` on its iterator) cancels the backend's response. An error thrown
   * while iterating is the backend's stream cut short: the client's response must be cut too,
   * not ended cleanly.
   */
  body: Buffer | AsyncIterable<Buffer>;
  /**
   * Offered when no policy reads or holds the body (no token limit, no bridge,
   * `buffer-response="false"`, no body-reading outbound policy) and the backend's body is
   * chunked on the wire: an adapter whose client side is chunked too may relay those bytes as
   * they came, instead of iterating `body` (docs/decisions/0009).
   */
  wire: ChunkedWire | undefined;
  /**
   * Called by whoever delivers the response once it has closed (written to its end, or the
   * client left): the access-log entry is written then, and a backend response still open is
   * dropped. Defaults: cancelled when the request's signal was aborted, response code `status`.
   */
  done(outcome?: { isCancelled?: boolean; responseCode?: number }): void;
}

// ---------------------------------------------------------------------------------------------
// The upstream, as the core sees it

export interface UpstreamRequest {
  /** The backend's URL with the operation's path (and query) appended. */
  url: URL;
  method: string;
  /** What to send, host and content-length included. */
  headers: OutgoingHttpHeaders;
  body: Buffer;
  /** Aborted when the attempt is given up (the forward timeout, the client left): drop the request and its response. */
  signal: AbortSignal;
}

export interface UpstreamReply {
  status: number;
  /** The status line's reason phrase (what `context.Response.StatusReason` reads). */
  statusText?: string;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
}

/** A backend's response body: its decoded pieces; an error while iterating is the body cut short. */
export interface UpstreamBody extends AsyncIterable<Buffer> {
  /** The body's bytes as they came off the wire, when it is `Transfer-Encoding: chunked` (the gateway's own client offers it). */
  readonly wire?: ChunkedWire | undefined;
}

/**
 * The backend side of the gateway. `send` resolves once the response head has arrived; when no
 * head comes (connection refused or reset, a certificate refused) it rejects with
 * `BackendUnreachable` naming the failure. The forward timeout is the core's: it aborts
 * `request.signal`. Any other rejection is the gateway's own failure (a 500).
 */
export interface Upstream {
  send(request: UpstreamRequest): Promise<UpstreamReply>;
}

/** The backend could not be reached: no response head. `reason` is the failure's code (ECONNREFUSED, ECONNRESET, …). */
export class BackendUnreachable extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`backend unreachable: ${reason}`);
    this.name = 'BackendUnreachable';
    this.reason = reason;
  }
}

/** A chunked body's wire bytes (chunk framing included, the terminating chunk excluded: the client side writes its own). */
export interface ChunkedWire {
  /** Starts the flow to `sink`; call before anything iterates the body. */
  relay(sink: WireSink): void;
}

export interface WireSink {
  /** Returns false when the client is slow: the flow pauses until the callback given to `onDrain` runs. */
  write(bytes: Buffer): boolean;
  onDrain(resume: () => void): void;
  /** The body came whole. */
  end(): void;
  /** The backend's stream ended before the body did. */
  cut(): void;
}

// ---------------------------------------------------------------------------------------------
// Configuration

export interface GatewayCoreOptions {
  policy: GatewayPolicy;
  /** The one backend's origin (the mock, or any Azure OpenAI-compatible origin), as `openai-backend`; or give `backends`. */
  backendUrl?: string | undefined;
  /** APIM backends (a backends file): singles, pools, circuit breakers. */
  backends?: BackendTable | undefined;
  /** URLs for the table's single backends, by name (over the file's; required where the file has none). */
  backendUrls?: Readonly<Record<string, string>>;
  /** The circuit breakers' clock (ms); tests pass a fake one. */
  now?: () => number;
  /** The retry's back-off wait (default a real timer); tests pass one that records the waits. */
  sleep?: (ms: number) => Promise<void>;
  backendKey?: string | undefined;
  subscriptionKeys?: readonly string[];
  maxBodyBytes?: number;
  /** The token limit's window (default a minute; labs compress it). */
  tokenWindowMs?: number;
  /** One entry per request (the CLI writes them to stdout as JSON lines). */
  accessLog?: ((entry: GatewayLogEntry) => void) | undefined;
  /** The status a retry condition reads for an unreachable backend (default 503); null: never retried (GatewayConfig). */
  unreachableRetryStatus?: number | null;
}

export interface GatewayStats {
  requests: number;
  forwarded: number;
  cancelledUpstream: number;
  retried: number;
}

export interface GatewayConfig {
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
  /**
   * What a retry condition reads when forward-request could not reach the backend (connection
   * refused or reset, no answer in time): the status code it is evaluated with, reason
   * `BackendConnectionFailure`; undefined: such a failure is never retried. Microsoft does not
   * document what context.Response holds then; the default (503, what APIM answers for an
   * unavailable backend) lets the AI-Gateway failover conditions move to the next backend.
   */
  unreachableRetryStatus: number | undefined;
  /** Called once per request when its response ends, like a line of APIM's GatewayLogs. */
  accessLog: ((entry: GatewayLogEntry) => void) | undefined;
  sleep: (ms: number) => Promise<void>;
}

/** The gateway's core for these options, forwarding to `upstream`. Throws InvalidOptionError for backends the policy cannot use. */
export async function createGatewayCore(options: GatewayCoreOptions, upstream: Upstream): Promise<GatewayCore> {
  const { router, backendId } = resolveBackends(options);
  return new GatewayCore(
    {
      policy: options.policy,
      router,
      backendId,
      backendKey: options.backendKey,
      subscriptionKeys: options.subscriptionKeys ?? [],
      subscriptionKeyHeader: 'api-key',
      subscriptionKeyQuery: 'api-key',
      maxBodyBytes: options.maxBodyBytes ?? DEFAULT_GATEWAY_MAX_BODY_BYTES,
      tokens: options.policy.tokenLimit
        ? {
            window: new TokenWindow(options.policy.tokenLimit, undefined, options.tokenWindowMs),
            meter: await import('./usage-meter.ts'),
          }
        : undefined,
      accessLog: options.accessLog,
      unreachableRetryStatus:
        options.unreachableRetryStatus === null
          ? undefined
          : (options.unreachableRetryStatus ?? DEFAULT_UNREACHABLE_RETRY_STATUS),
      sleep: options.sleep ?? ((ms) => realSleep(ms)),
    },
    upstream,
  );
}

// ---------------------------------------------------------------------------------------------
// The core

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
/** What a response for a client that has left says; nobody reads it. */
const CLIENT_GONE_STATUS = 499;

interface RelayContext {
  bridged: string | undefined;
  requestedModel: string;
  includeUsage: boolean;
  promptTokens: number;
  isPromptEstimated: boolean;
  remainingTokens: number | undefined;
}

type Forwarded =
  | { kind: 'response'; reply: UpstreamReply }
  | { kind: 'timeout' }
  | { kind: 'unreachable'; reason: string };

/** One request's state: the client's signal, the attempt in flight, its log. */
interface Exchange {
  signal: AbortSignal;
  /** The attempt in flight (or the one whose response is being relayed). */
  attempt: AbortController | undefined;
  log: RequestLog | undefined;
}

/** One request through the gateway: inbound policies, forward (with retry), outbound policies, relay. */
export class GatewayCore {
  readonly config: GatewayConfig;
  readonly upstream: Upstream;
  readonly stats: GatewayStats = { requests: 0, forwarded: 0, cancelledUpstream: 0, retried: 0 };

  constructor(config: GatewayConfig, upstream: Upstream) {
    this.config = config;
    this.upstream = upstream;
  }

  /** Never rejects: a failure of the gateway itself is a 500 in APIM's shape. */
  async handle(request: GatewayRequest): Promise<GatewayResponse> {
    if (request.url === GATEWAY_HEALTH_PATH) {
      const body = Buffer.from(JSON.stringify({ ok: true, ...this.stats }));
      return { status: 200, headers: { 'content-type': 'application/json' }, body, wire: undefined, done() {} };
    }
    this.stats.requests++;
    const exchange: Exchange = {
      signal: request.signal,
      attempt: undefined,
      log: this.config.accessLog ? new RequestLog(this.config.accessLog, request) : undefined,
    };
    // The client left before the response ended: cancel the backend request, as APIM does.
    request.signal.addEventListener(
      'abort',
      () => {
        if (exchange.attempt === undefined) return;
        this.stats.cancelledUpstream++;
        exchange.attempt.abort();
      },
      { once: true },
    );
    let answer: Answer;
    try {
      answer = await this.#handle(request, exchange);
    } catch (error) {
      answer = gatewayError(500, MESSAGES.gatewayFailure(error));
    }
    const { log } = exchange;
    return {
      wire: undefined,
      ...answer,
      done(outcome = {}) {
        // The backend's response is released, whether or not its body was read (a response the
        // adapter could not write, say); one read to its end is unaffected.
        exchange.attempt?.abort();
        log?.write(outcome.responseCode ?? answer.status, outcome.isCancelled ?? request.signal.aborted);
      },
    };
  }

  async #handle(request: GatewayRequest, exchange: Exchange): Promise<Answer> {
    const { config } = this;
    const target = request.url;
    if (!target.startsWith('/')) return gatewayError(400, MESSAGES.badTarget);
    const url = new URL(target, PARSE_BASE);
    if (!url.pathname.startsWith(API_PREFIX) || url.origin !== PARSE_BASE) return gatewayError(404, MESSAGES.notFound);
    const refusal = checkSubscription(config, request.headers, url);
    if (refusal !== undefined) return gatewayError(401, refusal);

    let raw: Buffer;
    try {
      raw = await readRequestBody(request.body, config.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError)
        return gatewayError(413, MESSAGES.tooLarge(config.maxBodyBytes), { connection: 'close' });
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
        return gatewayError(429, MESSAGES.tokenLimit(admission.retryAfterSec), {
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

    const { log, signal } = exchange;
    const retry = config.policy.retry;
    for (let attempt = 1; !signal.aborted; attempt++) {
      const mayRetry = retry !== undefined && attempt <= retry.count;
      const choice = config.router.select(config.backendId);
      if (choice.kind === 'unavailable') {
        log?.attempt(null, 503);
        if (mayRetry && retry.condition({ statusCode: 503, statusReason: choice.message })) {
          await this.#nextAttempt(retry, attempt);
          continue;
        }
        return gatewayError(503, choice.message);
      }
      const outcome = await this.#forward(exchange, {
        url: backendUrl(choice.url, operation),
        method: request.method || 'POST',
        headers: forwardHeaders(config, request.headers, choice.url, upstreamBody.length),
        body: upstreamBody,
      });
      if (outcome.kind === 'response') {
        const { reply } = outcome;
        const status = reply.status;
        config.router.observe(choice.name, status, reply.headers);
        log?.attempt(choice.name, status);
        if (signal.aborted) {
          cancelBody(reply.body);
          break;
        }
        // A retry is only possible before the response headers reach the client.
        if (mayRetry && retry.condition({ statusCode: status, statusReason: reply.statusText ?? '' })) {
          discardBody(reply.body);
          await this.#nextAttempt(retry, attempt);
          continue;
        }
        log?.reachedBackend(reply.headers);
        return this.#relay(reply, ctx);
      }
      log?.attempt(choice.name, null);
      if (signal.aborted) break;
      // Unreachable: counted by a breaker that lists error reasons, retried as configured.
      config.router.observeUnreachable(choice.name);
      if (
        mayRetry &&
        config.unreachableRetryStatus !== undefined &&
        retry.condition({ statusCode: config.unreachableRetryStatus, statusReason: 'BackendConnectionFailure' })
      ) {
        await this.#nextAttempt(retry, attempt);
        continue;
      }
      if (outcome.kind === 'timeout') return gatewayError(504, MESSAGES.timeout(config.policy.timeoutMs));
      return gatewayError(502, MESSAGES.backendFailed(outcome.reason));
    }
    // The client has left: nothing will be written.
    return { status: CLIENT_GONE_STATUS, headers: {}, body: Buffer.alloc(0) };
  }

  async #nextAttempt(retry: RetryRule, attempt: number): Promise<void> {
    this.stats.retried++;
    const wait = retryDelayMs(retry, attempt);
    if (wait > 0) await this.config.sleep(wait);
  }

  /** One attempt: the backend's response head, or no answer within the forward timeout, or none at all. */
  async #forward(exchange: Exchange, request: Omit<UpstreamRequest, 'signal'>): Promise<Forwarded> {
    const controller = new AbortController();
    exchange.attempt = controller;
    let hasTimedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const given = new Promise<Forwarded>((resolve) => {
      timer = setTimeout(() => {
        hasTimedOut = true;
        controller.abort();
        resolve({ kind: 'timeout' });
      }, this.config.policy.timeoutMs);
      controller.signal.addEventListener('abort', () => resolve({ kind: 'unreachable', reason: 'ECONNRESET' }), {
        once: true,
      });
    });
    const sent = this.upstream.send({ ...request, signal: controller.signal });
    this.stats.forwarded++;
    try {
      const outcome = await Promise.race([
        sent.then(
          (reply): Forwarded => ({ kind: 'response', reply }),
          (error: unknown): Forwarded => {
            if (error instanceof BackendUnreachable) return { kind: 'unreachable', reason: error.reason };
            throw error;
          },
        ),
        given,
      ]);
      if (outcome.kind !== 'response' && controller.signal.aborted)
        // Given up (timed out, or the client left): a response that still comes is dropped.
        sent.then(
          (reply) => cancelBody(reply.body),
          () => undefined,
        );
      if (!hasTimedOut) return outcome;
      if (outcome.kind === 'response') cancelBody(outcome.reply.body);
      return { kind: 'timeout' };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The backend's answer as the client gets it: outbound headers, then the body held, bridged and metered as the policy says. */
  #relay(reply: UpstreamReply, ctx: RelayContext): Answer {
    const { config } = this;
    const { policy, tokens } = config;
    const isEventStream = String(reply.headers['content-type'] ?? '').startsWith('text/event-stream');
    const translates = ctx.bridged !== undefined && reply.status < 400;
    const headers = responseHeaders(policy.outboundHeaders, reply.headers, !translates);
    if (ctx.remainingTokens !== undefined && policy.tokenLimit?.remainingTokensHeaderName)
      headers[policy.tokenLimit.remainingTokensHeaderName] = String(ctx.remainingTokens);
    // The pass-through: nothing reads or holds the body, so its bytes may go on as they came.
    const passes = !translates && tokens === undefined && !policy.bufferResponse && !policy.readsResponseBody;
    return {
      status: reply.status,
      headers,
      body: relayBody(config, reply.body, ctx, isEventStream, translates),
      wire: passes ? reply.body.wire : undefined,
    };
  }
}

type Answer = Pick<GatewayResponse, 'status' | 'headers' | 'body'> & { wire?: ChunkedWire | undefined };

/** The backend's body as the client should get it: metered, bridged or collected, and held as `buffer-response` says. */
async function* relayBody(
  config: GatewayConfig,
  source: UpstreamBody,
  ctx: RelayContext,
  isEventStream: boolean,
  translates: boolean,
): AsyncGenerator<Buffer, void, undefined> {
  const { tokens, policy } = config;
  const hold = new ResponseHold(holdMode(policy.bufferResponse, policy.readsResponseBody));
  const meter = tokens && isEventStream ? tokens.meter.createStreamMeter() : undefined;
  const bridge =
    translates && isEventStream
      ? createStreamBridge({ includeUsage: ctx.includeUsage, requestedModel: ctx.requestedModel })
      : undefined;
  const whole: Buffer[] = [];
  const mustCollect = !isEventStream && (translates || tokens !== undefined);
  const pieces = source[Symbol.asyncIterator]();
  let isComplete = false;
  try {
    for (;;) {
      const next = await pieces.next();
      if (next.done) break;
      const chunk = next.value;
      meter?.push(chunk);
      if (mustCollect) {
        whole.push(chunk);
        continue;
      }
      const out = bridge ? bridge.push(chunk) : chunk;
      if (out.length === 0) continue;
      const block = hold.push(typeof out === 'string' ? Buffer.from(out) : out);
      if (block !== undefined) yield block;
    }
    isComplete = true;
    const collected = mustCollect ? Buffer.concat(whole).toString('utf8') : '';
    if (meter) tokens?.window.charge(meter.completionTokens());
    else if (tokens) {
      const usage = tokens.meter.usageOf(collected);
      tokens.window.charge(
        (usage?.completionTokens ?? 0) + (ctx.isPromptEstimated ? 0 : (usage?.promptTokens ?? ctx.promptTokens)),
      );
    }
    const last = bridge
      ? bridge.end()
      : mustCollect
        ? translates
          ? bridgeBody(collected, ctx.requestedModel)
          : collected
        : '';
    if (last.length > 0) {
      const block = hold.push(Buffer.from(last));
      if (block !== undefined) yield block;
    }
    const rest = hold.end();
    if (rest !== undefined) yield rest;
  } finally {
    // Left early (the client went, or the stream was cut): the backend's response is dropped.
    if (!isComplete) await Promise.resolve(pieces.return?.()).catch(() => undefined);
  }
}

/** Drops a response that will not be relayed. */
function cancelBody(body: UpstreamBody): void {
  void Promise.resolve(body[Symbol.asyncIterator]().return?.()).catch(() => undefined);
}

/** Reads a response that will be retried to its end and drops it (its connection can then be reused). */
function discardBody(body: UpstreamBody): void {
  void (async () => {
    for await (const _ of body);
  })().catch(() => undefined);
}

async function readRequestBody(body: GatewayRequest['body'], maxBytes: number): Promise<Buffer> {
  if (typeof body === 'function') {
    const read = await body(maxBytes);
    return Buffer.isBuffer(read) ? read : Buffer.from(read.buffer, read.byteOffset, read.byteLength);
  }
  if (body.byteLength > maxBytes) throw new BodyTooLargeError();
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** The backend's URL (which may carry a path, such as `https://x.openai.azure.com/openai`) with the operation appended. */
function backendUrl(base: URL, operation: string): URL {
  return new URL(base.pathname.replace(/\/+$/, '') + operation, base.origin);
}

/** A non-streamed Responses body as a chat.completion; a body that is not JSON is relayed as it came, never a crash. */
function bridgeBody(collected: string, requestedModel: string): string {
  try {
    return JSON.stringify(toChatCompletion(JSON.parse(collected), requestedModel));
  } catch {
    return collected;
  }
}

function checkSubscription(config: GatewayConfig, headers: IncomingHttpHeaders, url: URL): string | undefined {
  if (config.subscriptionKeys.length === 0) return undefined;
  const header = headers[config.subscriptionKeyHeader];
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
  config: GatewayConfig,
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

function responseHeaders(
  rules: readonly HeaderRule[],
  incoming: IncomingHttpHeaders,
  keepLength: boolean,
): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  if (keepLength && incoming['content-length'] !== undefined) out['content-length'] = incoming['content-length'];
  applyHeaderRules(out, rules);
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

const headerValue = (value: string | string[] | number | undefined): string | null =>
  value === undefined ? null : String(Array.isArray(value) ? value[0] : value);

/** The request's path for the log: no query string (it may hold a key). */
function logPath(target: string): string {
  try {
    return new URL(target || '/', 'http://gateway').pathname;
  } catch {
    return '';
  }
}

/** What the access log is told as a request goes: each attempt (backend, status, time), the backend response that was relayed, and the close. */
class RequestLog {
  readonly #log: (entry: GatewayLogEntry) => void;
  readonly #request: GatewayRequest;
  readonly #started = performance.now();
  readonly #attempts: GatewayAttempt[] = [];
  #backendTimeMs: number | null = null;
  #backend: IncomingHttpHeaders = {};
  #isWritten = false;

  constructor(log: (entry: GatewayLogEntry) => void, request: GatewayRequest) {
    this.#log = log;
    this.#request = request;
  }

  #elapsed(): number {
    return Math.round((performance.now() - this.#started) * 100) / 100;
  }

  attempt(backend: string | null, status: number | null): void {
    this.#attempts.push({ backend, status, timeMs: this.#elapsed() });
  }

  reachedBackend(headers: IncomingHttpHeaders): void {
    this.#backendTimeMs = this.#elapsed();
    this.#backend = headers;
  }

  /** The response has closed: one entry, once. */
  write(responseCode: number, isCancelled: boolean): void {
    if (this.#isWritten) return;
    this.#isWritten = true;
    const request = this.#request;
    this.#log({
      event: 'request',
      time: new Date().toISOString(),
      method: request.method,
      path: logPath(request.url),
      responseCode,
      clientRequestId: headerValue(request.headers['x-ms-client-request-id']),
      backendRequestId: headerValue(this.#backend['x-request-id']),
      apimRequestId: headerValue(this.#backend['apim-request-id']),
      backendId: this.#attempts.at(-1)?.backend ?? null,
      attempts: this.#attempts,
      backendTimeMs: this.#backendTimeMs,
      totalTimeMs: this.#elapsed(),
      isCancelled,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Backends

/**
 * The backends the gateway may forward to, and the one the policy names. Only those: a policy
 * naming another backend, or a base-url on another host, is refused at start.
 */
function resolveBackends(options: GatewayCoreOptions): { router: BackendRouter; backendId: string } {
  const { policy } = options;
  let table: BackendTable;
  if (options.backends !== undefined) table = options.backends;
  else {
    const origin = originOf('--backend', options.backendUrl);
    // One backend, as the lab's deploy creates it: the account's endpoint with the API's /openai suffix.
    table = parseBackends([{ name: LAB_BACKEND_ID, properties: { url: `${origin}/openai`, protocol: 'http' } }]);
  }
  const urls = new Map<string, URL>();
  for (const backend of table.singles.values()) {
    // The URLs are keyed by names from a file: read as own keys only ("constructor" is a name, not Object's).
    const given =
      (options.backendUrls !== undefined && Object.hasOwn(options.backendUrls, backend.name)
        ? options.backendUrls[backend.name]
        : undefined) ?? backend.url;
    if (given === undefined)
      throw new InvalidOptionError(
        '--backend-url',
        `backend "${backend.name}" has no url in the backends file and none was given`,
        `${backend.name}=http://127.0.0.1:PORT/openai`,
      );
    urls.set(backend.name, new URL(given));
  }
  for (const name of Object.keys(options.backendUrls ?? {})) {
    if (!table.singles.has(name))
      throw new InvalidOptionError(
        '--backend-url',
        `"${name}" is not a single backend of the backends file`,
        [...table.singles.keys()].join(', '),
      );
  }
  const router = new BackendRouter(table, urls, options.now);
  const names = [...table.pools.keys(), ...table.singles.keys()];
  let backendId = policy.backendId ?? (router.has(LAB_BACKEND_ID) ? LAB_BACKEND_ID : names[0]!);
  if (policy.backendBaseUrl !== undefined) {
    const origin = new URL(policy.backendBaseUrl, [...urls.values()][0]).origin;
    const named = [...urls].find(([, url]) => url.origin === origin)?.[0];
    if (named === undefined)
      throw new InvalidOptionError(
        '--policy',
        `"${policy.file}" sets base-url "${policy.backendBaseUrl}", which is not the configured backend or one of them (${[...urls.values()].map((u) => u.origin).join(', ')})`,
        'no base-url, or a backend given with --backend or --backends',
      );
    backendId = named;
  }
  if (!router.has(backendId)) {
    throw new InvalidOptionError(
      '--policy',
      `"${policy.file}" sets backend-id "${backendId}", and the local gateway has only ${names.map((n) => `"${n}"`).join(', ')}`,
      `backend-id="${names[0]}", or a backends file (--backends) that defines it`,
    );
  }
  return { router, backendId };
}

function originOf(flag: string, value: string | undefined): string {
  if (value === undefined)
    throw new InvalidOptionError(
      flag,
      'no backend given',
      'the backend origin, e.g. http://127.0.0.1:41234, or --backends FILE',
    );
  try {
    return new URL(value).origin;
  } catch {
    throw new InvalidOptionError(flag, `"${value}" is not a URL`, 'the backend origin, e.g. http://127.0.0.1:41234');
  }
}
