import { getResponse, type RequestHandler } from 'msw';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MockContext } from '../../stand-ins/azure-openai/context.ts';
import { createHandlers, MOCK_ROUTES } from '../../stand-ins/azure-openai/handlers.ts';
import { createMockServer, resolveMockConfig, type MockServer } from '../../stand-ins/azure-openai/server.ts';

// The mock answers through one route table, whether it is served over HTTP (the adapter, no
// msw) or in-process (msw's handler, getResponse). The same requests, both ways, must get the
// same status, body and the headers that matter.

const CONFIG = { timing: { ttftMs: 0, itlMs: 0, jitterMs: 0, outputTokens: 3 } };
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'];

interface Probe {
  method: string;
  /** Path and query. */
  target: string;
  body?: string;
}

interface Seen {
  status: number;
  body: string;
  contentType: string | null;
  allow: string | null;
  hasRequestId: boolean;
}

function deploymentFor(path: string): string {
  return /\/completions$/.test(path) && !path.includes('chat') ? 'gpt-35-turbo-instruct' : 'gpt-4o-mini';
}

function queryFor(path: string): string {
  if (path.startsWith('/openai/v1/')) return '';
  return path.includes('responses') ? '?api-version=2025-04-01-preview' : '?api-version=2024-10-21';
}

function bodyFor(path: string, extra: Record<string, unknown> = {}): string {
  const model = deploymentFor(path);
  return JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], prompt: 'hi', input: 'hi', ...extra });
}

/** Every route under every method, with its near misses, and a few requests that read or change state. */
function probes(): Probe[] {
  const out: Probe[] = [];
  for (const route of MOCK_ROUTES) {
    const root = route.path.replace(':deployment', deploymentFor(route.path));
    const query = queryFor(route.path);
    const paths = [root, `${root}/`, `/proxy${root}`, `/${root}`, `${root}/extra`, `${root}//`, root.toUpperCase()];
    if (route.path.includes(':deployment')) {
      paths.push(route.path.replace(':deployment', 'my%20dep%2Fx'), route.path.replace(':deployment', '%E0%A4%A'));
      paths.push(route.path.replace(':deployment', 'gpt%2D4o-mini'));
    }
    for (const path of paths) {
      for (const method of METHODS) {
        const body = method === 'GET' || method === 'HEAD' ? undefined : bodyFor(route.path);
        out.push({ method, target: `${path}${query}`, body });
      }
    }
    if (route.scope === 'azure') {
      out.push({ method: 'POST', target: `${root}${query}`, body: bodyFor(route.path, { stream: true }) });
      out.push({
        method: 'POST',
        target: `${root}${query}`,
        body: bodyFor(route.path, { stream: true, stream_options: { include_usage: true } }),
      });
      out.push({ method: 'POST', target: `${root}${query}`, body: '{"messages": [' });
      out.push({ method: 'POST', target: root, body: bodyFor(route.path) });
    }
  }
  for (const target of [
    '/',
    '/openai',
    '/openai/unknown',
    '/_mock',
    '/_mock/nope',
    '/openai/deployments//chat/completions',
  ]) {
    for (const method of METHODS) out.push({ method, target });
  }
  out.push(
    { method: 'POST', target: '/_mock/pause?ms=abc' },
    { method: 'POST', target: '/_mock/pause?ms=0' },
    { method: 'GET', target: '/_mock/requests?id=nope' },
    { method: 'PUT', target: '/_mock/faults', body: 'explode' },
    { method: 'PUT', target: '/_mock/faults', body: '' },
  );
  return out;
}

/** `created` is wall-clock seconds; everything else in a seeded answer is the same. */
const normalise = (body: string): string => body.replace(/"created(_at)?":\d+/g, '"created$1":0');

async function read(response: Response, method: string): Promise<Seen> {
  return {
    status: response.status,
    body: method === 'HEAD' ? '' : normalise(await response.text()),
    contentType: response.headers.get('content-type'),
    allow: response.headers.get('allow'),
    hasRequestId: response.headers.has('apim-request-id'),
  };
}

describe('the same requests over HTTP and in-process (msw) get the same answers', () => {
  let mock: MockServer;
  let handlers: RequestHandler[];

  beforeAll(async () => {
    mock = await createMockServer(CONFIG);
    handlers = createHandlers(new MockContext(resolveMockConfig(CONFIG)));
  });
  afterAll(() => mock?.close());

  const headers = { 'api-key': 'k', 'x-mock-seed': '5' };
  const overHttp = async ({ method, target, body }: Probe): Promise<Seen> =>
    read(await fetch(`${mock.url}${target}`, { method, headers, body }), method);
  const inProcess = async ({ method, target, body }: Probe): Promise<Seen> => {
    const response = await getResponse(handlers, new Request(`http://mock.local${target}`, { method, headers, body }));
    expect(response, `${method} ${target}: msw answers every request`).toBeDefined();
    return read(response!, method);
  };
  const reset: Probe = { method: 'POST', target: '/_mock/reset' };

  it('every route, method and near miss: status, body, content-type, Allow and whether it was served', async () => {
    const all = probes();
    expect(all.length).toBeGreaterThan(600);
    const statuses = new Set<number>();
    for (const probe of all) {
      // Each from a clean state, so the admin routes that read it answer alike.
      await overHttp(reset);
      await inProcess(reset);
      const http = await overHttp(probe);
      const local = await inProcess(probe);
      expect(local, `${probe.method} ${probe.target} ${probe.body ?? ''}`).toEqual(http);
      statuses.add(http.status);
    }
    // The set reaches every kind of answer: served, refused, 404, 405, no content.
    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 204, 400, 404, 405]));
  });

  it('state the admin routes read is the same after the same API requests', async () => {
    for (const serve of [overHttp, inProcess]) {
      await serve(reset);
      for (const route of MOCK_ROUTES.filter((r) => r.scope === 'azure')) {
        const root = route.path.replace(':deployment', deploymentFor(route.path));
        await serve({ method: 'POST', target: `${root}${queryFor(route.path)}`, body: bodyFor(route.path) });
      }
    }
    const stats = await Promise.all(
      [overHttp, inProcess].map((serve) => serve({ method: 'GET', target: '/_mock/stats' })),
    );
    expect(stats[1]).toEqual(stats[0]);
    expect(JSON.parse(stats[0]!.body)).toMatchObject({ requests: 7 });
    const records = await Promise.all(
      [overHttp, inProcess].map(async (serve) =>
        (
          JSON.parse((await serve({ method: 'GET', target: '/_mock/requests' })).body) as Array<Record<string, unknown>>
        ).map(({ method, path, api, deployment, status, outcome, isStream }) => ({
          method,
          path,
          api,
          deployment,
          status,
          outcome,
          isStream,
        })),
      ),
    );
    expect(records[1]).toEqual(records[0]);
    expect(records[0]).toHaveLength(7);
  });
});
