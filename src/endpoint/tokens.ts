import { bpeEncoding } from '../protocol/bpe.ts';
import { countChatPromptTokens } from '../protocol/prompt-tokens.ts';
import { DEFAULT_ENCODING, inferBaseModel } from './models.ts';
import type { ChatMessage } from './types.ts';

const encodingOf = (deployment: string) => bpeEncoding(inferBaseModel(deployment)?.encoding ?? DEFAULT_ENCODING);

/**
 * Counts tokens with the deployment's base-model encoding (o200k when unknown), as ordinary
 * text. The encoding is loaded on first use (about 70 ms; o200k adds 17 MB to the process).
 */
export function countTokens(deployment: string, text: string): number {
  return text === '' ? 0 : encodingOf(deployment).count(text);
}

/** Loads the deployment's encoding now, so that no request in flight waits for it. */
export function loadTokenizer(deployment: string): void {
  encodingOf(deployment);
}

/** Prompt tokens of a chat, with OpenAI's per-message framing (the one rule: src/protocol/prompt-tokens.ts). */
export function countChatTokens(deployment: string, messages: readonly ChatMessage[]): number {
  return countChatPromptTokens(messages, (text) => countTokens(deployment, text));
}

/** `--max-tokens max`: the model's context window minus the prompt. */
export function maxOutputTokens(deployment: string, messages: readonly ChatMessage[]): number | undefined {
  const model = inferBaseModel(deployment);
  if (!model) return undefined;
  return Math.max(1, model.contextWindowTokens - countChatTokens(deployment, messages));
}
