import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import { DEFAULT_ENCODING, inferBaseModel } from './models.ts';
import type { ChatMessage } from './types.ts';

const ENCODERS = { o200k_base: o200k, cl100k_base: cl100k } as const;

/** Counts tokens with the deployment's base-model encoding (o200k when unknown). */
export function countTokens(deployment: string, text: string): number {
  if (text === '') return 0;
  const encoding = inferBaseModel(deployment)?.encoding ?? DEFAULT_ENCODING;
  return ENCODERS[encoding].encode(text).length;
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
