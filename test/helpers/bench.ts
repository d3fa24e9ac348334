import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { createRequester, type RequesterOptions } from '../../src/client/requester.ts';
import type { Timeline } from '../../src/client/timeline.ts';
import type { ApiKind } from '../../src/protocol/index.ts';
import type { Scenario, Target } from '../../src/endpoint/types.ts';

export const KEY_ENV = { TEST_AOAI_KEY: 'test-key-not-a-secret' };

export function mockTarget(mock: MockServer, overrides: Partial<Target> = {}): Target {
  return {
    label: 'direct',
    baseUrl: mock.url,
    apiStyle: 'azure',
    deployment: 'gpt-4o-mini',
    apiVersion: '2024-10-21',
    auth: { kind: 'api-key', envName: 'TEST_AOAI_KEY' },
    ...overrides,
  };
}

export function scenario(mock: MockServer, api: ApiKind = 'chat', overrides: Partial<Scenario> = {}): Scenario {
  const deployment = api === 'completions' ? 'gpt-35-turbo-instruct' : 'gpt-4o-mini';
  return {
    api,
    stream: true,
    maxTokens: undefined,
    target: mockTarget(mock, { deployment }),
    messages: [{ role: 'user', content: 'How should a gateway relay a stream?' }],
    ...(api === 'on-your-data'
      ? {
          dataSources: [
            { type: 'azure_search', parameters: { endpoint: 'https://s.search.windows.net', index_name: 'docs' } },
          ],
        }
      : {}),
    ...overrides,
  };
}

/** One request now, through the real client. */
export async function requestOnce(
  s: Scenario,
  options: RequesterOptions = {},
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Timeline> {
  const requester = await createRequester(s, { env: KEY_ENV, ...options });
  return requester(process.hrtime.bigint(), signal, headers);
}

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
};
