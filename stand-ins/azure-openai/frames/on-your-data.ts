import { completionTokens, lastTokenAtMs, type Generation } from '../generation.ts';
import { ContentRun, DATA_FRAME, dataEvent, doneEvent, type PlannedEvent, type PlannedItem } from './event.ts';
import { createJsonTemplate } from './json-template.ts';
import { usage } from './chat.ts';

/**
 * "On Your Data": the mock plays the search index. A small built-in document set is
 * ranked against the last user message; `top_n_documents` (or legacy `topNDocuments`)
 * caps the citations.
 */
const DOCUMENTS = [
  {
    title: 'Streaming through API Management',
    filepath: 'apim-streaming.md',
    url: 'https://contoso.example/docs/apim-streaming',
    content: 'Set buffer-response to false on forward-request so that server-sent events are relayed as they arrive.',
  },
  {
    title: 'Token limits',
    filepath: 'token-limits.md',
    url: 'https://contoso.example/docs/token-limits',
    content:
      'The token limit policy estimates prompt tokens for streamed requests and answers 429 with retry-after when the limit is reached.',
  },
  {
    title: 'Diagnostics and logging',
    filepath: 'diagnostics.md',
    url: 'https://contoso.example/docs/diagnostics',
    content: 'Logging response bodies in diagnostics buffers the whole stream; log headers only for streaming APIs.',
  },
  {
    title: 'Caring for a dog',
    filepath: 'dog-care.md',
    url: 'https://contoso.example/docs/dog-care',
    content: 'Dogs need daily exercise, fresh water and regular visits to the vet.',
  },
];

interface Citation {
  content: string;
  title: string;
  url: string;
  filepath: string;
  chunk_id: string;
}

export function citationsFor(query: string, topN: number): Citation[] {
  const words = new Set(
    query
      .toLowerCase()
      .split(/\W+/)
      .filter((w) => w.length > 2),
  );
  const scored = DOCUMENTS.map((doc, index) => ({
    doc,
    index,
    score: `${doc.title} ${doc.content}`
      .toLowerCase()
      .split(/\W+/)
      .filter((w) => words.has(w)).length,
  }));
  scored.sort((a, b) => b.score - a.score || a.index - b.index);
  return scored.slice(0, Math.max(1, topN)).map(({ doc }, i) => ({ ...doc, chunk_id: String(i) }));
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = Array.isArray(body['messages'])
    ? (body['messages'] as Array<{ role?: string; content?: unknown }>)
    : [];
  const user = [...messages].reverse().find((m) => m.role === 'user');
  return typeof user?.content === 'string' ? user.content : '';
}

function dataSourceParams(body: Record<string, unknown>): Record<string, unknown> {
  const sources = (body['data_sources'] ?? body['dataSources']) as
    | Array<{ parameters?: Record<string, unknown> }>
    | undefined;
  return sources?.[0]?.parameters ?? {};
}

export function contextFor(gen: Generation): { citations: Citation[]; intent: string } {
  const params = dataSourceParams(gen.body);
  const topN = Number(params['top_n_documents'] ?? params['topNDocuments'] ?? 3);
  const query = lastUserText(gen.body);
  return { citations: citationsFor(query, topN), intent: JSON.stringify([query.slice(0, 60)]) };
}

const OBJECT = 'extensions.chat.completion.chunk';

/** Current API (`data_sources` on chat completions): citations and intent in the first delta's `context`. */
export function* onYourDataStreamEvents(gen: Generation): Generator<PlannedItem> {
  const first = gen.tokenTimesMs[0] ?? gen.timing.ttftMs;
  const end = lastTokenAtMs(gen);
  const base = { id: gen.completionId, model: gen.profile.model, created: gen.createdSec, object: OBJECT };
  yield dataEvent(first, {
    ...base,
    choices: [
      { index: 0, delta: { role: 'assistant', context: contextFor(gen) }, end_turn: false, finish_reason: null },
    ],
  });
  const contentFrame = createJsonTemplate(
    1,
    ([token]) => ({
      ...base,
      choices: [{ index: 0, delta: { content: token }, end_turn: false, finish_reason: null }],
    }),
    ...DATA_FRAME,
  );
  if (gen.tokens.length > 0)
    yield new ContentRun(gen.tokenTimesMs, 0, gen.tokens.length, (i) => contentFrame.fromJson([gen.tokens.json(i)]));
  yield dataEvent(end, {
    ...base,
    choices: [{ index: 0, delta: {}, end_turn: true, finish_reason: gen.finishReason }],
  });
  if (gen.includeUsage) yield dataEvent(end, { ...base, choices: [], usage: usage(gen) });
  yield doneEvent(end);
}

/** Legacy `/extensions/chat/completions`: `choices[0].messages[j].delta`, a `tool` message with the citations JSON first. */
export function* legacyExtensionsStreamEvents(gen: Generation): Generator<PlannedEvent> {
  const first = gen.tokenTimesMs[0] ?? gen.timing.ttftMs;
  const end = lastTokenAtMs(gen);
  const base = { id: gen.completionId, model: gen.profile.model, created: gen.createdSec, object: OBJECT };
  const message = (delta: Record<string, unknown>, endTurn: boolean) => [{ index: 0, delta, end_turn: endTurn }];
  yield dataEvent(first, {
    ...base,
    choices: [
      {
        index: 0,
        finish_reason: null,
        messages: message({ role: 'tool', content: JSON.stringify(contextFor(gen)) }, false),
      },
    ],
  });
  yield dataEvent(first, {
    ...base,
    choices: [{ index: 0, finish_reason: null, messages: message({ role: 'assistant', content: null }, false) }],
  });
  for (let i = 0; i < gen.tokens.length; i++) {
    yield dataEvent(
      gen.tokenTimesMs[i]!,
      {
        ...base,
        choices: [{ index: 0, finish_reason: null, messages: message({ content: gen.tokens.at(i) }, false) }],
      },
      true,
    );
  }
  yield dataEvent(end, {
    ...base,
    choices: [{ index: 0, finish_reason: gen.finishReason, messages: message({}, true) }],
  });
  yield doneEvent(end);
}

export function onYourDataBody(gen: Generation, legacy: boolean): Record<string, unknown> {
  const context = contextFor(gen);
  const content = gen.tokens.join();
  const completion = completionTokens(gen);
  const base = {
    id: gen.completionId,
    model: gen.profile.model,
    created: gen.createdSec,
    object: 'extensions.chat.completion',
  };
  const usageBody = {
    prompt_tokens: gen.promptTokens,
    completion_tokens: completion,
    total_tokens: gen.promptTokens + completion,
  };
  if (legacy) {
    return {
      ...base,
      choices: [
        {
          index: 0,
          finish_reason: gen.finishReason,
          messages: [
            { role: 'tool', content: JSON.stringify(context), end_turn: false },
            { role: 'assistant', content, end_turn: true },
          ],
        },
      ],
      usage: usageBody,
    };
  }
  return {
    ...base,
    choices: [
      { index: 0, finish_reason: gen.finishReason, message: { role: 'assistant', content, end_turn: true, context } },
    ],
    usage: usageBody,
  };
}
