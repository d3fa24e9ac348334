import { http, type RequestHandler } from 'msw';
import { ControlHeaderError, formatFaults, MOCK_ADMIN_ROUTES, parseFaults, ROUTES } from '../../src/protocol/index.ts';
import { errorAnswer, METHOD_NOT_ALLOWED, RESOURCE_NOT_FOUND, type AzureErrorSpec } from './azure-errors.ts';
import type { MockContext } from './context.ts';
import type { RouteSpec } from './request-gate.ts';
import { serveApi, toResponse, type ApiAnswer, type ApiRequest } from './serve-api.ts';

/** Serves one matched request: the route's params are decoded path segments (`:deployment`). */
export type RouteHandler = (
  request: ApiRequest,
  params: Record<string, string>,
  ctx: MockContext,
) => ApiAnswer | Promise<ApiAnswer>;

/** One path the mock serves, with a handler per method. */
export interface MockRoute {
  /** The URL path, `:name` for one segment (percent-decoded into the params). */
  readonly path: string;
  /**
   * `azure`: an Azure OpenAI route. Only from the root (a path with anything before
   * `/openai/` is 404 `Resource not found`, as Azure answers) and another method is 405.
   * `mock`: the mock's own admin routes. Under any prefix (as msw's `*` before `/_mock/…` matched
   * them) and another method is 404, as it always was.
   */
  readonly scope: 'azure' | 'mock';
  readonly methods: Readonly<Record<string, RouteHandler>>;
  /** API routes: how the route finds its api-version and deployment. */
  readonly spec?: RouteSpec;
}

function apiRoute(path: string, spec: RouteSpec): MockRoute {
  return {
    path,
    scope: 'azure',
    spec,
    methods: { POST: (request, params, ctx) => serveApi(request, spec, params, ctx) },
  };
}

function json(value: unknown, status = 200): ApiAnswer {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

const searchParam = (request: ApiRequest, name: string): string | null => new URL(request.url).searchParams.get(name);

/**
 * Every route the mock serves, in matching order: the Azure OpenAI API routes (POST), then
 * the admin routes (`MOCK_ADMIN_ROUTES`). The one table: the HTTP adapter and msw's handler
 * both answer through `matchRoute` over it.
 */
export const MOCK_ROUTES: readonly MockRoute[] = [
  apiRoute(ROUTES.chat, { versioning: 'dated', deploymentFrom: 'path', api: 'chat' }),
  apiRoute(ROUTES.completions, { versioning: 'dated', deploymentFrom: 'path', api: 'completions' }),
  apiRoute(ROUTES.extensionsChat, {
    versioning: 'dated',
    deploymentFrom: 'path',
    api: 'on-your-data',
    isLegacyExtensions: true,
  }),
  apiRoute(ROUTES.responses, {
    versioning: 'dated',
    minApiVersion: '2025-03-01-preview',
    deploymentFrom: 'body',
    api: 'responses',
  }),
  apiRoute(ROUTES.v1Chat, { versioning: 'v1', deploymentFrom: 'body', api: 'chat' }),
  apiRoute(ROUTES.v1Completions, { versioning: 'v1', deploymentFrom: 'body', api: 'completions' }),
  apiRoute(ROUTES.v1Responses, { versioning: 'v1', deploymentFrom: 'body', api: 'responses' }),
  { path: MOCK_ADMIN_ROUTES.health, scope: 'mock', methods: { GET: () => json({ ok: true }) } },
  { path: MOCK_ADMIN_ROUTES.stats, scope: 'mock', methods: { GET: (_r, _p, ctx) => json(ctx.stats.toJSON()) } },
  {
    path: MOCK_ADMIN_ROUTES.requests,
    scope: 'mock',
    methods: {
      GET: (request, _params, ctx) => {
        const id = searchParam(request, 'id');
        if (id === null) return json(ctx.recorder.list());
        const record = ctx.recorder.get(id);
        return record ? json(record) : json({ error: { code: '404', message: `No request ${id}` } }, 404);
      },
    },
  },
  {
    path: MOCK_ADMIN_ROUTES.pause,
    scope: 'mock',
    methods: {
      POST: (request, _params, ctx) => {
        const ms = Number(searchParam(request, 'ms'));
        if (!Number.isFinite(ms) || ms < 0 || ms > 600_000) {
          return json({ error: { code: '400', message: 'ms must be a number from 0 to 600000' } }, 400);
        }
        ctx.pausedUntilMs = performance.now() + ms;
        return json({ pausedMs: ms });
      },
    },
  },
  {
    path: MOCK_ADMIN_ROUTES.faults,
    scope: 'mock',
    methods: {
      GET: (_request, _params, ctx) => json({ faults: formatFaults(ctx.faults) }),
      PUT: async (request, _params, ctx) => {
        try {
          ctx.faults = parseFaults(await request.text());
        } catch (error) {
          if (!(error instanceof ControlHeaderError)) throw error;
          return json({ error: { code: '400', message: error.message } }, 400);
        }
        return json({ faults: formatFaults(ctx.faults) });
      },
    },
  },
  {
    path: MOCK_ADMIN_ROUTES.reset,
    scope: 'mock',
    methods: {
      POST: (_request, _params, ctx) => {
        ctx.recorder.clear();
        ctx.stats.reset();
        return { status: 204, headers: {}, body: '' };
      },
    },
  },
];

/** What a request's method and path name: a route's handler with its params, or the error to answer. */
export type RouteMatch =
  | { route: MockRoute; handler: RouteHandler; params: Record<string, string>; error?: undefined }
  | { route?: undefined; handler?: undefined; params?: undefined; error: AzureErrorSpec };

const NOT_FOUND: RouteMatch = { error: RESOURCE_NOT_FOUND };
const WRONG_METHOD: RouteMatch = { error: METHOD_NOT_ALLOWED };

/**
 * The table compiled once: each path as a pattern over a URL path (without its query), with
 * what came before it captured (`*` in msw's terms), `:name` for one segment and an optional
 * trailing slash. Case-sensitive, as Azure's routes and msw's matching are.
 */
const COMPILED = MOCK_ROUTES.map((route) => ({
  route,
  handlers: new Map(Object.entries(route.methods)),
  names: [...route.path.matchAll(/:(\w+)/g)].map((match) => match[1]!),
  pattern: new RegExp(`^(.*?)${route.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:\w+/g, '([^/]+)')}/?$`),
}));

/**
 * The one route matcher. The first route whose path the request's path ends with decides:
 * an Azure route named from below the root is 404, with another method 405; an admin route
 * with another method lets the later routes try (so `GET /_mock/faults` and `PUT` are one
 * path); nothing matched is 404. Params are percent-decoded, or kept as sent when the
 * escape is malformed (`%E0%A4%A`), as msw decodes them.
 */
export function matchRoute(method: string, pathname: string): RouteMatch {
  const verb = method.toUpperCase();
  for (const { route, handlers, names, pattern } of COMPILED) {
    const match = pattern.exec(pathname);
    if (match === null) continue;
    if (route.scope === 'azure' && match[1] !== '') return NOT_FOUND;
    const handler = handlers.get(verb);
    if (handler !== undefined) {
      const params: Record<string, string> = {};
      for (let i = 0; i < names.length; i++) params[names[i]!] = decodeSegment(match[i + 2]!);
      return { route, handler, params };
    }
    if (route.scope === 'azure') return WRONG_METHOD;
  }
  return NOT_FOUND;
}

function decodeSegment(segment: string): string {
  if (!segment.includes('%')) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * Answers any request through the route table: what the HTTP adapter serves and what msw's
 * handler wraps. 404 and 405 carry Azure's bodies (no request ids: they never reach serving).
 */
export function createRouter(ctx: MockContext): (request: ApiRequest) => Promise<ApiAnswer> {
  // Not async: an API route's answer is serveApi's own promise, with no wrapper around it.
  return (request) => {
    try {
      const match = matchRoute(request.method, new URL(request.url).pathname);
      if (match.error !== undefined) return Promise.resolve(errorAnswer(match.error, {}));
      return Promise.resolve(match.handler(request, match.params, ctx));
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

/**
 * The mock as msw request handlers, for in-process use with `getResponse(handlers, request)`:
 * one handler for every URL, answering through the same table as the HTTP adapter (an
 * unknown path is the mock's 404, not an unhandled request). Streams are ReadableStreams
 * (`toResponse`).
 */
export function createHandlers(ctx: MockContext): RequestHandler[] {
  const router = createRouter(ctx);
  return [http.all('*', async ({ request }) => toResponse(await router(request)))];
}
