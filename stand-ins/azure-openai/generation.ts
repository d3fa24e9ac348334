import type { ApiKind, FaultSet } from '../../src/protocol/index.ts';
import type { ModelProfile, TimingProfile } from './deployments.ts';
import { createPrng, type Prng } from './prng.ts';
import { generateTokens, MULTIBYTE_TOKEN, type TokenSequence } from './corpus.ts';
import { planTokenTimes } from './timing.ts';

/** Everything a frame builder needs to render one response, decided up front. */
export interface Generation {
  api: ApiKind;
  profile: ModelProfile;
  timing: TimingProfile;
  /** Content tokens, one per content frame. */
  tokens: TokenSequence;
  /** Release time of each token, ms after the response started. */
  tokenTimesMs: Float64Array;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  includeUsage: boolean;
  includeObfuscation: boolean;
  /** `chatcmpl-…`, `cmpl-…` or `resp_…` id of the completion. */
  completionId: string;
  /** `msg_…` id of the Responses output item. */
  itemId: string;
  createdSec: number;
  faults: FaultSet;
  prng: Prng;
  /** The request body, for builders that echo parts of it (data sources, instructions). */
  body: Record<string, unknown>;
}

export interface GenerationInput {
  api: ApiKind;
  profile: ModelProfile;
  timing: TimingProfile;
  seed: number;
  maxTokens: number | undefined;
  promptTokens: number;
  includeUsage: boolean;
  includeObfuscation: boolean;
  faults: FaultSet;
  body: Record<string, unknown>;
}

const ID_PREFIX: Record<ApiKind, string> = {
  chat: 'chatcmpl-',
  'on-your-data': 'chatcmpl-',
  completions: 'cmpl-',
  responses: 'resp_',
};

export function planGeneration(input: GenerationInput): Generation {
  const prng = createPrng(input.seed);
  const natural = input.timing.outputTokens;
  const count = input.maxTokens !== undefined ? Math.min(natural, input.maxTokens) : natural;
  const tokens = generateTokens(count, prng);
  if ('split-utf8' in input.faults && tokens.length > 0) {
    tokens.replace(Math.floor(tokens.length / 2), MULTIBYTE_TOKEN);
  }
  const idLength = input.api === 'responses' ? 48 : 29;
  return {
    api: input.api,
    profile: input.profile,
    timing: input.timing,
    tokens,
    tokenTimesMs: planTokenTimes(input.timing, tokens.length, prng),
    finishReason: count < natural ? 'length' : 'stop',
    promptTokens: input.promptTokens,
    includeUsage: input.includeUsage,
    includeObfuscation: input.includeObfuscation,
    completionId: ID_PREFIX[input.api] + (input.api === 'responses' ? hex(prng, idLength) : prng.alnum(idLength)),
    itemId: `msg_${hex(prng, 48)}`,
    createdSec: Math.floor(Date.now() / 1000),
    faults: input.faults,
    prng,
    body: input.body,
  };
}

function hex(prng: Prng, length: number): string {
  return prng.chars('0123456789abcdef', length);
}

/** When the last content token is released (or TTFT for an empty answer). */
export function lastTokenAtMs(gen: Generation): number {
  return gen.tokenTimesMs[gen.tokenTimesMs.length - 1] ?? gen.timing.ttftMs;
}

/** Random obfuscation padding, `[A-Za-z0-9]{1,16}`, or a huge one for the fault. */
export function obfuscation(gen: Generation, padBytes = 0): string {
  return padBytes > 0 ? gen.prng.alnum(padBytes) : gen.prng.alnumSlice(1 + gen.prng.int(16));
}

/** `JSON.stringify(obfuscation(gen))`: the padding is [A-Za-z0-9] only, so quoting it is its JSON. */
export function obfuscationJson(gen: Generation): string {
  return `"${obfuscation(gen)}"`;
}

export const DEFAULT_HUGE_FRAME_BYTES = 1024 * 1024;

export function completionTokens(gen: Generation): number {
  return gen.tokens.length;
}
