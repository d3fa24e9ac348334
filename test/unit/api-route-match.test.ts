import { matchRequestUrl } from 'msw';
import { describe, expect, it } from 'vitest';
import { API_ROUTES, matchApiRoute } from '../../stand-ins/azure-openai/handlers.ts';

/** Paths around every route: prefixes, encoded and odd deployment names, trailing slashes, near misses. */
const PATHS = [
  ...API_ROUTES.map(({ path }) => path.replace(':deployment', 'gpt-4o-mini')),
  ...API_ROUTES.map(({ path }) => `/proxy/prefix${path.replace(':deployment', 'dep')}`),
  ...API_ROUTES.map(({ path }) => `${path.replace(':deployment', 'dep')}/`),
  ...API_ROUTES.map(({ path }) => `${path.replace(':deployment', 'dep')}/extra`),
  ...API_ROUTES.map(({ path }) => path.replace(':deployment', 'my%20dep%2Fx')),
  ...API_ROUTES.map(({ path }) => path.replace(':deployment', 'a.b_c-d~e')),
  '/openai/deployments//chat/completions',
  '/openai/deployments/a/b/chat/completions',
  '/openai/deployments/x/chat/completion',
  '/OPENAI/deployments/x/chat/completions',
  '/openai/v1/chat/completions/x',
  '/openai/responses/x',
  '/',
  '/_mock/stats',
];

describe('the API route matcher', () => {
  it('answers as msw matches the handlers it stands in for (at the root: a prefix before /openai/ is no route, as on Azure), with the same params', () => {
    let matched = 0;
    for (const pathname of PATHS) {
      const url = `http://127.0.0.1:1234${pathname}?api-version=2024-10-21`;
      const byMsw = API_ROUTES.map(({ path, spec }) => ({
        spec,
        match: matchRequestUrl(new URL(url), `http://127.0.0.1:1234${path}`),
      })).find(({ match }) => match.matches);
      const ours = matchApiRoute(new URL(url).pathname);
      expect(ours?.spec, pathname).toBe(byMsw?.spec);
      if (ours && byMsw) {
        matched++;
        expect(ours.params, pathname).toEqual(
          Object.fromEntries(Object.entries(byMsw.match.params ?? {}).filter(([name]) => !/^\d+$/.test(name))),
        );
      }
    }
    expect(matched).toBeGreaterThanOrEqual(API_ROUTES.length * 3);
    for (const { path } of API_ROUTES)
      expect(matchApiRoute(`/proxy/prefix${path.replace(':deployment', 'dep')}`), path).toBeUndefined();
  });
});
