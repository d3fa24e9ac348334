import { defineLab, findScenario, formatMs, type BenchSummary, type ScenarioSummary } from '../../src/index.ts';

const LOAD = ['--stream', 'on', '--max-tokens', '128', '--requests', '6', '--concurrency', '6', '--warmup', '1', '--path', 'gateway'];

/** The streamed scenario of `api`, every request of which succeeded. */
function only(summary: BenchSummary, api: string): ScenarioSummary {
  const s = findScenario(summary, { api, stream: true });
  if (s.ok < s.requests) throw new Error(`${api}: ${s.requests - s.ok} of ${s.requests} failed (${JSON.stringify(s.errors)})`);
  return s;
}

/** Responses API streaming on both URL shapes, against chat completions, and the bridge between them. */
export default defineLab({
  name: 'responses-api',
  title: 'Responses API streaming: typed events, two URL shapes, and the chat-completions bridge',
  mockArgs: ['--itl-ms', '8', '--output-tokens', '128'],
  async run(lab) {
    await lab.deploy('streaming');
    // The typed events of one Responses stream, in the order they came.
    const tl = await lab.request({ path: 'gateway', api: 'responses', messages: [{ role: 'user', content: 'Why stream a long answer?' }], maxTokens: 512 });
    const events = [...new Set((tl.frames ?? []).map((f) => f.event).filter((e): e is string => e !== undefined))];
    lab.step(`typed events: ${events.join(', ')}`);

    const dated = await lab.bench('dated-preview', ['--api', 'responses,chat', ...LOAD]);
    const v1 = await lab.bench('v1', ['--api-style', 'v1', '--api', 'responses,chat', ...LOAD]);
    const facts: Record<string, number | string | boolean> = {
      typedEvents: events.join(','),
      datedResponsesTtftMs: only(dated, 'responses').ttftMs!.p50,
      v1ResponsesTtftMs: only(v1, 'responses').ttftMs!.p50,
      datedChatTtftMs: only(dated, 'chat').ttftMs!.p50,
    };
    let bridgeSentence = 'The bridge is a local-gateway feature (LiteLLM-style `responses/` models); APIM has no such translation, so it is not measured on Azure.';
    if (lab.target === 'local') {
      const bridged = await lab.bench('bridge', ['--api', 'chat', '--deployment', 'responses/gpt-4o-mini', ...LOAD]);
      const costMs = only(bridged, 'chat').ttftMs!.p50 - only(dated, 'chat').ttftMs!.p50;
      facts['bridgeTtftMs'] = only(bridged, 'chat').ttftMs!.p50;
      facts['bridgeTtftCostMs'] = Math.round(costMs * 10) / 10;
      // Six requests a side: a difference inside the chat scenario's own p50-p95 spread is not a cost.
      const spreadMs = only(dated, 'chat').ttftMs!.p95 - only(dated, 'chat').ttftMs!.p50;
      facts['bridgeCostWithinSpread'] = Math.abs(costMs) <= spreadMs;
      const cost = Math.abs(costMs) <= spreadMs ? `no measurable cost (${costMs >= 0 ? '+' : '−'}${formatMs(Math.abs(costMs))}, inside the ${formatMs(spreadMs)} spread between requests)` : `${formatMs(Math.abs(costMs))} ${costMs >= 0 ? 'more' : 'less'} than chat completions straight through`;
      bridgeSentence = `Serving a chat-completions request from a Responses stream (the gateway's \`responses/gpt-4o-mini\` bridge) gave a first token at ${formatMs(only(bridged, 'chat').ttftMs!.p50)}: ${cost}.`;
    }
    const finding =
      `A Responses stream is typed events (${events.length}: ${events.slice(0, 4).join(', ')}${events.length > 4 ? ', …' : ''}); text arrives as response.output_text.delta. ` +
      `Through the gateway, time to first token was ${formatMs(only(dated, 'responses').ttftMs!.p50)} on the dated preview path (/openai/deployments/…/responses?api-version=2025-04-01-preview) and ${formatMs(only(v1, 'responses').ttftMs!.p50)} on /openai/v1/responses, against ${formatMs(only(dated, 'chat').ttftMs!.p50)} for the same prompt over chat completions. ` +
      bridgeSentence;
    return { finding, facts };
  },
});
