import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { API_VERSION, RESPONSES_API_VERSION, TEST_KEY, USER_MESSAGES, post, startFastMock } from '../helpers/mock.ts';

// The mock refuses what Azure refuses: each body below is one rule of the published
// schema (or of the service), sent over real HTTP; the answer must be Azure's 400 with
// `invalid_request_error` and the parameter it names. Valid requests still stream.
let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock();
});
afterAll(() => mock.close());

type Surface =
  | 'chat'
  | 'chat-preview'
  | 'v1-chat'
  | 'completions'
  | 'v1-completions'
  | 'responses'
  | 'v1-responses'
  | 'on-your-data';

function url(surface: Surface): string {
  switch (surface) {
    case 'chat':
    case 'on-your-data':
      return `${mock.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=${API_VERSION}`;
    case 'chat-preview':
      return `${mock.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2025-04-01-preview`;
    case 'v1-chat':
      return `${mock.url}/openai/v1/chat/completions`;
    case 'completions':
      return `${mock.url}/openai/deployments/gpt-35-turbo-instruct/completions?api-version=${API_VERSION}`;
    case 'v1-completions':
      return `${mock.url}/openai/v1/completions`;
    case 'responses':
      return `${mock.url}/openai/responses?api-version=${RESPONSES_API_VERSION}`;
    case 'v1-responses':
      return `${mock.url}/openai/v1/responses`;
  }
}

const chat = (extra: Record<string, unknown>) => ({ messages: USER_MESSAGES, ...extra });
const v1chat = (extra: Record<string, unknown>) => ({ model: 'gpt-4o-mini', messages: USER_MESSAGES, ...extra });
const completion = (extra: Record<string, unknown>) => ({ prompt: 'Say hello', ...extra });
const v1completion = (extra: Record<string, unknown>) => ({
  model: 'gpt-35-turbo-instruct',
  prompt: 'Say hello',
  ...extra,
});
const response = (extra: Record<string, unknown>) => ({ model: 'gpt-4o-mini', input: 'Say hello', ...extra });
const search = {
  type: 'azure_search',
  parameters: {
    endpoint: 'https://s.search.windows.net',
    index_name: 'docs',
    authentication: { type: 'system_assigned_managed_identity' },
  },
};

/** [surface, body, the param Azure names, the error code] */
const REFUSED: Array<[string, Surface, unknown, string, string]> = [
  // The table (chat completions, 2024-10-21).
  ['stream is not a boolean', 'chat', chat({ stream: 'yes' }), 'stream', 'invalid_type'],
  ['max_tokens below the minimum', 'chat', chat({ max_tokens: -5 }), 'max_tokens', 'integer_below_min_value'],
  [
    'max_tokens of 1e309',
    'chat',
    '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":1e309}',
    'max_tokens',
    'invalid_type',
  ],
  ['n above the maximum (128)', 'chat', chat({ n: 1000 }), 'n', 'integer_above_max_value'],
  [
    'a user message without content',
    'chat',
    { messages: [{ role: 'user' }] },
    'messages[0].content',
    'missing_required_parameter',
  ],
  ['temperature above 2', 'chat', chat({ temperature: 7 }), 'temperature', 'decimal_above_max_value'],
  [
    'a role that does not exist',
    'chat',
    { messages: [{ role: 'wizard', content: 'Hi' }] },
    'messages[0].role',
    'invalid_value',
  ],
  // Every rule kind, on every endpoint.
  ['top_p above 1', 'chat', chat({ top_p: 1.5 }), 'top_p', 'decimal_above_max_value'],
  ['presence_penalty below -2', 'chat', chat({ presence_penalty: -3 }), 'presence_penalty', 'decimal_below_min_value'],
  [
    'frequency_penalty above 2',
    'chat',
    chat({ frequency_penalty: 2.5 }),
    'frequency_penalty',
    'decimal_above_max_value',
  ],
  ['n of 0', 'chat', chat({ n: 0 }), 'n', 'integer_below_min_value'],
  ['n not an integer', 'chat', chat({ n: 1.5 }), 'n', 'invalid_type'],
  ['top_logprobs above 20', 'chat', chat({ top_logprobs: 21 }), 'top_logprobs', 'integer_above_max_value'],
  ['five stop sequences', 'chat', chat({ stop: ['a', 'b', 'c', 'd', 'e'] }), 'stop', 'invalid_type'],
  ['an empty messages array', 'chat', { messages: [] }, 'messages', 'missing_required_parameter'],
  ['messages not an array', 'chat', { messages: 'Hi' }, 'messages', 'invalid_type'],
  [
    'a tool message without tool_call_id',
    'chat',
    { messages: [{ role: 'tool', content: 'x' }] },
    'messages[0].tool_call_id',
    'missing_required_parameter',
  ],
  [
    'a function message without name',
    'chat',
    { messages: [{ role: 'function', content: 'x' }] },
    'messages[0].name',
    'missing_required_parameter',
  ],
  [
    'content of the wrong type',
    'chat',
    { messages: [{ role: 'user', content: 42 }] },
    'messages[0].content',
    'invalid_type',
  ],
  [
    'stream_options.include_usage not a boolean',
    'chat',
    chat({ stream: true, stream_options: { include_usage: 'yes' } }),
    'stream_options.include_usage',
    'invalid_type',
  ],
  [
    'response_format of an unknown type',
    'chat',
    chat({ response_format: { type: 'yaml' } }),
    'response_format.type',
    'invalid_value',
  ],
  ['logprobs not a boolean', 'chat', chat({ logprobs: 'all' }), 'logprobs', 'invalid_type'],
  [
    'max_completion_tokens of 0',
    'chat',
    chat({ max_completion_tokens: 0 }),
    'max_completion_tokens',
    'integer_below_min_value',
  ],
  [
    'the developer role on the 2024-10-21 stable',
    'chat',
    {
      messages: [
        { role: 'developer', content: 'Be brief' },
        { role: 'user', content: 'Hi' },
      ],
    },
    'messages[0].role',
    'invalid_value',
  ],
  ['v1 chat: temperature of the wrong type', 'v1-chat', v1chat({ temperature: 'hot' }), 'temperature', 'invalid_type'],
  [
    'v1 chat: a role that does not exist',
    'v1-chat',
    { model: 'gpt-4o-mini', messages: [{ role: 'wizard', content: 'Hi' }] },
    'messages[0].role',
    'invalid_value',
  ],
  ['preview chat: n above 128', 'chat-preview', chat({ n: 129 }), 'n', 'integer_above_max_value'],
  [
    'completions: max_tokens below 0',
    'completions',
    completion({ max_tokens: -1 }),
    'max_tokens',
    'integer_below_min_value',
  ],
  ['completions: logprobs above 5', 'completions', completion({ logprobs: 6 }), 'logprobs', 'integer_above_max_value'],
  ['completions: best_of above 20', 'completions', completion({ best_of: 21 }), 'best_of', 'integer_above_max_value'],
  ['completions: echo not a boolean', 'completions', completion({ echo: 1 }), 'echo', 'invalid_type'],
  ['completions: prompt of the wrong type', 'completions', { prompt: { text: 'Hi' } }, 'prompt', 'invalid_type'],
  [
    'v1 completions: stream not a boolean',
    'v1-completions',
    v1completion({ stream: 'true' }),
    'stream',
    'invalid_type',
  ],
  [
    'responses: temperature above 2',
    'responses',
    response({ temperature: 3 }),
    'temperature',
    'decimal_above_max_value',
  ],
  [
    'responses: max_output_tokens of 0',
    'responses',
    response({ max_output_tokens: 0 }),
    'max_output_tokens',
    'integer_below_min_value',
  ],
  ['responses: input of the wrong type', 'responses', response({ input: 42 }), 'input', 'invalid_type'],
  [
    'v1 responses: an input message with an unknown role',
    'v1-responses',
    response({ input: [{ role: 'wizard', content: 'Hi' }] }),
    'input[0].role',
    'invalid_value',
  ],
  [
    'v1 responses: truncation not one of its values',
    'v1-responses',
    response({ truncation: 'sometimes' }),
    'truncation',
    'invalid_value',
  ],
  // The rules no row above reached: tools, logit_bias, seed, user, parallel_tool_calls, completions' and Responses' own.
  [
    'a tool of a type other than function',
    'chat',
    chat({ tools: [{ type: 'retrieval', function: { name: 'f' } }] }),
    'tools[0].type',
    'invalid_value',
  ],
  [
    'a tool without its function',
    'chat',
    chat({ tools: [{ type: 'function' }] }),
    'tools[0].function',
    'missing_required_parameter',
  ],
  [
    'a tool function without a name',
    'chat',
    chat({ tools: [{ type: 'function', function: { description: 'd' } }] }),
    'tools[0].function.name',
    'missing_required_parameter',
  ],
  ['tools not an array', 'chat', chat({ tools: { type: 'function' } }), 'tools', 'invalid_type'],
  [
    'parallel_tool_calls not a boolean',
    'chat',
    chat({ parallel_tool_calls: 'yes' }),
    'parallel_tool_calls',
    'invalid_type',
  ],
  [
    'a logit_bias that is not an integer',
    'chat',
    chat({ logit_bias: { '50256': 'ban' } }),
    'logit_bias[50256]',
    'invalid_type',
  ],
  ['logit_bias not an object', 'chat', chat({ logit_bias: [1, 2] }), 'logit_bias', 'invalid_type'],
  ['seed not an integer', 'chat', chat({ seed: 1.5 }), 'seed', 'invalid_type'],
  ['user not a string', 'chat', chat({ user: 42 }), 'user', 'invalid_type'],
  ['completions: n above 128', 'completions', completion({ n: 129 }), 'n', 'integer_above_max_value'],
  [
    'completions: a logit_bias that is not an integer',
    'completions',
    completion({ logit_bias: { '50256': 0.5 } }),
    'logit_bias[50256]',
    'invalid_type',
  ],
  ['responses: top_p above 1', 'responses', response({ top_p: 2 }), 'top_p', 'decimal_above_max_value'],
  [
    'responses: parallel_tool_calls not a boolean',
    'responses',
    response({ parallel_tool_calls: 'no' }),
    'parallel_tool_calls',
    'invalid_type',
  ],
  [
    'on your data: a data source of an unknown type on the stable',
    'on-your-data',
    chat({ data_sources: [{ type: 'pinecone', parameters: {} }] }),
    'data_sources[0].type',
    'invalid_value',
  ],
  [
    'on your data: a data source without a type',
    'on-your-data',
    chat({ data_sources: [{ parameters: {} }] }),
    'data_sources[0].type',
    'missing_required_parameter',
  ],
];

describe('the mock refuses what Azure refuses', () => {
  it.each(REFUSED)('%s: 400 invalid_request_error naming the parameter', async (_name, surface, body, param, code) => {
    const answer = await post(url(surface), body);
    const text = await answer.text();
    expect(answer.status, text.slice(0, 300)).toBe(400);
    const { error } = JSON.parse(text) as {
      error: { type: string; param: string | null; code: string; message: string };
    };
    expect(error, text).toMatchObject({ type: 'invalid_request_error', param, code });
    // Azure's wording names the parameter, except for a value outside an enum, which it quotes.
    if (code !== 'invalid_value') expect(error.message).toContain(param);
    // Refused before anything is generated: no stream, Azure's JSON error.
    expect(answer.headers.get('content-type')).toContain('application/json');
  });

  it("words the issue's rows as Azure does", async () => {
    const error = async (surface: Surface, body: unknown) =>
      ((await (await post(url(surface), body)).json()) as { error: { message: string } }).error.message;
    expect(await error('chat', chat({ stream: 'yes' }))).toBe(
      "Invalid type for 'stream': expected a boolean, but got a string instead.",
    );
    expect(await error('chat', chat({ max_tokens: -5 }))).toBe(
      "Invalid 'max_tokens': integer below minimum value. Expected a value >= 1, but got -5 instead.",
    );
    expect(await error('chat', chat({ n: 1000 }))).toBe(
      "Invalid 'n': integer above maximum value. Expected a value <= 128, but got 1000 instead.",
    );
    expect(await error('chat', { messages: [{ role: 'user' }] })).toBe(
      "Missing required parameter: 'messages[0].content'.",
    );
    expect(await error('chat', { messages: [{ role: 'wizard', content: 'Hi' }] })).toBe(
      "Invalid value: 'wizard'. Supported values are: 'system', 'user', 'assistant', 'tool', and 'function'.",
    );
  });

  it('accepts what Azure accepts: unknown fields, nulls, every role of the version, and streams it', async () => {
    const accepted: Array<[Surface, unknown]> = [
      [
        'chat',
        chat({
          stream: true,
          stream_options: { include_usage: true },
          temperature: 0,
          top_p: 1,
          n: 1,
          max_tokens: 8,
          some_future_field: { x: 1 },
        }),
      ],
      ['chat', chat({ temperature: null, max_tokens: null, stop: null, logit_bias: { '50256': -100 } })],
      [
        'chat',
        {
          messages: [
            { role: 'system', content: 'Be brief' },
            { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
            { role: 'assistant', content: null, tool_calls: [] },
            { role: 'tool', content: 'x', tool_call_id: 't1' },
          ],
          max_tokens: 8,
        },
      ],
      [
        'chat-preview',
        {
          messages: [
            { role: 'developer', content: 'Be brief' },
            { role: 'user', content: 'Hi' },
          ],
          max_completion_tokens: 8,
        },
      ],
      [
        'v1-chat',
        {
          model: 'gpt-4o-mini',
          messages: [
            { role: 'developer', content: 'Be brief' },
            { role: 'user', content: 'Hi' },
          ],
          max_tokens: 8,
        },
      ],
      ['on-your-data', chat({ data_sources: [search], stream: true })],
      ['completions', completion({ max_tokens: 0, echo: false, stop: ['\n'] })],
      ['responses', response({ stream: true, max_output_tokens: 8, input: [{ role: 'user', content: 'Hi' }] })],
    ];
    for (const [surface, body] of accepted) {
      const answer = await post(url(surface), body);
      expect(
        answer.status,
        `${surface} ${JSON.stringify(body)}: ${answer.status === 200 ? '' : await answer.text()}`,
      ).toBe(200);
      await answer.arrayBuffer();
    }
  });

  it('the openai SDK still streams through it untouched', async () => {
    const client = new OpenAI({ baseURL: `${mock.url}/openai/v1`, apiKey: TEST_KEY });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'developer', content: 'Be brief' },
        { role: 'user', content: 'Hi' },
      ],
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 8,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'Hi' }],
        temperature: 7,
      }),
    ).rejects.toMatchObject({ status: 400, param: 'temperature', type: 'invalid_request_error' });
  });
});
