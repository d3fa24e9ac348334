import { bpeEncoding } from '../protocol/bpe.ts';
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

/** Prompt tokens of a chat, with OpenAI's per-message framing (3 per message, 3 to prime the reply). */
export function countChatTokens(deployment: string, messages: readonly ChatMessage[]): number {
  return messages.reduce((sum, m) => sum + 3 + countTokens(deployment, m.role) + countTokens(deployment, m.content), 3);
}

/** `--max-tokens max`: the model's context window minus the prompt. */
export function maxOutputTokens(deployment: string, messages: readonly ChatMessage[]): number | undefined {
  const model = inferBaseModel(deployment);
  if (!model) return undefined;
  return Math.max(1, model.contextWindowTokens - countChatTokens(deployment, messages));
}
