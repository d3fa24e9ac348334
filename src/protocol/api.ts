/**
 * The Azure OpenAI streaming surfaces this project speaks, and the URL shapes that reach
 * them. Shared by the mock (which serves them) and the harness (which calls them).
 */

/** The streaming APIs covered. `on-your-data` is chat completions with `data_sources`. */
export const API_KINDS = ['chat', 'completions', 'responses', 'on-your-data'] as const;
export type ApiKind = (typeof API_KINDS)[number];

/** The oldest dated api-version that accepts `stream_options` (openai/openai-python#1469). */
export const FIRST_API_VERSION_WITH_STREAM_OPTIONS = '2024-07-01-preview';

/** api-version values accepted on the `/openai/v1/` surface (optional there). */
export const V1_API_VERSIONS = ['v1', 'preview'] as const;

/** Route patterns as msw matches them (`:param` segments, leading `*` for any origin). */
export const ROUTES = {
  chat: '/openai/deployments/:deployment/chat/completions',
  completions: '/openai/deployments/:deployment/completions',
  extensionsChat: '/openai/deployments/:deployment/extensions/chat/completions',
  responses: '/openai/responses',
  v1Chat: '/openai/v1/chat/completions',
  v1Completions: '/openai/v1/completions',
  v1Responses: '/openai/v1/responses',
} as const;

/** The mock's own inspection endpoints (never on a real Azure resource). */
export const MOCK_ADMIN_PREFIX = '/_mock';
export const MOCK_ADMIN_ROUTES = {
  /** GET: recent request records, newest last. `?id=<x-request-id>` for one. */
  requests: `${MOCK_ADMIN_PREFIX}/requests`,
  /** GET: emission lateness and frame counters since start (or last reset). */
  stats: `${MOCK_ADMIN_PREFIX}/stats`,
  /** POST: clears records and stats. */
  reset: `${MOCK_ADMIN_PREFIX}/reset`,
  /** POST `?ms=N`: new API requests wait until N ms from now before they are served (an upstream hiccup). */
  pause: `${MOCK_ADMIN_PREFIX}/pause`,
  /**
   * PUT with a text body `name[=value],…` (as `x-mock-fault` takes it; empty clears): the faults
   * every later request gets unless it sends its own `x-mock-fault`. GET returns them. Lets a lab
   * make one backend of a pool fail while the client's requests stay the same.
   */
  faults: `${MOCK_ADMIN_PREFIX}/faults`,
  /** GET: liveness, 200 with `{ ok: true }`. */
  health: `${MOCK_ADMIN_PREFIX}/health`,
} as const;

/** Compares dated api-versions (`2024-10-21`, `2025-04-01-preview`) by their date part. */
export function isApiVersionAtLeast(apiVersion: string, minimum: string): boolean {
  return apiVersion.slice(0, 10) >= minimum.slice(0, 10);
}
