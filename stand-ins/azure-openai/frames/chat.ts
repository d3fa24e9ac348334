import { completionTokens, lastTokenAtMs, obfuscation, obfuscationJson, type Generation } from '../generation.ts';
import { completionFilterResults, promptFilterResults } from './filter-results.ts';
import { DATA_FRAME, dataEvent, doneEvent, tokenFrames, type PlannedEvent, type PlannedItem } from './event.ts';
import { createJsonTemplate } from './json-template.ts';

/**
 * Chat completions, as Azure streams them (keys in alphabetical order, like 2024+ Azure):
 * prompt-filter frame (`choices: []`, empty id) -> role frame -> one frame per token ->
 * finish frame -> usage frame (only with include_usage) -> `data: [DONE]`.
 */
export function* chatStreamEvents(gen: Generation): Generator<PlannedItem> {
  const end = lastTokenAtMs(gen);
  yield promptFilterEvent(gen);
  const first = gen.tokenTimesMs[0] ?? gen.timing.ttftMs;
  yield dataEvent(first, chunk(gen, { content: '', refusal: null, role: 'assistant' }, null, {}));
  const hasObfuscation = obfuscationFor(gen) !== undefined;
  const contentFrame = createJsonTemplate(
    2,
    ([token, obf]) => chunk(gen, { content: token }, null, completionFilterResults(), hasObfuscation ? obf : undefined),
    ...DATA_FRAME,
  );
  const render = hasObfuscation
    ? (i: number) => contentFrame.fromJson([gen.tokens.json(i), obfuscationJson(gen)])
    : (i: number) => contentFrame.fromJson([gen.tokens.json(i)]);
  const isEnded = yield* tokenFrames(gen, render, {
    huge: (i, at, padBytes) =>
      dataEvent(
        at,
        chunk(gen, { content: gen.tokens.at(i) }, null, completionFilterResults(), obfuscationFor(gen, padBytes)),
        true,
      ),
    error: (at) => [dataEvent(at, midStreamError())],
  });
  if (isEnded) return;
  yield dataEvent(end, chunk(gen, {}, gen.finishReason, {}));
  if (gen.includeUsage) yield dataEvent(end, usageChunk(gen));
  yield doneEvent(end);
}

function promptFilterEvent(gen: Generation): PlannedEvent {
  // Prompt filtering finishes before generation starts, so this frame precedes the first
  // token: a client that counts it as "first token" reports a TTFT that is too good.
  return dataEvent(gen.timing.ttftMs / 2, {
    choices: [],
    created: 0,
    id: '',
    model: '',
    object: '',
    prompt_filter_results: promptFilterResults(),
  });
}

/**
 * The obfuscation value of a frame: random padding on current-shape models unless the
 * client turned it off; the huge-frame fault pads any model's frame.
 */
function obfuscationFor(gen: Generation, padBytes = 0): string | undefined {
  if (padBytes > 0) return obfuscation(gen, padBytes);
  return gen.profile.isCurrentShape && gen.includeObfuscation ? obfuscation(gen) : undefined;
}

function chunk(
  gen: Generation,
  delta: Record<string, unknown>,
  finishReason: string | null,
  filter: Record<string, unknown>,
  obfuscationValue: string | undefined = obfuscationFor(gen),
): Record<string, unknown> {
  const frame: Record<string, unknown> = {
    choices: [{ content_filter_results: filter, delta, finish_reason: finishReason, index: 0, logprobs: null }],
    created: gen.createdSec,
    id: gen.completionId,
    model: gen.profile.model,
  };
  return withTail(gen, frame, obfuscationValue);
}

function usageChunk(gen: Generation): Record<string, unknown> {
  return withTail(
    gen,
    { choices: [], created: gen.createdSec, id: gen.completionId, model: gen.profile.model },
    obfuscationFor(gen),
    usage(gen),
  );
}

/** Adds the trailing keys in Azure's alphabetical order: obfuscation, object, service_tier, system_fingerprint, usage. */
function withTail(
  gen: Generation,
  frame: Record<string, unknown>,
  obfuscationValue: string | undefined,
  usageValue: unknown = null,
): Record<string, unknown> {
  if (obfuscationValue !== undefined) frame['obfuscation'] = obfuscationValue;
  frame['object'] = 'chat.completion.chunk';
  if (gen.profile.isCurrentShape) {
    frame['service_tier'] = 'default';
    frame['system_fingerprint'] = null;
  } else {
    frame['system_fingerprint'] = 'fp_5154047bf2';
  }
  if (gen.includeUsage) frame['usage'] = usageValue;
  return frame;
}

export function usage(gen: Generation): Record<string, unknown> {
  const completion = completionTokens(gen);
  return {
    completion_tokens: completion,
    completion_tokens_details: {
      accepted_prediction_tokens: 0,
      audio_tokens: 0,
      reasoning_tokens: 0,
      rejected_prediction_tokens: 0,
    },
    prompt_tokens: gen.promptTokens,
    prompt_tokens_details: { audio_tokens: 0, cached_tokens: 0 },
    total_tokens: gen.promptTokens + completion,
  };
}

/** An OpenAI-style mid-stream error frame; the openai SDK throws APIError on it. */
export function midStreamError(): Record<string, unknown> {
  return {
    error: {
      message: 'The server had an error while processing your request. Sorry about that!',
      type: 'server_error',
      param: null,
      code: 'server_error',
    },
  };
}

/** The non-streaming chat.completion body. */
export function chatCompletionBody(gen: Generation): Record<string, unknown> {
  return {
    choices: [
      {
        content_filter_results: completionFilterResults(),
        finish_reason: gen.finishReason,
        index: 0,
        logprobs: null,
        message: { annotations: [], content: gen.tokens.join(), refusal: null, role: 'assistant' },
      },
    ],
    created: gen.createdSec,
    id: gen.completionId,
    model: gen.profile.model,
    object: 'chat.completion',
    prompt_filter_results: promptFilterResults(),
    system_fingerprint: gen.profile.isCurrentShape ? null : 'fp_5154047bf2',
    usage: usage(gen),
  };
}
