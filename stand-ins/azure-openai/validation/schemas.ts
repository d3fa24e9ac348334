/**
 * Request bodies the mock accepts, as JSON Schema (draft 2020-12 subset ajv compiles). Each
 * rule names its source:
 * - [2024-10-21] Azure OpenAI inference, stable 2024-10-21 (azure-rest-api-specs,
 *   specification/cognitiveservices/data-plane/AzureOpenAI/inference/stable/2024-10-21/
 *   inference.yaml: createChatCompletionRequest, chatCompletionRequest*Message,
 *   createCompletionRequest, chatCompletionStreamOptions, azureChatExtensionConfiguration).
 * - [preview] the preview specs the mock accepts (2025-04-01-preview and later) and `/openai/v1/`:
 *   as 2024-10-21, plus the `developer` role (OpenAI API reference,
 *   ChatCompletionRequestDeveloperMessage) and the later On Your Data sources.
 * - [openai] the OpenAI API reference, for the Responses API, which Azure defers to.
 * - [service] what the service refuses though the spec does not say it (the observed
 *   Azure answers): `max_tokens` and `max_completion_tokens` below 1.
 * Unknown fields are accepted everywhere, as Azure accepts them.
 */

export type SchemaVersion = '2024-10-21' | 'preview';

/** `null` allowed too: a `type` widened to [type, 'null'] (keeps one clear error), else anyOf. */
const nullable = (schema: Record<string, unknown>): Record<string, unknown> =>
  typeof schema['type'] === 'string'
    ? { ...schema, type: [schema['type'], 'null'] }
    : { anyOf: [schema, { type: 'null' }] };
const number = (minimum: number, maximum: number): Record<string, unknown> =>
  nullable({ type: 'number', minimum, maximum });
const integer = (minimum: number, maximum?: number): Record<string, unknown> =>
  nullable({ type: 'integer', minimum, ...(maximum !== undefined ? { maximum } : {}) });
const stop = {
  anyOf: [{ type: 'string' }, { type: 'array', minItems: 1, maxItems: 4, items: { type: 'string' } }, { type: 'null' }],
};
const textOrParts = {
  anyOf: [
    { type: 'string' },
    {
      type: 'array',
      minItems: 1,
      items: { type: 'object', required: ['type'], properties: { type: { type: 'string' } } },
    },
  ],
};

/** [2024-10-21] chatCompletionsRequestCommon and createChatCompletionRequest (+ [service] minimums). */
const samplingCommon = {
  temperature: number(0, 2),
  top_p: number(0, 1),
  presence_penalty: number(-2, 2),
  frequency_penalty: number(-2, 2),
  stream: nullable({ type: 'boolean' }),
  stop,
  user: { type: 'string' },
};

const STABLE_ROLES = ['system', 'user', 'assistant', 'tool', 'function'];
/** [preview] adds the developer role. */
const PREVIEW_ROLES = ['system', 'developer', 'user', 'assistant', 'tool', 'function'];
/** [2024-10-21] azureChatExtensionType; [preview] the later sources. */
const STABLE_SOURCES = ['azure_search', 'azure_cosmos_db'];
const PREVIEW_SOURCES = ['azure_search', 'azure_cosmos_db', 'elasticsearch', 'mongo_db', 'pinecone'];

/** [2024-10-21] chatCompletionRequest{System,User,Assistant,Tool,Function}Message: what each role requires. */
function message(roles: readonly string[]): Record<string, unknown> {
  const needs = (role: string, required: string[], content: Record<string, unknown> = textOrParts) => ({
    if: { properties: { role: { const: role } }, required: ['role'] },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then keyword, not a thenable
    then: { required, properties: { content } },
  });
  return {
    type: 'object',
    required: ['role'],
    properties: { role: { type: 'string', enum: roles }, name: { type: 'string' } },
    allOf: [
      needs('system', ['content']),
      needs('developer', ['content']),
      needs('user', ['content']),
      needs('assistant', [], nullable(textOrParts)),
      needs('tool', ['content', 'tool_call_id']),
      needs('function', ['content', 'name'], nullable({ type: 'string' })),
    ],
  };
}

function chat(version: SchemaVersion): Record<string, unknown> {
  return {
    type: 'object',
    required: ['messages'],
    properties: {
      ...samplingCommon,
      messages: { type: 'array', minItems: 1, items: message(version === 'preview' ? PREVIEW_ROLES : STABLE_ROLES) },
      max_tokens: integer(1),
      max_completion_tokens: integer(1),
      n: integer(1, 128),
      logprobs: nullable({ type: 'boolean' }),
      top_logprobs: integer(0, 20),
      seed: nullable({ type: 'integer' }),
      logit_bias: nullable({ type: 'object', additionalProperties: { type: 'integer' } }),
      stream_options: nullable({ type: 'object', properties: { include_usage: { type: 'boolean' } } }),
      response_format: {
        type: 'object',
        required: ['type'],
        properties: { type: { type: 'string', enum: ['text', 'json_object', 'json_schema'] } },
      },
      tools: {
        type: 'array',
        items: {
          type: 'object',
          required: ['type', 'function'],
          properties: {
            type: { type: 'string', enum: ['function'] },
            function: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
          },
        },
      },
      parallel_tool_calls: { type: 'boolean' },
      data_sources: {
        type: 'array',
        items: {
          type: 'object',
          required: ['type'],
          properties: { type: { type: 'string', enum: version === 'preview' ? PREVIEW_SOURCES : STABLE_SOURCES } },
        },
      },
    },
  };
}

/** [2024-10-21] createCompletionRequest. */
const completions = {
  type: 'object',
  required: ['prompt'],
  properties: {
    ...samplingCommon,
    prompt: nullable({ anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] }),
    max_tokens: integer(0),
    n: integer(1, 128),
    best_of: integer(0, 20),
    logprobs: integer(0, 5),
    echo: nullable({ type: 'boolean' }),
    suffix: nullable({ type: 'string' }),
    seed: nullable({ type: 'integer' }),
    logit_bias: nullable({ type: 'object', additionalProperties: { type: 'integer' } }),
    stream_options: nullable({ type: 'object', properties: { include_usage: { type: 'boolean' } } }),
  },
};

/** [openai] Responses: create a model response. */
const responses = {
  type: 'object',
  required: ['input'],
  properties: {
    model: { type: 'string' },
    input: {
      anyOf: [
        { type: 'string' },
        {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              role: { type: 'string', enum: ['user', 'assistant', 'system', 'developer'] },
              content: textOrParts,
            },
          },
        },
      ],
    },
    instructions: nullable({ type: 'string' }),
    max_output_tokens: integer(1),
    temperature: number(0, 2),
    top_p: number(0, 1),
    stream: nullable({ type: 'boolean' }),
    store: nullable({ type: 'boolean' }),
    parallel_tool_calls: nullable({ type: 'boolean' }),
    previous_response_id: nullable({ type: 'string' }),
    truncation: nullable({ type: 'string', enum: ['auto', 'disabled'] }),
    metadata: nullable({ type: 'object', additionalProperties: { type: 'string' } }),
    user: { type: 'string' },
  },
};

export const REQUEST_SCHEMAS = {
  chat: { '2024-10-21': chat('2024-10-21'), preview: chat('preview') },
  completions: { '2024-10-21': completions, preview: completions },
  responses: { '2024-10-21': responses, preview: responses },
} as const;

/**
 * Which rules an api-version gets: a dated stable version the 2024-10-21 rules (the latest
 * stable spec; earlier stables are subsets the mock does not tell apart), a dated preview or
 * the `/openai/v1/` surface the preview rules.
 */
export function schemaVersionFor(apiVersion: string | null): SchemaVersion {
  return apiVersion !== null && /^\d{4}-\d{2}-\d{2}$/.test(apiVersion) ? '2024-10-21' : 'preview';
}
