import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createMockServer, type MockServer, type MockServerOptions } from '../../stand-ins/azure-openai/server.ts';

export const API_VERSION = '2024-10-21';
export const RESPONSES_API_VERSION = '2025-04-01-preview';
export const TEST_KEY = 'test-key-not-a-secret';

/** A fast mock for tests: short TTFT and ITL unless a test asks otherwise. */
export function startFastMock(options: MockServerOptions = {}): Promise<MockServer> {
  return createMockServer({
    timing: { ttftMs: 20, itlMs: 2, jitterMs: 0, outputTokens: 12, ...options.timing },
    ...options,
    host: '127.0.0.1',
    port: 0,
  });
}

export function chatUrl(mock: MockServer, deployment = 'gpt-4o-mini', apiVersion: string | null = API_VERSION): string {
  const query = apiVersion === null ? '' : `?api-version=${apiVersion}`;
  return `${mock.url}/openai/deployments/${deployment}/chat/completions${query}`;
}

export function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'api-key': TEST_KEY, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Reads a real Azure wire capture (vendored from shared/fixtures into test/fixtures/azure-openai). */
export function readFixture(name: string): string {
  return readFileSync(fileURLToPath(new URL(`../fixtures/azure-openai/${name}`, import.meta.url)), 'utf8');
}

export const USER_MESSAGES = [{ role: 'user', content: 'How should a gateway relay a stream?' }];
