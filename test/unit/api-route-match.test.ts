import { describe, expect, it } from 'vitest';
import { MOCK_ADMIN_ROUTES, ROUTES } from '../../src/protocol/index.ts';
import { METHOD_NOT_ALLOWED, RESOURCE_NOT_FOUND } from '../../stand-ins/azure-openai/azure-errors.ts';
import { MOCK_ROUTES, matchRoute, type MockRoute } from '../../stand-ins/azure-openai/handlers.ts';

// The mock's one route table and its one matcher: the HTTP adapter and msw's handler both
// answer through them (test/integration/mock-routes.test.ts sends the same requests both ways).

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'];
const API = MOCK_ROUTES.filter((route) => route.scope === 'azure');
const ADMIN = MOCK_ROUTES.filter((route) => route.scope === 'mock');
/** A route's path with its one param (`:deployment`) filled in. */
const at = (route: MockRoute, deployment = 'gpt-4o-mini'): string => route.path.replace(':deployment', deployment);
const hasDeployment = (route: MockRoute): boolean => route.path.includes(':deployment');

describe('the mock route table', () => {
  it('holds every API route (POST, with its RouteSpec) and every admin route, each path once', () => {
    expect(API.map((route) => route.path).sort()).toEqual(Object.values(ROUTES).sort());
    expect(ADMIN.map((route) => route.path).sort()).toEqual(Object.values(MOCK_ADMIN_ROUTES).sort());
    for (const route of API) {
      expect(Object.keys(route.methods), route.path).toEqual(['POST']);
      expect(route.spec, route.path).toBeDefined();
    }
    expect(Object.fromEntries(ADMIN.map((route) => [route.path, Object.keys(route.methods).sort()]))).toEqual({
      [MOCK_ADMIN_ROUTES.health]: ['GET'],
      [MOCK_ADMIN_ROUTES.stats]: ['GET'],
      [MOCK_ADMIN_ROUTES.requests]: ['GET'],
      [MOCK_ADMIN_ROUTES.pause]: ['POST'],
      [MOCK_ADMIN_ROUTES.faults]: ['GET', 'PUT'],
      [MOCK_ADMIN_ROUTES.reset]: ['POST'],
    });
    expect(new Set(MOCK_ROUTES.map((route) => route.path)).size).toBe(MOCK_ROUTES.length);
  });

  it('matches every route with each of its methods, with its params, with or without a trailing slash', () => {
    for (const route of MOCK_ROUTES) {
      for (const method of Object.keys(route.methods)) {
        for (const path of [at(route), `${at(route)}/`]) {
          const match = matchRoute(method, path);
          expect(match.route, `${method} ${path}`).toBe(route);
          expect(match.params, `${method} ${path}`).toEqual(hasDeployment(route) ? { deployment: 'gpt-4o-mini' } : {});
        }
      }
    }
    // Methods are matched as msw matched them: case aside.
    expect(matchRoute('post', ROUTES.v1Chat).route?.path).toBe(ROUTES.v1Chat);
  });

  it('tells the API routes apart by their shape (deployment names that look like other routes included)', () => {
    const spec = (method: string, path: string) => matchRoute(method, path).route?.spec;
    expect(spec('POST', '/openai/deployments/v1/chat/completions')).toMatchObject({
      api: 'chat',
      deploymentFrom: 'path',
    });
    expect(spec('POST', '/openai/deployments/chat/completions')).toMatchObject({ api: 'completions' });
    expect(matchRoute('POST', '/openai/deployments/chat/completions').params).toEqual({ deployment: 'chat' });
    expect(spec('POST', '/openai/deployments/x/extensions/chat/completions')).toMatchObject({
      api: 'on-your-data',
      isLegacyExtensions: true,
    });
    expect(spec('POST', '/openai/v1/chat/completions')).toMatchObject({ api: 'chat', versioning: 'v1' });
    expect(spec('POST', '/openai/responses')).toMatchObject({ api: 'responses', versioning: 'dated' });
  });

  it('answers an API path with anything before /openai/ 404 Resource not found, whatever the method (as Azure does)', () => {
    for (const route of API) {
      for (const prefix of ['/proxy', '/openai', '/', '/a/b/c', '/x%20y']) {
        for (const method of METHODS) {
          const match = matchRoute(method, `${prefix}${at(route)}`);
          expect(match.route, `${method} ${prefix}${at(route)}`).toBeUndefined();
          expect(match.error, `${method} ${prefix}${at(route)}`).toBe(RESOURCE_NOT_FOUND);
        }
      }
    }
  });

  it('answers an API path with another method 405 Method Not Allowed (Allow: POST)', () => {
    for (const route of API) {
      for (const method of METHODS.filter((m) => m !== 'POST')) {
        for (const path of [at(route), `${at(route)}/`, at(route, 'my%20dep')]) {
          expect(matchRoute(method, path).error, `${method} ${path}`).toBe(METHOD_NOT_ALLOWED);
        }
      }
    }
    expect(METHOD_NOT_ALLOWED.status).toBe(405);
    expect(METHOD_NOT_ALLOWED.headers).toEqual({ allow: 'POST' });
  });

  it("keeps the admin routes as they were: under any prefix, and another method is 404 (the mock's own, not Azure's)", () => {
    for (const route of ADMIN) {
      const method = Object.keys(route.methods)[0]!;
      expect(matchRoute(method, `/proxy${route.path}`).route, route.path).toBe(route);
      expect(matchRoute(method, `/openai/deployments/x${route.path}`).route, route.path).toBe(route);
      for (const other of METHODS.filter((m) => !(m in route.methods))) {
        expect(matchRoute(other, route.path).error, `${other} ${route.path}`).toBe(RESOURCE_NOT_FOUND);
      }
    }
  });

  it('decodes percent-encoded deployment names, %2F included, as msw decodes params', () => {
    for (const route of API.filter(hasDeployment)) {
      expect(matchRoute('POST', at(route, 'my%20dep%2Fx')).params, route.path).toEqual({ deployment: 'my dep/x' });
      expect(matchRoute('POST', at(route, 'gpt%2D4o%2dmini')).params, route.path).toEqual({
        deployment: 'gpt-4o-mini',
      });
      expect(matchRoute('POST', at(route, '%E2%98%95')).params, route.path).toEqual({ deployment: '\u2615' });
      expect(matchRoute('POST', at(route, 'a.b_c-d~e')).params, route.path).toEqual({ deployment: 'a.b_c-d~e' });
    }
  });

  it('keeps a malformed percent-escape as sent (the route still matches; serving then finds no such deployment)', () => {
    for (const route of API.filter(hasDeployment)) {
      for (const name of ['%E0%A4%A', 'x%', '%zz', '%']) {
        const match = matchRoute('POST', at(route, name));
        expect(match.route, `${route.path} ${name}`).toBe(route);
        expect(match.params, `${route.path} ${name}`).toEqual({ deployment: name });
      }
    }
  });

  it('answers near misses 404: empty or extra segments, a longer path, two trailing slashes, another case, an unknown path', () => {
    const paths = [
      '/',
      '',
      '/openai',
      '/openai/',
      '/openai/unknown',
      '/openai/deployments//chat/completions',
      '/openai/deployments/a/b/chat/completions',
      '/openai/deployments/x/chat/completion',
      '/openai/deployments/x/chat/completions;x=1',
      '/OPENAI/deployments/x/chat/completions',
      '/openai/v1/chat/completions/x',
      '/openai/responses/x',
      '/_mock',
      '/_mock/',
      '/_mock/nope',
      '/_MOCK/health',
      ...MOCK_ROUTES.map((route) => `${at(route)}/extra`),
      ...MOCK_ROUTES.map((route) => `${at(route)}//`),
    ];
    for (const path of paths) {
      for (const method of METHODS) {
        const match = matchRoute(method, path);
        expect(match.route, `${method} ${path}`).toBeUndefined();
        expect(match.error, `${method} ${path}`).toBe(RESOURCE_NOT_FOUND);
      }
    }
  });

  it('never calls something that is not a method handler (an odd method name is a wrong method)', () => {
    for (const method of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'PROPFIND']) {
      expect(matchRoute(method, ROUTES.v1Chat).error, method).toBe(METHOD_NOT_ALLOWED);
      expect(matchRoute(method, MOCK_ADMIN_ROUTES.health).error, method).toBe(RESOURCE_NOT_FOUND);
    }
  });
});
