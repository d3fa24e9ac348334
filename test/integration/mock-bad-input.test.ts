import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { USER_MESSAGES, chatUrl, post, readFixture, startFastMock } from '../helpers/mock.ts';

// Bad input gets what Azure answers, byte for byte where a capture exists, and never a crash.
let mock: MockServer;
let keyed: MockServer;
beforeAll(async () => {
  mock = await startFastMock({ maxBodyBytes: 2_000 });
  keyed = await startFastMock({ apiKey: 'the-only-key' });
});
afterAll(async () => {
  await mock.close();
  await keyed.close();
});

const BODY = { messages: USER_MESSAGES };

describe('authentication', () => {
  it('a missing key is 401 with the captured Azure body', async () => {
    const response = await fetch(chatUrl(mock), { method: 'POST', body: JSON.stringify(BODY) });
    expect(response.status).toBe(401);
    expect(await response.text()).toBe(readFixture('error-401.json'));
    expect(response.headers.get('apim-request-id')).toBeTruthy();
  });

  it('with MOCK_API_KEY set only that key passes, by api-key or Bearer', async () => {
    expect((await post(chatUrl(keyed), BODY, { 'api-key': 'wrong' })).status).toBe(401);
    expect((await post(chatUrl(keyed), BODY, { 'api-key': 'the-only-key' })).status).toBe(200);
    const bearer = await fetch(chatUrl(keyed), {
      method: 'POST',
      headers: { authorization: 'Bearer the-only-key' },
      body: JSON.stringify(BODY),
    });
    expect(bearer.status).toBe(200);
  });

  it('never records a key', async () => {
    const response = await post(chatUrl(keyed), BODY, { 'api-key': 'the-only-key' });
    const record = keyed.context.recorder.get(response.headers.get('x-request-id')!)!;
    expect(JSON.stringify(record)).not.toContain('the-only-key');
    expect(record.headers['api-key']).toBe('[redacted]');
  });
});

describe('routing and validation', () => {
  it('an unknown deployment is 404 DeploymentNotFound (captured body)', async () => {
    const response = await post(chatUrl(mock, 'nope'), BODY);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe(readFixture('error-404-deployment.json'));
  });

  it('a missing api-version, or an unknown path, is 404 Resource not found (captured body)', async () => {
    const missing = await post(chatUrl(mock, 'gpt-4o-mini', null), BODY);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe(readFixture('error-404-resource.json'));
    const unknown = await post(`${mock.url}/openai/deployments/gpt-4o-mini/embeddings?api-version=2024-10-21`, BODY);
    expect(unknown.status).toBe(404);
    expect(await unknown.text()).toBe(readFixture('error-404-resource.json'));
    const v1Bad = await post(`${mock.url}/openai/v1/chat/completions?api-version=2024-10-21`, {
      ...BODY,
      model: 'gpt-4o-mini',
    });
    expect(v1Bad.status).toBe(404);
  });

  it('invalid JSON and missing messages/input/prompt are 400 invalid_request_error', async () => {
    const invalid = await post(chatUrl(mock), '{"messages": [');
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as any).error.type).toBe('invalid_request_error');
    const noMessages = await post(chatUrl(mock), { stream: true });
    expect(noMessages.status).toBe(400);
    expect(((await noMessages.json()) as any).error).toMatchObject({
      param: 'messages',
      code: 'missing_required_parameter',
    });
    const noInput = await post(`${mock.url}/openai/v1/responses`, { model: 'gpt-4o-mini' });
    expect(((await noInput.json()) as any).error.param).toBe('input');
    const noPrompt = await post(
      `${mock.url}/openai/deployments/gpt-35-turbo-instruct/completions?api-version=2024-10-21`,
      {},
    );
    expect(((await noPrompt.json()) as any).error.param).toBe('prompt');
  });

  it('an oversized body is 413, whether declared or streamed', async () => {
    const big = { messages: [{ role: 'user', content: 'x'.repeat(5_000) }] };
    const response = await post(chatUrl(mock), big);
    expect(response.status).toBe(413);
    expect(((await response.json()) as any).error.code).toBe('RequestEntityTooLarge');
  });

  it('a wrong method is 405 with Allow: POST', async () => {
    const response = await fetch(chatUrl(mock), { method: 'GET', headers: { 'api-key': 'k' } });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
  });

  it('stream_options on an api-version that predates it is 400, as Azure answered', async () => {
    const response = await post(chatUrl(mock, 'gpt-4o-mini', '2023-05-15'), {
      ...BODY,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('stream_options');
  });

  it('a completions-only deployment on chat is 400 OperationNotSupported', async () => {
    const response = await post(chatUrl(mock, 'gpt-35-turbo-instruct'), BODY);
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('OperationNotSupported');
  });

  it('a bad control header is 400 naming the header', async () => {
    const response = await post(chatUrl(mock), BODY, { 'x-mock-ttft-ms': 'soon' });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('x-mock-ttft-ms');
  });

  it('the server is still healthy after all of it', async () => {
    expect((await fetch(`${mock.url}/_mock/health`)).status).toBe(200);
    expect((await post(chatUrl(mock), BODY)).status).toBe(200);
  });
});
