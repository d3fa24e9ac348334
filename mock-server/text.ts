import { decode, encode } from 'gpt-tokenizer/encoding/o200k_base';
import type { Prng } from './prng.ts';

/**
 * The answer text, as real o200k tokens: each content frame carries exactly one token, so
 * `usage.completion_tokens` agrees with what was streamed. The corpus is ASCII, so every
 * token decodes to whole characters; the `split-utf8` fault adds a multibyte token itself.
 */
const CORPUS = [
  'Streaming keeps the first token close to the user, even when the full answer takes seconds.',
  'A gateway in front of the model should relay each event as soon as it arrives, without holding it back.',
  'When a policy buffers the response, the first token arrives together with the last one.',
  'Server-sent events are plain text frames separated by blank lines, and every frame matters.',
  'Measure time to first token, inter-token latency and the total time, and compare them side by side.',
  'Rate limits protect the backend, but a retry that ignores the hint only makes the queue longer.',
  'Citations from the search index come first, then the answer streams in small pieces.',
  'A quiet stream is not a dead stream; keep-alive comments tell the proxies it is still there.',
].join(' ');

/** Token strings of the corpus, decoded once. */
const CORPUS_TOKENS: readonly string[] = encode(CORPUS).map((id) => decode([id]));

/** Each corpus token as JSON text, encoded once: a content frame's token is one of these. */
const CORPUS_TOKENS_JSON = new Map(CORPUS_TOKENS.map((token) => [token, JSON.stringify(token)]));

/** `JSON.stringify(token)`, from the table for corpus tokens (about 4x cheaper per frame). */
export function tokenJson(token: string): string {
  return CORPUS_TOKENS_JSON.get(token) ?? JSON.stringify(token);
}

/** A multibyte token for the `split-utf8` fault: U+2615 HOT BEVERAGE, 3 bytes in UTF-8. */
export const MULTIBYTE_TOKEN = ' \u2615';

/** `count` token strings, starting at a PRNG-chosen place in the corpus, cycling. */
export function generateTokens(count: number, prng: Prng): string[] {
  const tokens = new Array<string>(count);
  let index = prng.int(CORPUS_TOKENS.length);
  for (let i = 0; i < count; i++) {
    tokens[i] = CORPUS_TOKENS[index % CORPUS_TOKENS.length]!;
    index++;
  }
  return tokens;
}

/** Token count of a string with the o200k tokenizer. */
export function countTextTokens(text: string): number {
  return text === '' ? 0 : encode(text).length;
}

/**
 * Prompt tokens of a chat request, with OpenAI's per-message accounting: 3 tokens of
 * framing per message plus its role and content, and 3 to prime the reply.
 */
export function countChatPromptTokens(messages: readonly unknown[]): number {
  let total = 3;
  for (const message of messages) {
    const m = (message ?? {}) as { role?: unknown; content?: unknown };
    total += 3 + countTextTokens(String(m.role ?? '')) + countTextTokens(contentText(m.content));
  }
  return total;
}

/** Prompt tokens of a legacy `prompt` or a Responses `input`: a string, or a list of strings or messages. */
export function countInputTokens(input: unknown): number {
  if (Array.isArray(input)) {
    return input.reduce<number>((sum, item) => sum + countTextTokens(typeof item === 'string' ? item : contentText((item as { content?: unknown })?.content)), 0);
  }
  return countTextTokens(String(input ?? ''));
}

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
