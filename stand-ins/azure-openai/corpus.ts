import { bpeEncoding } from '../../src/protocol/bpe.ts';
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

const O200K = bpeEncoding('o200k_base');

/** Token strings of the corpus, decoded once. */
const CORPUS_TOKENS: readonly string[] = O200K.encode(CORPUS).map((id) => O200K.decode([id]));

/** Each corpus token as JSON text, encoded once, by corpus position: a content frame's token is one of these. */
const CORPUS_JSON_AT: readonly string[] = CORPUS_TOKENS.map((token) => JSON.stringify(token));

/** A multibyte token for the `split-utf8` fault: U+2615 HOT BEVERAGE, 3 bytes in UTF-8. */
export const MULTIBYTE_TOKEN = ' \u2615';

/**
 * An answer's tokens: `length` corpus tokens from a PRNG-chosen place, cycling, with at most
 * one of them replaced (the `split-utf8` fault's multibyte token). A place in the corpus, not
 * an array: a 200-token answer's array was 1.6 KB that every stream held for its whole life.
 */
export class TokenSequence {
  readonly length: number;
  readonly #start: number;
  #replacedAt = -1;
  #replacement = '';

  constructor(start: number, length: number) {
    this.#start = start;
    this.length = length;
  }

  /** Token `i` (0 <= i < length). */
  at(i: number): string {
    return i === this.#replacedAt ? this.#replacement : CORPUS_TOKENS[(this.#start + i) % CORPUS_TOKENS.length]!;
  }

  /** `JSON.stringify(at(i))`, from the table for corpus tokens (about 4x cheaper per frame). */
  json(i: number): string {
    return i === this.#replacedAt
      ? JSON.stringify(this.#replacement)
      : CORPUS_JSON_AT[(this.#start + i) % CORPUS_TOKENS.length]!;
  }

  /** Puts `token` in place of token `i`. */
  replace(i: number, token: string): void {
    this.#replacedAt = i;
    this.#replacement = token;
  }

  /** The whole answer text. */
  join(): string {
    let text = '';
    for (let i = 0; i < this.length; i++) text += this.at(i);
    return text;
  }

  toArray(): string[] {
    return Array.from({ length: this.length }, (_, i) => this.at(i));
  }
}

/** `count` tokens, starting at a PRNG-chosen place in the corpus, cycling. */
export function generateTokens(count: number, prng: Prng): TokenSequence {
  return new TokenSequence(prng.int(CORPUS_TOKENS.length), count);
}
