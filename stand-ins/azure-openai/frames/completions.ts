import { completionTokens, lastTokenAtMs, obfuscation, type Generation } from '../generation.ts';
import { midStreamError } from './chat.ts';
import { completionFilterResults, promptFilterResults } from './filter-results.ts';
import { DATA_FRAME, dataEvent, doneEvent, tokenFrames, type PlannedItem } from './event.ts';
import { createJsonTemplate } from './json-template.ts';

/**
 * Legacy completions (`object: "text_completion"`, the token in `text`): on Azure the
 * stream starts with a prompt-filter frame and each choice carries content_filter_results.
 */
export function* completionsStreamEvents(gen: Generation): Generator<PlannedItem> {
  const end = lastTokenAtMs(gen);
  yield dataEvent(gen.timing.ttftMs / 2, {
    choices: [],
    created: 0,
    id: '',
    model: '',
    object: '',
    prompt_filter_results: promptFilterResults(),
  });
  const contentFrame = createJsonTemplate(1, ([token]) => textFrame(gen, token!, null), ...DATA_FRAME);
  const isEnded = yield* tokenFrames(gen, (i) => contentFrame.fromJson([gen.tokens.json(i)]), {
    huge: (i, at, padBytes) =>
      dataEvent(at, { ...textFrame(gen, gen.tokens.at(i), null), obfuscation: obfuscation(gen, padBytes) }, true),
    error: (at) => [dataEvent(at, midStreamError())],
  });
  if (isEnded) return;
  yield dataEvent(end, textFrame(gen, '', gen.finishReason));
  if (gen.includeUsage) {
    yield dataEvent(end, {
      id: gen.completionId,
      object: 'text_completion',
      created: gen.createdSec,
      model: gen.profile.model,
      usage: usage(gen),
      choices: [],
    });
  }
  yield doneEvent(end);
}

function textFrame(gen: Generation, text: string, finishReason: string | null): Record<string, unknown> {
  return {
    id: gen.completionId,
    object: 'text_completion',
    created: gen.createdSec,
    choices: [
      {
        text,
        index: 0,
        logprobs: null,
        finish_reason: finishReason,
        content_filter_results: completionFilterResults(),
      },
    ],
    model: gen.profile.model,
  };
}

function usage(gen: Generation): Record<string, number> {
  const completion = completionTokens(gen);
  return {
    prompt_tokens: gen.promptTokens,
    completion_tokens: completion,
    total_tokens: gen.promptTokens + completion,
  };
}

export function completionsBody(gen: Generation): Record<string, unknown> {
  return {
    id: gen.completionId,
    object: 'text_completion',
    created: gen.createdSec,
    model: gen.profile.model,
    prompt_filter_results: promptFilterResults(),
    choices: [
      {
        text: gen.tokens.join(),
        index: 0,
        logprobs: null,
        finish_reason: gen.finishReason,
        content_filter_results: completionFilterResults(),
      },
    ],
    usage: usage(gen),
  };
}
