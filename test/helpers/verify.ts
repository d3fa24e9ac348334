import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import type { VerifyPlan, VerifyThresholds } from '../../src/compliance/index.ts';
import type { Target } from '../../src/endpoint/types.ts';
import { API_VERSION, TEST_KEY } from './mock.ts';

export const TEST_KEY_ENV = 'VERIFY_TEST_KEY';

export function testTarget(label: string, baseUrl: string): Target {
  return {
    label,
    baseUrl,
    apiStyle: 'azure',
    deployment: 'gpt-4o-mini',
    apiVersion: API_VERSION,
    auth: { kind: 'api-key', envName: TEST_KEY_ENV },
    completionsDeployment: 'gpt-35-turbo-instruct',
  };
}

/** A plan that verifies `gatewayUrl` against the mock as the direct path and request log. */
export function verifyPlan(
  gatewayUrl: string,
  mock: MockServer,
  thresholds: Partial<VerifyThresholds> = {},
): VerifyPlan {
  return {
    gateway: testTarget('gateway', gatewayUrl),
    direct: testTarget('direct', mock.url),
    apis: ['chat', 'responses'],
    thresholds: { deliveryP99Ms: 50, ttftOverheadMs: 50, idleGapMs: 1500, concurrentStreams: 5, ...thresholds },
    mockAdminUrl: mock.url,
    lint: undefined,
    search: { endpoint: 'https://example.search.windows.net', index: 'docs' },
    env: { [TEST_KEY_ENV]: TEST_KEY },
  };
}
