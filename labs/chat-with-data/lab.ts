import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineLab, findScenario, formatMs, type Timeline } from '../../src/index.ts';

interface Delta {
  content?: string;
  context?: { citations?: Array<{ title: string }>; intent?: string };
}

/** The first-delta context and where content starts, read from the raw frames. */
function readStream(tl: Timeline): {
  contextFrame: number;
  firstContentFrame: number;
  contextAtMs: number;
  citations: string[];
  intent: string;
} {
  let contextFrame = -1;
  let firstContentFrame = -1;
  let contextAtMs = NaN;
  let citations: string[] = [];
  let intent = '';
  (tl.frames ?? []).forEach((frame, i) => {
    if (frame.data === '[DONE]') return;
    let delta: Delta | undefined;
    try {
      delta = (JSON.parse(frame.data) as { choices?: Array<{ delta?: Delta }> }).choices?.[0]?.delta;
    } catch {
      return;
    }
    if (delta?.context && contextFrame < 0) {
      contextFrame = i;
      contextAtMs = frame.arrivalMs;
      citations = (delta.context.citations ?? []).map((c) => c.title);
      intent = delta.context.intent ?? '';
    }
    if (delta?.content && firstContentFrame < 0) firstContentFrame = i;
  });
  return { contextFrame, firstContentFrame, contextAtMs, citations, intent };
}

/** "On Your Data" streaming: citations first, a conversation carried over turns, a truncated reply. */
export default defineLab({
  name: 'chat-with-data',
  title: 'Chat with your data: citations and intent first, then content, over several turns',
  mockArgs: ['--itl-ms', '8', '--output-tokens', '96'],
  async run(lab) {
    await lab.deploy('streaming');
    const questions = JSON.parse(readFileSync(join(lab.labDir, 'conversation.json'), 'utf8')) as string[];
    const messages: Array<{ role: string; content: string }> = [
      { role: 'system', content: 'Answer from the documents only.' },
    ];
    const turns: Array<ReturnType<typeof readStream> & { ttftMs: number; messagesSent: number }> = [];
    for (const question of questions) {
      messages.push({ role: 'user', content: question });
      const tl = await lab.request({
        path: 'gateway',
        api: 'on-your-data',
        messages: [...messages],
        maxTokens: 256,
        dataSources: lab.dataSources(),
      });
      if (tl.outcome !== 'ok')
        throw new Error(`turn ${turns.length + 1} failed: ${tl.outcome} ${tl.errorMessage ?? ''}`);
      turns.push({ ...readStream(tl), ttftMs: tl.firstContentMs ?? NaN, messagesSent: messages.length });
      messages.push({ role: 'assistant', content: tl.text });
    }
    lab.step(`${turns.length} turns: first citations ${turns.map((t) => t.citations[0]).join(' | ')}`);

    // The same question with a cap far below the answer's length: the reply is cut.
    const summary = await lab.bench('bench', [
      '--api',
      'on-your-data',
      '--stream',
      'on',
      '--max-tokens',
      '8,256',
      '--requests',
      '3',
      '--concurrency',
      '3',
      '--warmup',
      '0',
      '--path',
      'gateway',
      '--prompt',
      questions[0]!,
    ]);
    const cut = findScenario(summary, { maxTokens: 8 });
    const whole = findScenario(summary, { maxTokens: 256 });
    const first = turns[0]!;
    const everyTurn = turns.every((t) => t.contextFrame >= 0 && t.contextFrame < t.firstContentFrame);
    const finding =
      `Citations and intent arrived in the first delta (frame ${first.contextFrame + 1}, ${formatMs(first.contextAtMs)}), before any content (from frame ${first.firstContentFrame + 1}, ${formatMs(first.ttftMs)}), ` +
      `${everyTurn ? `on every one of ${turns.length} turns` : 'but not on every turn'}. ` +
      `The conversation was carried over turns (${turns.map((t) => t.messagesSent).join(', ')} messages sent) and each turn's citations followed its latest question: ${turns.map((t) => `"${t.citations[0]}"`).join(', ')}. ` +
      `With max_tokens 8, ${cut.lengthLimited} of ${cut.ok} replies were cut short (finish_reason "length") and reported as truncated; with 256, ${whole.lengthLimited} of ${whole.ok}.`;
    return {
      finding,
      facts: {
        contextBeforeContentOnEveryTurn: everyTurn,
        topCitations: turns.map((t) => t.citations[0]).join(' | '),
        messagesSent: turns.map((t) => t.messagesSent).join(','),
        truncatedAt8: cut.lengthLimited,
        okAt8: cut.ok,
        truncatedAt256: whole.lengthLimited,
      },
    };
  },
});
