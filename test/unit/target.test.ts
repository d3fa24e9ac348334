import { describe, expect, it } from 'vitest';
import { buildRequest } from '../../src/endpoint/build-request.ts';
import { inferBaseModel } from '../../src/endpoint/models.ts';
import { countChatTokens, maxOutputTokens } from '../../src/endpoint/tokens.ts';
import type { Scenario, Target } from '../../src/endpoint/types.ts';

const target = (overrides: Partial<Target> = {}): Target => ({
  label: 'direct',
  baseUrl: 'https://res.openai.azure.com/',
  apiStyle: 'azure',
  deployment: 'my-org-gpt-4o-mini',
  apiVersion: '2024-10-21',
  auth: { kind: 'none' },
  ...overrides,
});
const messages = [{ role: 'user', content: 'Hello there' }];
const scenario = (overrides: Partial<Scenario> = {}): Scenario => ({
  api: 'chat',
  stream: true,
  maxTokens: 64,
  target: target(),
  messages,
  ...overrides,
});

describe('request building', () => {
  it('shapes URLs for each surface', () => {
    expect(buildRequest(scenario()).url).toBe(
      'https://res.openai.azure.com/openai/deployments/my-org-gpt-4o-mini/chat/completions?api-version=2024-10-21',
    );
    expect(buildRequest(scenario({ api: 'completions' })).url).toContain(
      '/openai/deployments/my-org-gpt-4o-mini/completions?api-version=',
    );
    expect(buildRequest(scenario({ api: 'responses' })).url).toBe(
      'https://res.openai.azure.com/openai/responses?api-version=2025-04-01-preview',
    );
    expect(buildRequest(scenario({ target: target({ apiStyle: 'v1' }) })).url).toBe(
      'https://res.openai.azure.com/openai/v1/chat/completions',
    );
    expect(
      buildRequest(
        scenario({ target: target({ apiStyle: 'openai', baseUrl: 'http://localhost:8000/v1' }), api: 'responses' }),
      ).url,
    ).toBe('http://localhost:8000/v1/responses');
  });

  it('asks for usage only where the api-version accepts stream_options', () => {
    expect(buildRequest(scenario()).body['stream_options']).toEqual({ include_usage: true });
    expect(
      buildRequest(scenario({ target: target({ apiVersion: '2024-02-01' }) })).body['stream_options'],
    ).toBeUndefined();
    expect(buildRequest(scenario({ stream: false })).body['stream_options']).toBeUndefined();
    expect(buildRequest(scenario({ api: 'on-your-data', dataSources: [] })).body['stream_options']).toBeUndefined();
  });

  it('puts the deployment in the body where the URL has none, and the cap where each API wants it', () => {
    expect(buildRequest(scenario()).body['model']).toBeUndefined();
    expect(buildRequest(scenario({ api: 'responses' })).body).toMatchObject({
      model: 'my-org-gpt-4o-mini',
      max_output_tokens: 64,
      input: messages,
    });
    expect(
      buildRequest(scenario({ target: target({ deployment: 'prod-o4-mini' }) })).body['max_completion_tokens'],
    ).toBe(64);
    expect(buildRequest(scenario({ api: 'completions' })).body).toMatchObject({
      prompt: 'Hello there',
      max_tokens: 64,
    });
  });
});

describe('base model inference', () => {
  it('finds the longest known model name inside the deployment name', () => {
    expect(inferBaseModel('my-org-gpt-4o-mini')?.name).toBe('gpt-4o-mini');
    expect(inferBaseModel('prod-gpt-4o-eastus')?.name).toBe('gpt-4o');
    expect(inferBaseModel('team-gpt-35-turbo-instruct')?.name).toBe('gpt-35-turbo-instruct');
    expect(inferBaseModel('llama-3-70b')).toBeUndefined();
  });

  it('--max-tokens max is the context window minus the prompt', () => {
    expect(maxOutputTokens('my-org-gpt-4o-mini', messages)).toBe(
      128_000 - countChatTokens('my-org-gpt-4o-mini', messages),
    );
    expect(maxOutputTokens('unknown-model', messages)).toBeUndefined();
  });
});
