import { setTimeout as sleep } from 'node:timers/promises';
import type { Timeline } from './timeline.ts';

/** What to do with a 429: count it as an outcome, or wait as told and try again. */
export type Retry429Policy = 'none' | 'honor';

export interface RetryOptions {
  policy: Retry429Policy;
  /** Longest single wait honoured; a longer retry-after ends the request as http_429. */
  maxWaitMs: number;
  /** Most attempts in all. */
  maxAttempts: number;
}

export const DEFAULT_RETRY: RetryOptions = { policy: 'none', maxWaitMs: 60_000, maxAttempts: 5 };

/**
 * Runs `attempt` and, under `honor`, retries 429s after `retry-after-ms` (or `retry-after`).
 * Every attempt shares the first attempt's intended start, so latency includes the waits:
 * what a user behind the throttle would see.
 */
export function withRetry429(
  attempt: () => Promise<Timeline>,
  options: RetryOptions,
  signal?: AbortSignal,
): Promise<Timeline> {
  // Without retries, the attempt's own promise: no async frame held per in-flight request.
  return options.policy === 'honor' ? retrying(attempt, options, signal) : attempt();
}

async function retrying(
  attempt: () => Promise<Timeline>,
  options: RetryOptions,
  signal?: AbortSignal,
): Promise<Timeline> {
  let timeline = await attempt();
  let attempts = 1;
  while (
    options.policy === 'honor' &&
    timeline.outcome === 'http_429' &&
    attempts < options.maxAttempts &&
    (timeline.retryAfterMs ?? 1000) <= options.maxWaitMs &&
    !signal?.aborted
  ) {
    try {
      await sleep(timeline.retryAfterMs ?? 1000, undefined, signal ? { signal } : undefined);
    } catch {
      break;
    }
    attempts++;
    timeline = await attempt();
  }
  timeline.attempts = attempts;
  return timeline;
}
