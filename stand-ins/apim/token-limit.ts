import type { TokenLimitRule } from './policy.ts';

/** APIM's window: a minute. A lab may compress it (`--token-window-ms`) to keep its waits short. */
export const TOKEN_WINDOW_MS = 60_000;

export type Admission = { isAllowed: true; remainingTokens: number } | { isAllowed: false; retryAfterSec: number };

/**
 * `llm-token-limit` / `azure-openai-token-limit` over a sliding minute. A request is refused
 * (429) when the minute's count is already at the limit or, when prompt tokens are
 * estimated, when its estimated prompt would take it over; APIM estimates prompts for every
 * streamed request whatever `estimate-prompt-tokens` says. Tokens are charged as they
 * become known: the estimated prompt on admission, the completion (estimated for streams,
 * from `usage` otherwise) when the response ends. Overruns block later requests until they
 * leave the window, as APIM's docs describe.
 */
export class TokenWindow {
  readonly #rule: TokenLimitRule;
  readonly #now: () => number;
  readonly #windowMs: number;
  #charges: Array<{ atMs: number; tokens: number }> = [];

  constructor(rule: TokenLimitRule, now: () => number = () => performance.now(), windowMs = TOKEN_WINDOW_MS) {
    this.#rule = rule;
    this.#now = now;
    this.#windowMs = windowMs;
  }

  /** Tokens charged within the last window (a minute unless compressed). */
  used(): number {
    const since = this.#now() - this.#windowMs;
    this.#charges = this.#charges.filter((c) => c.atMs > since);
    return this.#charges.reduce((sum, c) => sum + c.tokens, 0);
  }

  admit(promptTokens: number, isPromptEstimated: boolean): Admission {
    const needed = isPromptEstimated ? promptTokens : 0;
    const used = this.used();
    const limit = this.#rule.tokensPerMinute;
    if (used >= limit || used + needed > limit)
      return { isAllowed: false, retryAfterSec: this.#secondsUntilFree(Math.max(1, needed), used) };
    if (isPromptEstimated) this.charge(promptTokens);
    return { isAllowed: true, remainingTokens: Math.max(0, limit - this.used()) };
  }

  charge(tokens: number): void {
    if (tokens > 0) this.#charges.push({ atMs: this.#now(), tokens });
  }

  /** Whole seconds until enough charges leave the window for `needed` more tokens (at least 1). */
  #secondsUntilFree(needed: number, used: number): number {
    let freed = 0;
    const mustFree = used + needed - this.#rule.tokensPerMinute;
    for (const c of this.#charges) {
      freed += c.tokens;
      if (freed >= mustFree) return Math.max(1, Math.ceil((c.atMs + this.#windowMs - this.#now()) / 1000));
    }
    return Math.ceil(this.#windowMs / 1000);
  }
}
