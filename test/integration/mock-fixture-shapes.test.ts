import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import {
  API_VERSION,
  RESPONSES_API_VERSION,
  USER_MESSAGES,
  chatUrl,
  post,
  readFixture,
  startFastMock,
} from '../helpers/mock.ts';
import { fixtureFrames, jsonFrames, readSse } from '../helpers/sse.ts';

// Compares the mock's frames with real Azure captures, field by field: same keys at every
// level that matters, same constant values (ids empty on the filter frame, object names,
// null usage on non-final frames), and byte-level framing.

let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock();
});
afterAll(() => mock.close());

function keys(value: unknown): string[] {
  return value !== null && typeof value === 'object' ? Object.keys(value).sort() : [];
}

describe('chat stream vs chat-stream-2026-usage-obfuscation.sse', () => {
  it('has the same frame sequence, keys and constant values', async () => {
    const fixture = fixtureFrames(readFixture('chat-stream-2026-usage-obfuscation.sse'));
    const response = await post(chatUrl(mock, 'gpt-4o-mini'), {
      messages: USER_MESSAGES,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const frames = jsonFrames(await readSse(response));
    const [fFilter, fRole, fContent, fFinish, fUsage, fDone] = fixture;
    const [filter, role] = frames;
    const content = frames[2]!;
    const finish = frames.at(-2)!;
    const usage = frames.at(-1)!;

    // prompt-filter frame: identical, key for key and value for value.
    expect(filter).toEqual(fFilter!.data);
    // role frame: same keys everywhere; same delta.
    expect(keys(role)).toEqual(keys(fRole!.data));
    expect(role!['choices'][0].delta).toEqual(fRole!.data['choices'][0].delta);
    expect(keys(role!['choices'][0])).toEqual(keys(fRole!.data['choices'][0]));
    expect(role!['usage']).toBeNull();
    expect(role!['service_tier']).toBe('default');
    // content frame: same keys; a superset of the filter categories the capture had.
    expect(keys(content)).toEqual(keys(fContent!.data));
    expect(keys(content['choices'][0])).toEqual(keys(fContent!.data['choices'][0]));
    expect(keys(content['choices'][0].content_filter_results)).toEqual(
      expect.arrayContaining(keys(fContent!.data['choices'][0].content_filter_results)),
    );
    // finish frame.
    expect(keys(finish)).toEqual(keys(fFinish!.data));
    expect(finish['choices'][0]).toMatchObject({ delta: {}, finish_reason: 'stop', content_filter_results: {} });
    // usage frame: all keys but Azure's optional latency_checkpoint; usage keys deep-equal.
    expect(keys(usage)).toEqual(keys(fUsage!.data).filter((k) => k !== 'latency_checkpoint'));
    expect(keys(usage['usage'])).toEqual(keys(fUsage!.data['usage']));
    expect(keys(usage['usage'].completion_tokens_details)).toEqual(
      keys(fUsage!.data['usage'].completion_tokens_details),
    );
    expect(usage['choices']).toEqual([]);
    expect(fDone!.data).toEqual({ done: true });
  });

  it('frames are `data: <json>\\n\\n`, keys in alphabetical order, ending with exactly one data: [DONE]', async () => {
    const response = await post(chatUrl(mock), { messages: USER_MESSAGES, stream: true });
    const text = new TextDecoder().decode((await readSse(response)).raw);
    const blocks = text.split('\n\n');
    expect(blocks.at(-1)).toBe('');
    expect(blocks.at(-2)).toBe('data: [DONE]');
    for (const block of blocks.slice(0, -2)) {
      expect(block).toMatch(/^data: \{.*\}$/);
      const parsed = JSON.parse(block.slice(6));
      if (parsed.id !== '') expect(Object.keys(parsed)).toEqual(Object.keys(parsed).sort());
    }
    expect(text.match(/\[DONE\]/g)).toHaveLength(1);
    // No include_usage: no usage key at all (Azure only adds usage:null when asked).
    expect(text).not.toContain('"usage"');
  });

  it('omits obfuscation when include_obfuscation is false', async () => {
    const response = await post(chatUrl(mock), {
      messages: USER_MESSAGES,
      stream: true,
      stream_options: { include_obfuscation: false },
    });
    const frames = jsonFrames(await readSse(response));
    expect(frames.some((f) => 'obfuscation' in f)).toBe(false);
    const withIt = jsonFrames(await readSse(await post(chatUrl(mock), { messages: USER_MESSAGES, stream: true })));
    expect(
      withIt.slice(1).every((f) => typeof f['obfuscation'] === 'string' && /^[A-Za-z0-9]+$/.test(f['obfuscation'])),
    ).toBe(true);
  });
});

describe('other APIs vs their captures', () => {
  it('responses stream has the fixture event sequence and every fixture key', async () => {
    const fixture = fixtureFrames(readFixture('responses-stream.sse'));
    const response = await post(
      `${mock.url}/openai/responses?api-version=${RESPONSES_API_VERSION}`,
      {
        model: 'gpt-4o-mini',
        input: 'Hi',
        stream: true,
      },
      { 'x-mock-output-tokens': '2' },
    );
    const stream = await readSse(response);
    expect(stream.events.map((e) => e.event)).toEqual(fixture.map((f) => f.event));
    const frames = jsonFrames(stream);
    frames.forEach((frame, i) => {
      const expected = fixture[i]!.data;
      expect(frame['type']).toBe(stream.events[i]!.event);
      expect(keys(frame)).toEqual(expect.arrayContaining(keys(expected)));
      for (const nested of ['response', 'item', 'part'] as const) {
        if (expected[nested]) expect(keys(frame[nested])).toEqual(expect.arrayContaining(keys(expected[nested])));
      }
    });
    expect(new TextDecoder().decode(stream.raw)).not.toContain('[DONE]');
  });

  it('completions stream keeps the capture keys and adds Azure prompt/content filter results', async () => {
    const fixture = fixtureFrames(readFixture('completions-stream.sse'));
    const response = await post(
      `${mock.url}/openai/deployments/gpt-35-turbo-instruct/completions?api-version=${API_VERSION}`,
      {
        prompt: 'Hi',
        stream: true,
        stream_options: { include_usage: true },
      },
    );
    const frames = jsonFrames(await readSse(response));
    expect(frames[0]).toMatchObject({ choices: [], id: '', prompt_filter_results: expect.any(Array) });
    const [fContent, fFinish, fUsage] = fixture;
    expect(keys(frames[1])).toEqual(keys(fContent!.data));
    expect(keys(frames[1]!['choices'][0])).toEqual(
      [...keys(fContent!.data['choices'][0]), 'content_filter_results'].sort(),
    );
    expect(frames.at(-2)!['choices'][0].finish_reason).toBe(fFinish!.data['choices'][0].finish_reason);
    expect(keys(frames.at(-1))).toEqual(keys(fUsage!.data));
  });

  it('On Your Data stream has the capture frame keys', async () => {
    const fixture = fixtureFrames(readFixture('on-your-data-stream.sse'));
    const response = await post(chatUrl(mock), {
      messages: [{ role: 'user', content: 'What is the meaning of life?' }],
      stream: true,
      data_sources: [
        { type: 'azure_search', parameters: { endpoint: 'https://s.search.windows.net', index_name: 'i' } },
      ],
    });
    const frames = jsonFrames(await readSse(response));
    const [fFirst, fContent, fLast] = fixture;
    expect(keys(frames[0])).toEqual(keys(fFirst!.data));
    expect(keys(frames[0]!['choices'][0])).toEqual(keys(fFirst!.data['choices'][0]));
    expect(keys(frames[0]!['choices'][0].delta)).toEqual(keys(fFirst!.data['choices'][0].delta));
    expect(keys(frames[0]!['choices'][0].delta.context.citations[0])).toEqual(
      keys(fFirst!.data['choices'][0].delta.context.citations[0]),
    );
    expect(typeof frames[0]!['choices'][0].delta.context.intent).toBe('string');
    expect(keys(frames[1]!['choices'][0])).toEqual(keys(fContent!.data['choices'][0]));
    expect(frames.at(-1)!['choices'][0]).toEqual(fLast!.data['choices'][0]);
  });

  it('legacy /extensions/chat/completions streams messages[] deltas with a tool message first', async () => {
    const response = await post(
      `${mock.url}/openai/deployments/gpt-4o-mini/extensions/chat/completions?api-version=2023-12-01-preview`,
      {
        messages: USER_MESSAGES,
        stream: true,
        dataSources: [
          {
            type: 'AzureCognitiveSearch',
            parameters: { endpoint: 'https://s.search.windows.net', indexName: 'i', topNDocuments: 1 },
          },
        ],
      },
    );
    const frames = jsonFrames(await readSse(response));
    const tool = frames[0]!['choices'][0].messages[0].delta;
    expect(tool.role).toBe('tool');
    expect(JSON.parse(tool.content).citations).toHaveLength(1);
    expect(frames[1]!['choices'][0].messages[0].delta.role).toBe('assistant');
    expect(frames.at(-1)!['choices'][0].messages[0].end_turn).toBe(true);
  });
});
