import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import OpenAI, { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { API_VERSION, RESPONSES_API_VERSION, TEST_KEY, USER_MESSAGES, startFastMock } from '../helpers/mock.ts';

// The official SDK is the client the mock must satisfy: if it parses our streams and
// errors the way it parses Azure's, users' own code will too.
let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock();
});
afterAll(() => mock.close());

function azure(deployment: string, apiVersion = API_VERSION): AzureOpenAI {
  return new AzureOpenAI({ endpoint: mock.url, apiKey: TEST_KEY, apiVersion, deployment, maxRetries: 0 });
}
function v1(): OpenAI {
  return new OpenAI({ baseURL: `${mock.url}/openai/v1/`, apiKey: TEST_KEY, maxRetries: 0 });
}

describe('openai SDK against the mock over HTTP', () => {
  it('AzureOpenAI streams chat completions with usage, and the text matches the usage', async () => {
    const stream = await azure('gpt-4o-mini').chat.completions.create({
      model: 'gpt-4o-mini',
      messages: USER_MESSAGES as never,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices).toEqual([]);
    expect((chunks[0] as any).prompt_filter_results).toHaveLength(1);
    expect(chunks[1]!.choices[0]!.delta.role).toBe('assistant');
    const contentChunks = chunks.filter((c) => (c.choices[0]?.delta.content ?? '') !== '');
    const text = contentChunks.map((c) => c.choices[0]!.delta.content).join('');
    const usage = chunks.at(-1)!.usage!;
    expect(usage.completion_tokens).toBe(contentChunks.length);
    expect(usage.completion_tokens).toBe(12);
    expect(usage.prompt_tokens).toBeGreaterThan(5);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(text.length).toBeGreaterThan(10);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks[1]!.model).toBe('gpt-4o-mini-2024-07-18');
    expect(new Set(chunks.slice(1).map((c) => c.id)).size).toBe(1);
    expect(chunks[1]!.id).toMatch(/^chatcmpl-/);
  });

  it("counts a prompt that spells a special token as text, as the service does, with o200k's tokens", async () => {
    const content = 'Explain what <|endoftext|> and <|im_start|> mean in a prompt.';
    const completion = await azure('gpt-4o-mini').chat.completions.create({
      model: 'x',
      messages: [{ role: 'user', content }],
    });
    const tokens = (text: string) => encode(text, { disallowedSpecial: new Set() }).length;
    // OpenAI's chat framing: 3 tokens per message besides its role and content, 3 to prime the reply.
    expect(completion.usage!.prompt_tokens).toBe(3 + 3 + tokens('user') + tokens(content));
  });

  it('.chat.completions.stream() accumulates the final completion', async () => {
    const runner = azure('gpt-4.1-mini').chat.completions.stream({
      model: 'x',
      messages: USER_MESSAGES as never,
      max_tokens: 5,
    });
    const final = await runner.finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('length');
    expect(final.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(final.id).toMatch(/^chatcmpl-/);
  });

  it('non-streaming chat carries usage and the same text a stream would (same seed)', async () => {
    const headers = { 'x-mock-seed': '42' };
    const client = azure('gpt-4o-mini');
    const full = await client.chat.completions.create({ model: 'x', messages: USER_MESSAGES as never }, { headers });
    const stream = await client.chat.completions.create(
      { model: 'x', messages: USER_MESSAGES as never, stream: true },
      { headers },
    );
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(full.choices[0]!.message.content).toBe(text);
    expect(full.usage!.completion_tokens).toBe(12);
    expect(full.id).toBe(
      (await client.chat.completions.create({ model: 'x', messages: USER_MESSAGES as never }, { headers })).id,
    );
  });

  it('OpenAI with a /openai/v1/ base URL streams chat (deployment in model)', async () => {
    const stream = await v1().chat.completions.create({
      model: 'gpt-4.1-mini',
      messages: USER_MESSAGES as never,
      stream: true,
    });
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(text.length).toBeGreaterThan(10);
    expect(finish).toBe('stop');
  });

  it('AzureOpenAI streams legacy completions (default max_tokens 16 applies)', async () => {
    const stream = await azure('gpt-35-turbo-instruct').completions.create({
      model: 'x',
      prompt: 'Say something about gateways',
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((c) => c.choices[0]?.text ?? '').join('');
    expect(chunks[0]!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBe(12);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
    expect(chunks[1]!.object).toBe('text_completion');
    expect(text.length).toBeGreaterThan(5);
    const capped = await azure('gpt-35-turbo-instruct').completions.create({ model: 'x', prompt: 'x', max_tokens: 3 });
    expect(capped.choices[0]!.finish_reason).toBe('length');
    expect(capped.usage!.completion_tokens).toBe(3);
  });

  it('AzureOpenAI streams the Responses API on the dated preview path', async () => {
    const client = azure('gpt-4o-mini', RESPONSES_API_VERSION);
    const stream = await client.responses.create({ model: 'gpt-4o-mini', input: 'Hello', stream: true });
    const events = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[0]!.type).toBe('response.created');
    expect(events.at(-1)!.type).toBe('response.completed');
    const deltas = events.filter((e) => e.type === 'response.output_text.delta');
    expect(deltas).toHaveLength(12);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.usage!.output_tokens).toBe(12);
    expect(completed.response.id).toMatch(/^resp_/);
  });

  it('OpenAI /openai/v1/ responses.stream() resolves the final response text', async () => {
    const stream = v1().responses.stream({ model: 'gpt-4.1-mini', input: 'Hello', max_output_tokens: 4 });
    const final = await stream.finalResponse();
    expect(final.status).toBe('incomplete');
    expect(final.incomplete_details?.reason).toBe('max_output_tokens');
    expect(final.output_text.length).toBeGreaterThan(0);
    expect(final.usage!.output_tokens).toBe(4);
  });

  it('On Your Data: data_sources on chat completions puts citations and intent in the first delta', async () => {
    const stream = await azure('gpt-4o-mini').chat.completions.create({
      model: 'x',
      messages: [{ role: 'user', content: 'How do I stop API Management buffering streaming responses?' }],
      stream: true,
      data_sources: [
        {
          type: 'azure_search',
          parameters: {
            endpoint: 'https://s.search.windows.net',
            index_name: 'docs',
            top_n_documents: 2,
            authentication: { type: 'system_assigned_managed_identity' },
          },
        },
      ],
    } as never);
    const chunks: any[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<any>) chunks.push(chunk);
    const context = chunks[0].choices[0].delta.context;
    expect(context.citations).toHaveLength(2);
    expect(context.citations[0].title).toBe('Streaming through API Management');
    expect(JSON.parse(context.intent)).toHaveLength(1);
    expect(chunks[0].object).toBe('extensions.chat.completion.chunk');
    expect(chunks.at(-1).choices[0].end_turn).toBe(true);
    expect(
      chunks
        .slice(1, -1)
        .map((c) => c.choices[0].delta.content)
        .join('').length,
    ).toBeGreaterThan(5);
  });

  it('maps Azure errors to the SDK error classes', async () => {
    await expect(
      azure('no-such-deployment').chat.completions.create({ model: 'x', messages: USER_MESSAGES as never }),
    ).rejects.toMatchObject({
      status: 404,
      code: 'DeploymentNotFound',
    });
    const bad = new AzureOpenAI({
      endpoint: mock.url,
      apiKey: TEST_KEY,
      apiVersion: API_VERSION,
      deployment: 'gpt-4o-mini',
      maxRetries: 0,
    });
    await expect(
      bad.chat.completions.create(
        { model: 'x', messages: USER_MESSAGES as never },
        { headers: { 'x-mock-fault': '429=1500' } },
      ),
    ).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });
});
