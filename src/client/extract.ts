import type { ApiKind } from '../protocol/index.ts';
import type { Timeline } from './timeline.ts';

/** What one parsed event means for the timeline. */
export interface Extracted {
  content?: string;
  finishReason?: string;
  usage?: { promptTokens?: number; completionTokens?: number };
  responseId?: string;
  /** The stream reported an error (a `data: {"error":…}` frame, or Responses `error`/`response.failed`). */
  error?: string;
  /** A Responses terminal event (completed, incomplete, failed). */
  isTerminal?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed wire JSON, read field by field with runtime checks below
type Json = Record<string, any>;

/**
 * "First token" is the first event that carries content for the API: chat `delta.content`
 * non-empty (the prompt-filter frame with `choices: []`, role-only, annotation and usage
 * frames do not count; legacy On Your Data carries it in `messages[].delta`), completions
 * `text`, Responses `response.output_text.delta`.
 */
export function extractEvent(api: ApiKind, eventName: string | undefined, data: Json): Extracted {
  return api === 'responses' ? extractResponses(eventName, data) : extractChatLike(data);
}

function extractChatLike(data: Json): Extracted {
  if (data['error']) return { error: messageOf(data['error']) };
  const out: Extracted = {};
  const choice = Array.isArray(data['choices']) ? data['choices'][0] : undefined;
  if (choice) {
    const legacy = Array.isArray(choice.messages)
      ? choice.messages.find((m: Json) => m?.delta?.role !== 'tool' && typeof m?.delta?.content === 'string')
      : undefined;
    const content = choice.delta?.content ?? choice.text ?? legacy?.delta?.content;
    if (typeof content === 'string' && content !== '') out.content = content;
    if (typeof choice.finish_reason === 'string') out.finishReason = choice.finish_reason;
  }
  if (data['usage'])
    out.usage = { promptTokens: data['usage'].prompt_tokens, completionTokens: data['usage'].completion_tokens };
  if (typeof data['id'] === 'string' && data['id'] !== '') out.responseId = data['id'];
  return out;
}

function extractResponses(eventName: string | undefined, data: Json): Extracted {
  const type = typeof data['type'] === 'string' ? data['type'] : eventName;
  switch (type) {
    case 'response.output_text.delta':
      return typeof data['delta'] === 'string' && data['delta'] !== '' ? { content: data['delta'] } : {};
    case 'response.created':
      return { responseId: data['response']?.id };
    case 'response.completed':
    case 'response.incomplete': {
      const response = data['response'] ?? {};
      const usage = response.usage
        ? { promptTokens: response.usage.input_tokens, completionTokens: response.usage.output_tokens }
        : undefined;
      const finishReason =
        type === 'response.completed'
          ? 'stop'
          : response.incomplete_details?.reason === 'max_output_tokens'
            ? 'length'
            : 'incomplete';
      return { isTerminal: true, finishReason, ...(usage ? { usage } : {}), responseId: response.id };
    }
    case 'response.failed':
      return { isTerminal: true, error: messageOf(data['response']?.error ?? 'response.failed') };
    case 'error':
      return { error: messageOf(data['error'] ?? data) };
    default:
      return {};
  }
}

function messageOf(error: unknown): string {
  if (typeof error === 'string') return error;
  const e = error as Json;
  return String(e?.message ?? e?.code ?? 'stream error');
}

/** The answer of a non-streaming body: text, finish reason, usage, id. */
export function extractJsonBody(api: ApiKind, body: Json): Extracted {
  if (api === 'responses') {
    const text =
      typeof body['output_text'] === 'string'
        ? body['output_text']
        : (body['output'] ?? [])
            .flatMap((item: Json) => item.content ?? [])
            .map((part: Json) => part.text ?? '')
            .join('');
    const usage = body['usage']
      ? { promptTokens: body['usage'].input_tokens, completionTokens: body['usage'].output_tokens }
      : undefined;
    return {
      content: text,
      finishReason: body['status'] === 'incomplete' ? 'length' : 'stop',
      responseId: body['id'],
      ...(usage ? { usage } : {}),
    };
  }
  const choice = body['choices']?.[0] ?? {};
  const legacy = Array.isArray(choice.messages) ? choice.messages.find((m: Json) => m.role === 'assistant') : undefined;
  const content = choice.message?.content ?? choice.text ?? legacy?.content ?? '';
  const usage = body['usage']
    ? { promptTokens: body['usage'].prompt_tokens, completionTokens: body['usage'].completion_tokens }
    : undefined;
  return { content, finishReason: choice.finish_reason, responseId: body['id'], ...(usage ? { usage } : {}) };
}

/**
 * How many deltas the answer text takes between flattenings: 4 (at most 3 rope nodes), more
 * for a long text, a power of two with flattening copying about 512 characters per delta on average
 * (a 64 K-character answer is flattened every 128 deltas, not 16,000 times).
 */
function flattenEvery(length: number): number {
  let every = 4;
  while (every * 512 < length) every *= 2;
  return every;
}

/**
 * Records what one event (or a whole JSON body) means on the timeline, at `atMs`: content
 * arrivals, finish reason, usage, response id, and a stream error as the outcome. Shared by
 * the http and SDK clients.
 */
export function applyExtracted(tl: Timeline, extracted: Extracted, atMs: number): void {
  if (extracted.content !== undefined) {
    tl.text += extracted.content;
    // Appending makes a rope of every delta (32 bytes a node, besides the delta itself).
    // Converting the text to a number flattens it into one string (V8 flattens before it
    // parses; the NaN is dropped), so an in-flight stream holds its text, not its history.
    // Reading a character does not: V8 walks the rope for that (10,000 texts of 40 deltas:
    // 1,289 bytes each as ropes, 1,205 after charCodeAt, 498 after Number()).
    if ((tl.contentArrivalsMs.length & (flattenEvery(tl.text.length) - 1)) === 0) void Number(tl.text);
    tl.contentArrivalsMs.push(atMs);
    tl.firstContentMs ??= atMs;
    tl.lastContentMs = atMs;
  }
  if (extracted.finishReason !== undefined) tl.finishReason = extracted.finishReason;
  if (extracted.usage !== undefined) {
    tl.usage = extracted.usage;
    tl.usageMs = atMs;
  }
  if (extracted.responseId) tl.ids.responseId ??= extracted.responseId;
  if (extracted.isTerminal) tl.doneMs = atMs;
  if (extracted.error !== undefined && tl.outcome === 'ok') {
    tl.outcome = 'protocol_stream_error';
    tl.errorMessage = extracted.error;
  }
}
