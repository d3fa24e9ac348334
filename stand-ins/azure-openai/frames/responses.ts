import { completionTokens, lastTokenAtMs, obfuscation, obfuscationJson, type Generation } from '../generation.ts';
import { namedEvent, tokenFrames, type PlannedEvent, type PlannedItem } from './event.ts';
import { createJsonTemplate } from './json-template.ts';

/**
 * Responses API stream: `event: <type>` + `data: {"type":…,"sequence_number":n}` frames,
 * no `[DONE]`; it ends after response.completed (or response.incomplete when
 * max_output_tokens cut it, or error + response.failed under the `responses-error` fault).
 * output_item.added and content_part.added come first: openai-node's ResponseStream
 * rejects deltas for items it has not seen.
 */
export function* responsesStreamEvents(gen: Generation): Generator<PlannedItem> {
  let seq = 0;
  const event = (atMs: number, type: string, fields: Record<string, unknown>, isContent = false): PlannedEvent =>
    namedEvent(atMs, type, { type, sequence_number: seq++, ...fields }, isContent);
  const itemBase = { item_id: gen.itemId, output_index: 0, content_index: 0 };
  yield event(0, 'response.created', { response: responseObject(gen, 'in_progress', []) });
  yield event(0, 'response.in_progress', { response: responseObject(gen, 'in_progress', []) });
  const first = gen.tokenTimesMs[0] ?? gen.timing.ttftMs;
  yield event(first, 'response.output_item.added', {
    output_index: 0,
    item: { id: gen.itemId, type: 'message', status: 'in_progress', role: 'assistant', content: [] },
  });
  yield event(first, 'response.content_part.added', {
    ...itemBase,
    part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
  });
  const DELTA = 'response.output_text.delta';
  const deltaEvent = createJsonTemplate(
    3,
    ([sequence, token, obf]) => ({
      type: DELTA,
      sequence_number: sequence,
      ...itemBase,
      delta: token,
      logprobs: [],
      ...(gen.includeObfuscation ? { obfuscation: obf } : {}),
    }),
    `event: ${DELTA}\ndata: `,
    '\n\n',
  );
  const render = gen.includeObfuscation
    ? (i: number) => deltaEvent.fromJson([String(seq++), gen.tokens.json(i), obfuscationJson(gen)])
    : (i: number) => deltaEvent.fromJson([String(seq++), gen.tokens.json(i)]);
  const failed = (at: number): PlannedEvent[] => [
    event(at, 'error', {
      code: 'server_error',
      message: 'The server had an error while processing your request.',
      param: null,
    }),
    event(at, 'response.failed', {
      response: {
        ...responseObject(gen, 'failed', []),
        error: { code: 'server_error', message: 'The server had an error while processing your request.' },
      },
    }),
  ];
  const isEnded = yield* tokenFrames(gen, render, {
    huge: (i, at, padBytes) =>
      event(
        at,
        DELTA,
        { ...itemBase, delta: gen.tokens.at(i), logprobs: [], obfuscation: obfuscation(gen, padBytes) },
        true,
      ),
    error: failed,
  });
  if (isEnded) return;
  const end = lastTokenAtMs(gen);
  const text = gen.tokens.join();
  const part = { type: 'output_text', annotations: [], logprobs: [], text };
  const item = { id: gen.itemId, type: 'message', status: itemStatus(gen), role: 'assistant', content: [part] };
  yield event(end, 'response.output_text.done', { ...itemBase, text, logprobs: [] });
  yield event(end, 'response.content_part.done', { ...itemBase, part });
  yield event(end, 'response.output_item.done', { output_index: 0, item });
  const status = gen.finishReason === 'length' ? 'incomplete' : 'completed';
  yield event(end, `response.${status}`, { response: responseObject(gen, status, [item]) });
}

function itemStatus(gen: Generation): string {
  return gen.finishReason === 'length' ? 'incomplete' : 'completed';
}

function responseObject(gen: Generation, status: string, output: unknown[]): Record<string, unknown> {
  const done = status === 'completed' || status === 'incomplete';
  return {
    id: gen.completionId,
    object: 'response',
    created_at: gen.createdSec,
    status,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: gen.body['instructions'] ?? null,
    max_output_tokens: gen.body['max_output_tokens'] ?? null,
    model: gen.profile.model,
    output,
    parallel_tool_calls: true,
    previous_response_id: gen.body['previous_response_id'] ?? null,
    store: gen.body['store'] ?? true,
    temperature: gen.body['temperature'] ?? 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: gen.body['top_p'] ?? 1,
    truncation: 'disabled',
    usage: done ? usage(gen) : null,
  };
}

function usage(gen: Generation): Record<string, unknown> {
  const output = completionTokens(gen);
  return {
    input_tokens: gen.promptTokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: gen.promptTokens + output,
  };
}

/** The non-streaming response body, with the convenience `output_text` field. */
export function responsesBody(gen: Generation): Record<string, unknown> {
  const text = gen.tokens.join();
  const item = {
    id: gen.itemId,
    type: 'message',
    status: itemStatus(gen),
    role: 'assistant',
    content: [{ type: 'output_text', annotations: [], logprobs: [], text }],
  };
  const status = gen.finishReason === 'length' ? 'incomplete' : 'completed';
  return { ...responseObject(gen, status, [item]), output_text: text };
}
