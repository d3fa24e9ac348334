import { FIRST_API_VERSION_WITH_STREAM_OPTIONS, isApiVersionAtLeast, type ApiKind } from '../protocol/index.ts';
import { inferBaseModel } from './models.ts';
import type { Scenario, SearchSource, Target } from './types.ts';

/** The dated api-version used for Responses on the classic surface when the target's is older. */
export const DEFAULT_RESPONSES_API_VERSION = '2025-04-01-preview';
const FIRST_RESPONSES_API_VERSION = '2025-03-01-preview';

export interface BuiltRequest {
  url: string;
  body: Record<string, unknown>;
  /** The stream asks for a usage frame (`stream_options.include_usage`). */
  requestsUsage: boolean;
}

/**
 * Whether this target accepts `stream_options`: Azure dated versions from 2024-07-01-preview,
 * the v1 and OpenAI surfaces always. Not with On Your Data (Azure rejected the pair,
 * Azure/azure-sdk-for-js#30751): those counts come from the tokenizer.
 */
export function acceptsStreamOptions(target: Target, api: ApiKind): boolean {
  if (api === 'on-your-data' || api === 'responses') return false;
  if (target.apiStyle !== 'azure') return true;
  return isApiVersionAtLeast(target.apiVersion, FIRST_API_VERSION_WITH_STREAM_OPTIONS);
}

/** The one place that picks a request's deployment: legacy completions go to the completions deployment. */
export function deploymentFor(target: Target, api: ApiKind): string {
  return api === 'completions' ? (target.completionsDeployment ?? target.deployment) : target.deployment;
}

/** The `data_sources` block of an "On Your Data" request: Azure AI Search, through the resource's managed identity. */
export function azureSearchDataSources(search: SearchSource): unknown[] {
  return [
    {
      type: 'azure_search',
      parameters: {
        endpoint: search.endpoint,
        index_name: search.index,
        authentication: { type: 'system_assigned_managed_identity' },
      },
    },
  ];
}

/** URL and JSON body for one scenario, shaped for the target's surface. */
export function buildRequest(scenario: Scenario): BuiltRequest {
  const { api } = scenario;
  const target = { ...scenario.target, deployment: deploymentFor(scenario.target, api) };
  const requestsUsage = scenario.stream && acceptsStreamOptions(target, api);
  const body = buildBody({ ...scenario, target }, requestsUsage);
  return { url: buildUrl(target, api), body, requestsUsage };
}

function buildUrl(target: Target, api: ApiKind): string {
  const base = target.baseUrl.replace(/\/+$/, '');
  const path = api === 'completions' ? 'completions' : api === 'responses' ? 'responses' : 'chat/completions';
  const deployment = encodeURIComponent(target.deployment);
  switch (target.apiStyle) {
    case 'openai':
      return `${base}/${path}`;
    case 'v1':
      return `${base}/openai/v1/${path}`;
    case 'azure': {
      if (api === 'responses') {
        const version = isApiVersionAtLeast(target.apiVersion, FIRST_RESPONSES_API_VERSION)
          ? target.apiVersion
          : DEFAULT_RESPONSES_API_VERSION;
        return `${base}/openai/responses?api-version=${encodeURIComponent(version)}`;
      }
      return `${base}/openai/deployments/${deployment}/${path}?api-version=${encodeURIComponent(target.apiVersion)}`;
    }
  }
}

/** Reasoning models take `max_completion_tokens`; older ones only know `max_tokens`. */
function usesMaxCompletionTokens(deployment: string): boolean {
  const name = inferBaseModel(deployment)?.name ?? '';
  return /^(o\d|gpt-5)/.test(name);
}

function buildBody(scenario: Scenario, requestsUsage: boolean): Record<string, unknown> {
  const { api, stream, maxTokens, target, messages } = scenario;
  const body: Record<string, unknown> = {};
  const needsModel = target.apiStyle !== 'azure' || api === 'responses';
  if (needsModel) body['model'] = target.deployment;
  if (api === 'completions') body['prompt'] = messages.map((m) => m.content).join('\n');
  else if (api === 'responses') body['input'] = messages.map((m) => ({ role: m.role, content: m.content }));
  else body['messages'] = messages;
  if (maxTokens !== undefined) {
    if (api === 'responses') body['max_output_tokens'] = maxTokens;
    else if (api !== 'completions' && usesMaxCompletionTokens(target.deployment))
      body['max_completion_tokens'] = maxTokens;
    else body['max_tokens'] = maxTokens;
  }
  if (stream) body['stream'] = true;
  if (requestsUsage) body['stream_options'] = { include_usage: true };
  if (api === 'on-your-data') body['data_sources'] = scenario.dataSources ?? [];
  return body;
}
