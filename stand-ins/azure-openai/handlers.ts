import { http, HttpResponse, type RequestHandler } from 'msw';
import { ControlHeaderError, formatFaults, MOCK_ADMIN_ROUTES, parseFaults, ROUTES } from '../../src/protocol/index.ts';
import { errorAnswer, METHOD_NOT_ALLOWED, RESOURCE_NOT_FOUND } from './azure-errors.ts';
import type { MockContext } from './context.ts';
import type { RouteSpec } from './request-gate.ts';
import { serveApi, toResponse, type ApiAnswer, type ApiRequest } from './serve-api.ts';

/** Every API route the mock serves, with how each finds its version and deployment. */
export const API_ROUTES: ReadonlyArray<{ path: string; spec: RouteSpec }> = [
  { path: ROUTES.chat, spec: { versioning: 'dated', deploymentFrom: 'path', api: 'chat' } },
  { path: ROUTES.completions, spec: { versioning: 'dated', deploymentFrom: 'path', api: 'completions' } },
  {
    path: ROUTES.extensionsChat,
    spec: { versioning: 'dated', deploymentFrom: 'path', api: 'on-your-data', isLegacyExtensions: true },
  },
  {
    path: ROUTES.responses,
    spec: { versioning: 'dated', minApiVersion: '2025-03-01-preview', deploymentFrom: 'body', api: 'responses' },
  },
  { path: ROUTES.v1Chat, spec: { versioning: 'v1', deploymentFrom: 'body', api: 'chat' } },
  { path: ROUTES.v1Completions, spec: { versioning: 'v1', deploymentFrom: 'body', api: 'completions' } },
  { path: ROUTES.v1Responses, spec: { versioning: 'v1', deploymentFrom: 'body', api: 'responses' } },
];

interface ApiRouteMatch {
  spec: RouteSpec;
  params: Record<string, string>;
}

/**
 * The API routes as patterns on a URL path, anchored at the root as Azure's are (a path with
 * anything before `/openai/` is not a route: Azure answers 404), with `:name` for one segment.
 */
const API_ROUTE_PATTERNS = API_ROUTES.map(({ path, spec }) => ({
  spec,
  names: [...path.matchAll(/:(\w+)/g)].map((match) => match[1]!),
  pattern: new RegExp(`^${path.replace(/:\w+/g, '([^/]+)')}/?$`),
}));

/** Whether a request URL's path is this route from the root (msw's `*${path}` also matches any prefix before it). */
function isAtRoot(url: string, path: string): boolean {
  return new RegExp(`^${path.replace(/:\w+/g, '[^/]+')}/?$`).test(new URL(url).pathname);
}

/**
 * The API route a request path (without its query) names, as msw's handlers would match it,
 * or undefined. The HTTP adapter serves these without msw's per-request work (handler
 * matching over every route, a clone of each request); a unit test holds the two matchers
 * to the same answers.
 */
export function matchApiRoute(pathname: string): ApiRouteMatch | undefined {
  for (const { spec, names, pattern } of API_ROUTE_PATTERNS) {
    const match = pattern.exec(pathname);
    if (match === null) continue;
    const params: Record<string, string> = {};
    try {
      for (const [i, name] of names.entries()) params[name] = decodeURIComponent(match[i + 1]!);
    } catch {
      return undefined;
    }
    return { spec, params };
  }
  return undefined;
}

/**
 * Serves an API route's POST straight from serveApi (no msw on the way), or returns
 * undefined for msw's handlers to answer (admin routes, other methods, other paths).
 */
export function createApiRoute(ctx: MockContext): (request: ApiRequest) => Promise<ApiAnswer> | undefined {
  return (request) => {
    if (request.method !== 'POST') return undefined;
    const match = matchApiRoute(new URL(request.url).pathname);
    return match && serveApi(request, match.spec, match.params, ctx);
  };
}

/**
 * The mock as msw request handlers: usable in-process with `getResponse(handlers, request)`
 * and served over HTTP by http-adapter.ts. POST streams are plain `http.post` handlers
 * returning a ReadableStream (msw's `sse()` only matches GET with an exact Accept header).
 */
export function createHandlers(ctx: MockContext): RequestHandler[] {
  const api = API_ROUTES.flatMap(({ path, spec }) => [
    http.post(`*${path}`, async ({ request, params }) =>
      toResponse(
        isAtRoot(request.url, path) ? await serveApi(request, spec, params, ctx) : errorAnswer(RESOURCE_NOT_FOUND, {}),
      ),
    ),
    http.all(`*${path}`, ({ request }) =>
      toResponse(errorAnswer(isAtRoot(request.url, path) ? METHOD_NOT_ALLOWED : RESOURCE_NOT_FOUND, {})),
    ),
  ]);
  const admin = [
    http.get(`*${MOCK_ADMIN_ROUTES.health}`, () => HttpResponse.json({ ok: true })),
    http.get(`*${MOCK_ADMIN_ROUTES.stats}`, () => HttpResponse.json(ctx.stats.toJSON())),
    http.get(`*${MOCK_ADMIN_ROUTES.requests}`, ({ request }) => {
      const id = new URL(request.url).searchParams.get('id');
      if (id === null) return HttpResponse.json(ctx.recorder.list());
      const record = ctx.recorder.get(id);
      return record
        ? HttpResponse.json(record)
        : HttpResponse.json({ error: { code: '404', message: `No request ${id}` } }, { status: 404 });
    }),
    http.post(`*${MOCK_ADMIN_ROUTES.pause}`, ({ request }) => {
      const ms = Number(new URL(request.url).searchParams.get('ms'));
      if (!Number.isFinite(ms) || ms < 0 || ms > 600_000) {
        return HttpResponse.json(
          { error: { code: '400', message: 'ms must be a number from 0 to 600000' } },
          { status: 400 },
        );
      }
      ctx.pausedUntilMs = performance.now() + ms;
      return HttpResponse.json({ pausedMs: ms });
    }),
    http.get(`*${MOCK_ADMIN_ROUTES.faults}`, () => HttpResponse.json({ faults: formatFaults(ctx.faults) })),
    http.put(`*${MOCK_ADMIN_ROUTES.faults}`, async ({ request }) => {
      try {
        ctx.faults = parseFaults(await request.text());
      } catch (error) {
        if (!(error instanceof ControlHeaderError)) throw error;
        return HttpResponse.json({ error: { code: '400', message: error.message } }, { status: 400 });
      }
      return HttpResponse.json({ faults: formatFaults(ctx.faults) });
    }),
    http.post(`*${MOCK_ADMIN_ROUTES.reset}`, () => {
      ctx.recorder.clear();
      ctx.stats.reset();
      return new HttpResponse(null, { status: 204 });
    }),
  ];
  return [...api, ...admin];
}
