import { SseParser } from '../../src/protocol/index.ts';
import { countChatPromptTokens, countInputTokens, countTextTokens } from '../../src/protocol/prompt-tokens.ts';

/** Prompt tokens of a request body, as a gateway estimates them (chat, completions or responses). */
export function estimatePromptTokens(body: Record<string, unknown> | undefined): number {
  if (body === undefined) return 0;
  if (Array.isArray(body['messages'])) return countChatPromptTokens(body['messages'] as unknown[]);
  return countInputTokens(body['prompt'] ?? body['input']);
}

/** The text a streamed event adds: chat and On Your Data deltas, legacy completions text, Responses deltas. */
function deltaText(data: Record<string, unknown>): string {
  if (data['type'] === 'response.output_text.delta') return typeof data['delta'] === 'string' ? data['delta'] : '';
  const choice = (data['choices'] as Array<Record<string, unknown>> | undefined)?.[0];
  if (choice === undefined) return '';
  const delta = choice['delta'] as { content?: unknown } | undefined;
  if (typeof delta?.content === 'string') return delta.content;
  return typeof choice['text'] === 'string' ? choice['text'] : '';
}

/**
 * Counts completion tokens of a relayed stream the way APIM does for `stream: true`: by
 * estimating from the streamed text, not from a usage frame the client may not ask for.
 */
export function createStreamMeter(): { push(chunk: Uint8Array): void; completionTokens(): number } {
  const decoder = new TextDecoder();
  let text = '';
  const parser = new SseParser({
    onEvent: (data) => {
      if (data === '[DONE]') return;
      try {
        text += deltaText(JSON.parse(data) as Record<string, unknown>);
      } catch {
        // A malformed frame carries no countable text.
      }
    },
    onComment: () => {},
  });
  return {
    push: (chunk) => parser.feed(decoder.decode(chunk, { stream: true })),
    completionTokens: () => countTextTokens(text),
  };
}

/** Completion (and actual prompt) tokens from a non-streamed body's `usage`. */
export function usageOf(body: string): { promptTokens: number; completionTokens: number } | undefined {
  try {
    const usage = (JSON.parse(body) as { usage?: Record<string, number> }).usage;
    if (!usage) return undefined;
    return {
      promptTokens: usage['prompt_tokens'] ?? usage['input_tokens'] ?? 0,
      completionTokens: usage['completion_tokens'] ?? usage['output_tokens'] ?? 0,
    };
  } catch {
    return undefined;
  }
}
