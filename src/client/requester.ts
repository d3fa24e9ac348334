import http from 'node:http';
import { createAuthHeaders } from '../endpoint/auth.ts';
import { buildRequest } from '../endpoint/build-request.ts';
import type { Scenario } from '../endpoint/types.ts';
import { DEFAULT_TIMEOUTS, runHttpRequest, type RequestTimeouts } from './http-request.ts';
import { DEFAULT_RETRY, withRetry429, type RetryOptions } from './retry.ts';
import { runSdkRequest } from './sdk-request.ts';
import type { Timeline } from './timeline.ts';

export type ClientMode = 'http' | 'sdk';

export interface RequesterOptions {
  client?: ClientMode;
  timeouts?: RequestTimeouts;
  retry?: RetryOptions;
  /** Extra request headers (mock control headers, correlation ids). */
  headers?: Record<string, string>;
  keepFrames?: boolean;
  agent?: http.Agent;
  env?: NodeJS.ProcessEnv;
}

/** Sends one request of a scenario, intended to start at `intendedNs`; never throws. */
export type Requester = (
  intendedNs: bigint,
  signal?: AbortSignal,
  extraHeaders?: Record<string, string>,
) => Promise<Timeline>;

/** A shared keep-alive agent without a socket cap: the load model, not the agent, limits concurrency. */
export function createLoadAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 30_000 });
}

/**
 * Prepares a scenario once (URL, body, auth) and returns the function the load
 * schedulers call per request. Auth failures (a missing key variable) throw here, before
 * the run starts: they are misconfiguration, not outcomes.
 */
export async function createRequester(scenario: Scenario, options: RequesterOptions = {}): Promise<Requester> {
  const built = buildRequest(scenario);
  const body = JSON.stringify(built.body);
  const authHeaders = await createAuthHeaders(scenario.target.auth, options.env);
  const timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
  const retry = options.retry ?? DEFAULT_RETRY;
  const agent = options.agent ?? createLoadAgent();
  const send = (
    auth: Readonly<Record<string, string>>,
    intendedNs: bigint,
    signal: AbortSignal | undefined,
    extraHeaders: Record<string, string> | undefined,
  ): Promise<Timeline> => {
    const headers = { ...auth, ...options.headers, ...extraHeaders };
    if (options.client === 'sdk') {
      return runSdkRequest({ scenario, built, headers, timeouts, intendedNs, ...(signal ? { signal } : {}) });
    }
    return runHttpRequest(
      { api: scenario.api, isStream: scenario.stream, url: built.url, headers, body },
      { intendedNs, timeouts, agent, keepFrames: options.keepFrames === true, ...(signal ? { signal } : {}) },
    );
  };
  // No async function per request: with a key and no retries, the request's promise is the
  // client's own, and nothing else is held while it is in flight.
  return (intendedNs, signal, extraHeaders) =>
    withRetry429(
      () => {
        const auth = authHeaders();
        return auth instanceof Promise
          ? auth.then((ready) => send(ready, intendedNs, signal, extraHeaders))
          : send(auth, intendedNs, signal, extraHeaders);
      },
      retry,
      signal,
    );
}
