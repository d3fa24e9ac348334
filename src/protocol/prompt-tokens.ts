import { bpeEncoding, type EncodingName } from './bpe.ts';

/**
 * How a prompt is counted, once for everyone who counts one: the mock (its usage and its
 * context-window check), the local gateway's token limit and usage meter, and the harness
 * (`--max-tokens max`). OpenAI's chat accounting frames each message with 3 tokens (plus its
 * role and content) and primes the reply with 3 more.
 */
export const CHAT_TOKENS_PER_MESSAGE = 3;
export const CHAT_REPLY_PRIMING_TOKENS = 3;

/** Counts the tokens of a text with one encoding, as ordinary text (special tokens are text too). */
export type TokenCounter = (text: string) => number;

/** A counter for an encoding; its ranks load on first use (about 70 ms; o200k adds 17 MB to a process). */
export function tokenCounter(encoding: EncodingName): TokenCounter {
  return (text) => (text === '' ? 0 : bpeEncoding(encoding).count(text));
}

/** o200k, the encoding of every current Azure OpenAI model: what the stand-ins count with. */
export const countTextTokens: TokenCounter = tokenCounter('o200k_base');

/** Text of a message content that may be a string or an array of parts. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (typeof part === 'string' ? part : String((part as { text?: unknown })?.text ?? '')))
      .join('');
  }
  return '';
}

/** Prompt tokens of a chat request's `messages`, with the per-message framing above. */
export function countChatPromptTokens(messages: readonly unknown[], count: TokenCounter = countTextTokens): number {
  let total = CHAT_REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    const m = (message ?? {}) as { role?: unknown; content?: unknown };
    total += CHAT_TOKENS_PER_MESSAGE + count(String(m.role ?? '')) + count(contentText(m.content));
  }
  return total;
}

/** Prompt tokens of a legacy `prompt` or a Responses `input`: a string, or a list of strings or messages. */
export function countInputTokens(input: unknown, count: TokenCounter = countTextTokens): number {
  if (Array.isArray(input)) {
    return input.reduce<number>(
      (sum, item) =>
        sum + count(typeof item === 'string' ? item : contentText((item as { content?: unknown })?.content)),
      0,
    );
  }
  return count(String(input ?? ''));
}
