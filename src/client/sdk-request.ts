import OpenAI from 'openai';
import type { BuiltRequest } from '../endpoint/build-request.ts';
import type { Scenario } from '../endpoint/types.ts';
import { applyExtracted, extractEvent, extractJsonBody } from './extract.ts';
import type { RequestTimeouts } from './http-request.ts';
import type { OutcomeCode } from './outcome.ts';
import { createTimeline, type Timeline } from './timeline.ts';

export interface SdkRequestInput {
  scenario: Scenario;
  built: BuiltRequest;
  headers: Record<string, string>;
  timeouts: RequestTimeouts;
  intendedNs: bigint;
  signal?: AbortSignal;
}

const PATHS = {
  chat: 'chat/completions',
  'on-your-data': 'chat/completions',
  completions: 'completions',
  responses: 'responses',
} as const;

/**
 * The same request through the official openai SDK (`--client sdk`): its own fetch, SSE
 * decoder and object mapping, timed from the outside the way most users time it. The SDK
 * hides SSE comments and `[DONE]`, so there are no delivery stamps and a missing
 * terminator is not detectable here.
 *
 * Timeouts: the total is the SDK's own; the first-token and idle timeouts of a stream are
 * applied here between the events the SDK yields (the SDK cannot show the connect and
 * header phases apart, so src/config refuses those flags with `--client sdk`).
 */
export async function runSdkRequest(input: SdkRequestInput): Promise<Timeline> {
  const { scenario, built, headers, timeouts, intendedNs, signal } = input;
  const tl = createTimeline(scenario.api, scenario.stream, intendedNs);
  const now = (): number => Number(process.hrtime.bigint() - intendedNs) / 1e6;
  const url = new URL(built.url);
  const path = PATHS[scenario.api];
  const baseURL = `${url.origin}${url.pathname.slice(0, -(path.length + 1))}`;
  const client = new OpenAI({
    baseURL,
    apiKey: 'unused',
    maxRetries: 0,
    timeout: timeouts.totalMs,
    defaultQuery: Object.fromEntries(url.searchParams),
    // The target's own auth header replaces the SDK's `Authorization: Bearer` (null unsets it).
    defaultHeaders: { authorization: null, ...headers } as unknown as Record<string, string>,
  });
  const body = built.body as never;
  // One controller for the run's abort and our phase timers; a timer records its outcome first.
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  if (signal?.aborted) controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let phaseTimer: NodeJS.Timeout | undefined;
  let idleTimer: NodeJS.Timeout | undefined;
  const expire = (outcome: OutcomeCode, message: string) => (): void => {
    if (tl.outcome === 'ok') {
      tl.outcome = outcome;
      tl.errorMessage = message;
    }
    controller.abort();
  };
  const requestOptions = { signal: controller.signal };
  tl.sentMs = now();
  try {
    const call =
      scenario.api === 'responses'
        ? client.responses.create(body, requestOptions)
        : scenario.api === 'completions'
          ? client.completions.create(body, requestOptions)
          : client.chat.completions.create(body, requestOptions);
    const { data, response } = await (
      call as unknown as { withResponse(): Promise<{ data: unknown; response: Response }> }
    ).withResponse();
    tl.headersMs = now();
    tl.status = response.status;
    tl.ids.requestId = response.headers.get('x-request-id') ?? undefined;
    tl.ids.apimRequestId = response.headers.get('apim-request-id') ?? undefined;
    if (!scenario.stream) {
      const at = now();
      applyExtracted(tl, extractJsonBody(scenario.api, data as Record<string, unknown>), at);
      tl.events = 1;
      tl.firstEventMs = tl.firstByteMs = tl.doneMs = at;
    } else {
      phaseTimer = setTimeout(
        expire('timeout_first_token', `no first token within ${timeouts.firstTokenMs} ms`),
        timeouts.firstTokenMs,
      );
      idleTimer = setTimeout(expire('timeout_idle', `quiet for more than ${timeouts.idleMs} ms`), timeouts.idleMs);
      for await (const chunk of data as AsyncIterable<Record<string, unknown>>) {
        const at = now();
        idleTimer.refresh();
        tl.firstByteMs ??= at;
        tl.firstEventMs ??= at;
        tl.events++;
        applyExtracted(tl, extractEvent(scenario.api, undefined, chunk), at);
        if (tl.firstContentMs !== undefined) clearTimeout(phaseTimer);
      }
      tl.doneMs ??= now();
    }
  } catch (error) {
    classify(tl, error);
  } finally {
    clearTimeout(phaseTimer);
    clearTimeout(idleTimer);
    signal?.removeEventListener('abort', onAbort);
  }
  tl.endMs = now();
  return tl;
}

function classify(tl: Timeline, error: unknown): void {
  let outcome: OutcomeCode;
  if (error instanceof OpenAI.APIUserAbortError) outcome = 'aborted';
  else if (error instanceof OpenAI.APIConnectionTimeoutError) outcome = 'timeout_total';
  else if (error instanceof OpenAI.APIConnectionError)
    outcome = tl.headersMs === undefined ? 'connect_error' : 'protocol_truncated';
  else if (error instanceof OpenAI.APIError && error.status !== undefined) {
    outcome = `http_${error.status}`;
    tl.status = error.status;
    const retryMs = error.headers?.get('retry-after-ms');
    if (retryMs) tl.retryAfterMs = Number(retryMs);
  } else if (error instanceof OpenAI.APIError) outcome = 'protocol_stream_error';
  else if (error instanceof SyntaxError) outcome = 'protocol_malformed_frame';
  else outcome = tl.headersMs === undefined ? 'connect_error' : 'protocol_truncated';
  if (tl.outcome === 'ok') {
    tl.outcome = outcome;
    tl.errorMessage = (error as Error).message;
  }
}
