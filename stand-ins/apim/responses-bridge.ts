import { parseStampComment, SseParser } from '../../src/protocol/index.ts';

/**
 * The protocol bridge LLM proxies offer (LiteLLM's `responses/` model prefix): a
 * chat-completions request whose model is `responses/<deployment>` is sent upstream to the
 * Responses API and the answer comes back as chat completions, so a client that only speaks
 * chat completions can use a Responses-only deployment, and the bench can time the cost.
 */
export const BRIDGE_MODEL_PREFIX = 'responses/';
/** Where bridged requests go upstream: the GA v1 Responses path (model in the body). */
export const BRIDGE_UPSTREAM_PATH = '/openai/v1/responses';

/** The bridged deployment when a chat request asks for the bridge, else undefined. */
export function bridgedDeployment(path: string, body: Record<string, unknown> | undefined): string | undefined {
  const classic = /^\/openai\/deployments\/([^/]+)\/chat\/completions$/.exec(path);
  const model = classic
    ? safeDecode(classic[1]!)
    : path === '/openai/v1/chat/completions'
      ? body?.['model']
      : undefined;
  return typeof model === 'string' && model.startsWith(BRIDGE_MODEL_PREFIX) && model.length > BRIDGE_MODEL_PREFIX.length
    ? model.slice(BRIDGE_MODEL_PREFIX.length)
    : undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** Maps a chat-completions body to a Responses body. */
export function toResponsesRequest(chat: Record<string, unknown>, deployment: string): Record<string, unknown> {
  const messages = Array.isArray(chat['messages'])
    ? (chat['messages'] as Array<{ role?: unknown; content?: unknown }>)
    : [];
  const out: Record<string, unknown> = {
    model: deployment,
    input: messages.map((m) => ({ role: m.role, content: m.content })),
    stream: chat['stream'] === true,
  };
  const maxTokens = chat['max_completion_tokens'] ?? chat['max_tokens'];
  if (typeof maxTokens === 'number') out['max_output_tokens'] = maxTokens;
  for (const name of ['temperature', 'top_p', 'user', 'metadata'] as const)
    if (chat[name] !== undefined) out[name] = chat[name];
  return out;
}

interface ResponseObject {
  id?: string;
  created_at?: number;
  model?: string;
  status?: string;
  usage?: { input_tokens?: number; output_tokens?: number; total_tokens?: number };
  output?: Array<{ type?: string; content?: Array<{ type?: string; text?: string }> }>;
  error?: unknown;
}

const finishReason = (r: ResponseObject): string => (r.status === 'incomplete' ? 'length' : 'stop');
const chatUsage = (r: ResponseObject) =>
  r.usage
    ? {
        prompt_tokens: r.usage.input_tokens ?? 0,
        completion_tokens: r.usage.output_tokens ?? 0,
        total_tokens: r.usage.total_tokens ?? 0,
      }
    : undefined;

/** A non-streamed Responses answer as a chat.completion. */
export function toChatCompletion(response: ResponseObject, requestedModel: string): Record<string, unknown> {
  const text = (response.output ?? [])
    .flatMap((item) => item.content ?? [])
    .filter((part) => part.type === 'output_text')
    .map((part) => part.text ?? '')
    .join('');
  return {
    id: `chatcmpl-${response.id ?? ''}`,
    object: 'chat.completion',
    created: response.created_at ?? Math.floor(Date.now() / 1000),
    model: response.model ?? requestedModel,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text, refusal: null },
        finish_reason: finishReason(response),
        logprobs: null,
      },
    ],
    usage: chatUsage(response),
  };
}

/**
 * Re-emits a Responses event stream as chat.completion.chunk frames, incrementally: feed it
 * upstream bytes, it returns the bytes to send. Ground-truth stamps stay with the frame they
 * stamped (a stamp on an event that has no chat equivalent is dropped with it).
 */
export function createStreamBridge(options: { includeUsage: boolean; requestedModel: string }): {
  push(chunk: Uint8Array): string;
  end(): string;
} {
  const decoder = new TextDecoder();
  let out = '';
  let pendingStamp = '';
  let base: { id: string; created: number; model: string } | undefined;
  let hasEnded = false;
  const frame = (choices: unknown[], extra: Record<string, unknown> = {}): void => {
    const b = base ?? { id: 'chatcmpl-bridge', created: Math.floor(Date.now() / 1000), model: options.requestedModel };
    out += `${pendingStamp}data: ${JSON.stringify({ id: b.id, object: 'chat.completion.chunk', created: b.created, model: b.model, system_fingerprint: null, choices, ...extra })}\n\n`;
    pendingStamp = '';
  };
  const finish = (response: ResponseObject): void => {
    frame([{ index: 0, delta: {}, finish_reason: finishReason(response), logprobs: null }]);
    const usage = chatUsage(response);
    if (options.includeUsage && usage) frame([], { usage });
    out += 'data: [DONE]\n\n';
    hasEnded = true;
  };
  const onEvent = (text: string, event: string | undefined): void => {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const type = event ?? (data['type'] as string | undefined);
    const response = data['response'] as ResponseObject | undefined;
    switch (type) {
      case 'response.created':
        base = {
          id: `chatcmpl-${response?.id ?? ''}`,
          created: response?.created_at ?? Math.floor(Date.now() / 1000),
          model: response?.model ?? options.requestedModel,
        };
        frame([
          { index: 0, delta: { role: 'assistant', content: '', refusal: null }, finish_reason: null, logprobs: null },
        ]);
        return;
      case 'response.output_text.delta':
        frame([{ index: 0, delta: { content: data['delta'] }, finish_reason: null, logprobs: null }]);
        return;
      case 'response.completed':
      case 'response.incomplete':
        finish(response ?? {});
        return;
      case 'response.failed':
      case 'error':
        out += `${pendingStamp}data: ${JSON.stringify({ error: (response?.error ?? data['error'] ?? data) as unknown })}\n\n`;
        pendingStamp = '';
        hasEnded = true;
        return;
      default:
        pendingStamp = '';
    }
  };
  const parser = new SseParser({
    onEvent,
    onComment: (comment) => {
      if (parseStampComment(comment) !== undefined) pendingStamp = `:${comment.startsWith(' ') ? '' : ' '}${comment}\n`;
      else out += `:${comment}\n\n`;
    },
  });
  const take = (): string => {
    const result = out;
    out = '';
    return result;
  };
  return {
    push(chunk) {
      if (!hasEnded) parser.feed(decoder.decode(chunk, { stream: true }));
      return take();
    },
    end() {
      if (!hasEnded) parser.feed(`${decoder.decode()}\n\n`);
      return take();
    },
  };
}
