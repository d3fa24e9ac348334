import type { EncodingName } from '../protocol/bpe.ts';

/**
 * Base models this harness knows, for picking a tokenizer and the context window behind
 * `--max-tokens max`. Azure deployments are often named by prefixing a base model
 * (`my-org-gpt-4o-mini`), so inference matches the longest known name inside the
 * deployment name.
 */
export interface BaseModel {
  name: string;
  contextWindowTokens: number;
  encoding: EncodingName;
}

const MODELS: readonly BaseModel[] = [
  { name: 'gpt-4o-mini', contextWindowTokens: 128_000, encoding: 'o200k_base' },
  { name: 'gpt-4o', contextWindowTokens: 128_000, encoding: 'o200k_base' },
  { name: 'gpt-4.1-mini', contextWindowTokens: 1_047_576, encoding: 'o200k_base' },
  { name: 'gpt-4.1-nano', contextWindowTokens: 1_047_576, encoding: 'o200k_base' },
  { name: 'gpt-4.1', contextWindowTokens: 1_047_576, encoding: 'o200k_base' },
  { name: 'gpt-5-mini', contextWindowTokens: 400_000, encoding: 'o200k_base' },
  { name: 'gpt-5-nano', contextWindowTokens: 400_000, encoding: 'o200k_base' },
  { name: 'gpt-5', contextWindowTokens: 400_000, encoding: 'o200k_base' },
  { name: 'o4-mini', contextWindowTokens: 200_000, encoding: 'o200k_base' },
  { name: 'o3-mini', contextWindowTokens: 200_000, encoding: 'o200k_base' },
  { name: 'gpt-35-turbo-instruct', contextWindowTokens: 4_096, encoding: 'cl100k_base' },
  { name: 'gpt-35-turbo', contextWindowTokens: 16_385, encoding: 'cl100k_base' },
  { name: 'gpt-3.5-turbo-instruct', contextWindowTokens: 4_096, encoding: 'cl100k_base' },
  { name: 'gpt-3.5-turbo', contextWindowTokens: 16_385, encoding: 'cl100k_base' },
  { name: 'gpt-4-32k', contextWindowTokens: 32_768, encoding: 'cl100k_base' },
  { name: 'gpt-4', contextWindowTokens: 8_192, encoding: 'cl100k_base' },
];

/** The base model a deployment name refers to, or undefined when none is recognised. */
export function inferBaseModel(deployment: string): BaseModel | undefined {
  const name = deployment.toLowerCase();
  let best: BaseModel | undefined;
  for (const model of MODELS) {
    if (name.includes(model.name) && (best === undefined || model.name.length > best.name.length)) best = model;
  }
  return best;
}

/** Tokenizer fallback when the base model is unknown: o200k, the encoding of current models. */
export const DEFAULT_ENCODING: BaseModel['encoding'] = 'o200k_base';
