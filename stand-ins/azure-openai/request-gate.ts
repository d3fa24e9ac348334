import { timingSafeEqual } from 'node:crypto';
import {
  CONTROL_HEADERS,
  ControlHeaderError,
  FIRST_API_VERSION_WITH_STREAM_OPTIONS,
  V1_API_VERSIONS,
  isApiVersionAtLeast,
  parseControlHeaders,
  type ApiKind,
  type MockControl,
} from '../../src/protocol/index.ts';
import * as errors from './azure-errors.ts';
import type { AzureErrorSpec } from './azure-errors.ts';
import type { MockContext } from './context.ts';
import type { ModelProfile } from './deployments.ts';
import type { ApiRequest } from './api-request.ts';
import { countPromptTokens } from './prompt-tokens.ts';
import { validateRequestBody } from './validation/validate-request.ts';

/** How a route finds its API version, deployment and API kind. */
export interface RouteSpec {
  /** `dated`: api-version required (YYYY-MM-DD[-preview]); `v1`: optional, v1|preview. */
  versioning: 'dated' | 'v1';
  /** Lowest dated api-version the route accepts. */
  minApiVersion?: string;
  /** Where the deployment name is: the `:deployment` path segment or the body's `model`. */
  deploymentFrom: 'path' | 'body';
  /** The API kind; chat routes become `on-your-data` when the body has data sources. */
  api: ApiKind;
  /** Legacy `/extensions/chat/completions` (camelCase `dataSources`, `messages[]` deltas). */
  isLegacyExtensions?: boolean;
}

/** A request that passed every check Azure would make. */
export interface AdmittedRequest {
  api: ApiKind;
  profile: ModelProfile;
  body: Record<string, unknown>;
  control: MockControl;
  apiVersion: string | null;
  isStream: boolean;
  /** Prompt tokens, counted as the service counts them (prompt-tokens.ts). */
  promptTokens: number;
  /** The output cap the request asked for (max_tokens, max_completion_tokens, max_output_tokens), or the API's default. */
  maxTokens: number | undefined;
}

/** Legacy completions cap output at 16 tokens unless max_tokens says otherwise, as OpenAI does. */
const COMPLETIONS_DEFAULT_MAX_TOKENS = 16;

/**
 * How deep a body's JSON may nest. Microsoft does not document a limit for Azure OpenAI;
 * .NET's System.Text.Json reads 64 levels by default, and a deeper body is answered as JSON
 * it could not parse (400), never a 500.
 */
export const MAX_JSON_DEPTH = 64;

/** Depth of a parsed JSON value, without recursion (a hostile body may nest thousands deep). */
function depthOf(value: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    deepest = Math.max(deepest, depth);
    if (deepest > MAX_JSON_DEPTH) return deepest;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function maxTokensOf(api: ApiKind, body: Record<string, unknown>): number | undefined {
  const raw = api === 'responses' ? body['max_output_tokens'] : (body['max_completion_tokens'] ?? body['max_tokens']);
  if (typeof raw === 'number' && raw > 0) return Math.floor(raw);
  return api === 'completions' ? COMPLETIONS_DEFAULT_MAX_TOKENS : undefined;
}

/** Azure's refusal of a prompt (with the output it asks for) longer than the model's context window. */
function checkContextWindow(
  api: ApiKind,
  profile: ModelProfile,
  promptTokens: number,
  maxTokens: number | undefined,
  asked: boolean,
): AzureErrorSpec | null {
  const window = profile.contextWindowTokens;
  const param = api === 'completions' ? 'prompt' : api === 'responses' ? 'input' : 'messages';
  if (promptTokens > window)
    return errors.badRequest(
      `This model's maximum context length is ${window} tokens. However, your ${param} resulted in ${promptTokens} tokens. Please reduce the length of the ${param}.`,
      param,
      'context_length_exceeded',
    );
  if (asked && maxTokens !== undefined && promptTokens + maxTokens > window) {
    return errors.badRequest(
      `This model's maximum context length is ${window} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the ${param}, ${maxTokens} in the completion). Please reduce the length of the ${param} or completion.`,
      param,
      'context_length_exceeded',
    );
  }
  return null;
}

const DATED_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;
const REQUIRED_FIELD: Record<ApiKind, string> = {
  chat: 'messages',
  'on-your-data': 'messages',
  completions: 'prompt',
  responses: 'input',
};
const OPERATION_NAME: Record<ApiKind, string> = {
  chat: 'chatCompletion',
  'on-your-data': 'chatCompletion',
  completions: 'completion',
  responses: 'responses',
};

function checkApiVersion(url: URL, route: RouteSpec): AzureErrorSpec | null {
  const version = url.searchParams.get('api-version');
  if (route.versioning === 'v1') {
    return version === null || (V1_API_VERSIONS as readonly string[]).includes(version)
      ? null
      : errors.RESOURCE_NOT_FOUND;
  }
  if (version === null || !DATED_VERSION.test(version)) return errors.RESOURCE_NOT_FOUND;
  if (route.minApiVersion !== undefined && !isApiVersionAtLeast(version, route.minApiVersion))
    return errors.RESOURCE_NOT_FOUND;
  return null;
}

function isKeyAccepted(request: ApiRequest, expected: string | undefined): boolean {
  const bearer = request.headers.get('authorization')?.match(/^Bearer\s+(.+)$/i)?.[1];
  const presented = request.headers.get('api-key') ?? bearer ?? '';
  if (presented === '') return false;
  if (expected === undefined) return true;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function parseBody(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Present at all (an empty list or string counts as missing); its type is the schema's to judge. */
function hasRequiredField(api: ApiKind, body: Record<string, unknown>): boolean {
  const value = body[REQUIRED_FIELD[api]];
  if (value === undefined || value === null || value === '') return false;
  return !Array.isArray(value) || value.length > 0;
}

function checkStreamOptions(
  body: Record<string, unknown>,
  apiVersion: string | null,
  isStream: boolean,
): AzureErrorSpec | null {
  if (body['stream_options'] === undefined || body['stream_options'] === null) return null;
  if (
    apiVersion !== null &&
    DATED_VERSION.test(apiVersion) &&
    !isApiVersionAtLeast(apiVersion, FIRST_API_VERSION_WITH_STREAM_OPTIONS)
  ) {
    return errors.badRequest('Unrecognized request argument supplied: stream_options', null, null);
  }
  if (!isStream) {
    return errors.badRequest(
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'stream_options',
      'invalid_value',
    );
  }
  return null;
}

/**
 * Checks a request in the order Azure does: api-version, key, control headers, body size,
 * JSON, deployment, operation, required fields, the body against its version's schema
 * (validation/), stream options. Returns the admitted
 * request or the Azure error to answer with.
 */
export async function admitRequest(
  request: ApiRequest,
  route: RouteSpec,
  params: Record<string, string | readonly string[] | undefined>,
  ctx: MockContext,
): Promise<AdmittedRequest | AzureErrorSpec> {
  const url = new URL(request.url);
  const versionError = checkApiVersion(url, route);
  if (versionError) return versionError;
  if (!isKeyAccepted(request, ctx.config.apiKey)) return errors.UNAUTHORIZED;
  let control: MockControl;
  try {
    control = parseControlHeaders(request.headers);
    // A request's own x-mock-fault wins; without one it gets the mock's standing faults.
    if (!request.headers.has(CONTROL_HEADERS.fault)) control.faults = ctx.faults;
  } catch (error) {
    if (error instanceof ControlHeaderError) return errors.badControlHeader(error.message);
    throw error;
  }
  const text = await request.text();
  if (Buffer.byteLength(text) > ctx.config.maxBodyBytes) return errors.payloadTooLarge(ctx.config.maxBodyBytes);
  const body = parseBody(text);
  if (body === null || depthOf(body) > MAX_JSON_DEPTH) return errors.INVALID_JSON;
  const deploymentName =
    route.deploymentFrom === 'path' ? String(params['deployment'] ?? '') : String(body['model'] ?? '');
  const profile = ctx.config.deployments.get(deploymentName);
  if (!profile) return errors.DEPLOYMENT_NOT_FOUND;
  const hasDataSources = body['data_sources'] !== undefined || body['dataSources'] !== undefined;
  const api: ApiKind = route.api === 'chat' && hasDataSources ? 'on-your-data' : route.api;
  if (!profile.apis.includes(api)) return errors.operationNotSupported(OPERATION_NAME[api], profile.model);
  if (!hasRequiredField(api, body)) return errors.missingParameter(REQUIRED_FIELD[api]);
  const apiVersion = url.searchParams.get('api-version');
  // The legacy /extensions route takes its own camelCase shape; every other route follows its version's schema.
  const invalid = route.isLegacyExtensions
    ? null
    : validateRequestBody(api, route.versioning === 'v1' ? null : apiVersion, body);
  if (invalid) return invalid;
  const isStream = body['stream'] === true;
  const streamOptionsError = checkStreamOptions(body, apiVersion, isStream);
  if (streamOptionsError) return streamOptionsError;
  const promptTokens = await countPromptTokens(api, body, Buffer.byteLength(text));
  const maxTokens = maxTokensOf(api, body);
  const tooLong = checkContextWindow(
    api,
    profile,
    promptTokens,
    maxTokens,
    maxTokens !== undefined && !(api === 'completions' && body['max_tokens'] === undefined),
  );
  if (tooLong) return tooLong;
  return { api, profile, body, control, apiVersion, isStream, promptTokens, maxTokens };
}

export function isAdmitted(value: AdmittedRequest | AzureErrorSpec): value is AdmittedRequest {
  return 'profile' in value;
}
