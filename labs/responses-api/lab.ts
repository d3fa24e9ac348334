import {
  defineLab,
  describeShift,
  findScenario,
  formatControlHeaders,
  formatMs,
  interleavedSlot,
  pairedShift,
  type BenchSummary,
  type LabContext,
  type ScenarioSummary,
} from '../../src/index.ts';

const LOAD = [
  '--stream',
  'on',
  '--max-tokens',
  '128',
  '--requests',
  '6',
  '--concurrency',
  '6',
  '--warmup',
  '1',
  '--path',
  'gateway',
];

/** The streamed scenario of `api`, every request of which succeeded. */
function only(summary: BenchSummary, api: string): ScenarioSummary {
  const s = findScenario(summary, { api, stream: true });
  if (s.ok < s.requests)
    throw new Error(`${api}: ${s.requests - s.ok} of ${s.requests} failed (${JSON.stringify(s.errors)})`);
  return s;
}

const BRIDGE_PAIRS = 12;

/**
 * The bridge against plain chat completions, as the bench compares paths: pairs of requests
 * with the same mock seed, run in the counterbalanced order, and the same estimator
 * (Hodges–Lehmann shift, Wilcoxon interval). Returns bridged − plain TTFT per pair.
 */
async function bridgeDifferences(
  lab: LabContext,
): Promise<{ differences: Array<number | undefined>; bridgedTtftMs: number[] }> {
  const differences: Array<number | undefined> = [];
  const bridgedTtftMs: number[] = [];
  for (let round = 0; round < BRIDGE_PAIRS; round++) {
    const ttft: Array<number | undefined> = [];
    for (const slot of [0, 1]) {
      const { path } = interleavedSlot(round * 2 + slot, 2);
      const tl = await lab.request({
        path: 'gateway',
        api: 'chat',
        maxTokens: 32,
        messages: [{ role: 'user', content: 'Why stream a long answer?' }],
        headers: formatControlHeaders({ seed: 7000 + round }),
        ...(path === 1 ? { deployment: 'responses/gpt-4o-mini' } : {}),
      });
      ttft[path] = tl.outcome === 'ok' ? tl.firstContentMs : undefined;
      if (path === 1 && ttft[1] !== undefined) bridgedTtftMs.push(ttft[1]);
    }
    differences.push(ttft[0] !== undefined && ttft[1] !== undefined ? ttft[1] - ttft[0] : undefined);
  }
  return { differences, bridgedTtftMs };
}

/** Responses API streaming on both URL shapes, against chat completions, and the bridge between them. */
export default defineLab({
  name: 'responses-api',
  title: 'Responses API streaming: typed events, two URL shapes, and the chat-completions bridge',
  mockArgs: ['--itl-ms', '8', '--output-tokens', '128'],
  async run(lab) {
    await lab.deploy('streaming');
    // The typed events of one Responses stream, in the order they came.
    const tl = await lab.request({
      path: 'gateway',
      api: 'responses',
      messages: [{ role: 'user', content: 'Why stream a long answer?' }],
      maxTokens: 512,
    });
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
    let bridgeSentence =
      'The bridge is a local-gateway feature (LiteLLM-style `responses/` models); APIM has no such translation, so it is not measured on Azure.';
    if (lab.target === 'local') {
      lab.step(`bridge: ${BRIDGE_PAIRS} pairs, bridged and plain chat, counterbalanced`);
      const { differences, bridgedTtftMs } = await bridgeDifferences(lab);
      // The bridge reads the upstream's Responses stream, plain chat its chat stream: different
      // upstream work, so the bridge may come out faster without anything being wrong.
      const shift = pairedShift(differences);
      if (!shift) throw new Error(`fewer than 6 of ${BRIDGE_PAIRS} bridge pairs succeeded on both sides`);
      const median = [...bridgedTtftMs].sort((a, b) => a - b)[Math.floor((bridgedTtftMs.length - 1) / 2)]!;
      facts['bridgeTtftMs'] = Math.round(median * 10) / 10;
      facts['bridgeTtftCostMs'] = shift.estimate;
      facts['bridgeTtftCostLowMs'] = shift.low;
      facts['bridgeTtftCostHighMs'] = shift.high;
      bridgeSentence = `Serving a chat-completions request from a Responses stream (the gateway's \`responses/gpt-4o-mini\` bridge) gave a first token at ${formatMs(median)}: ${describeShift(shift, 'the bridge', 'to time to first token', 'chat completions straight through', true)}.`;
    }
    const finding =
      `A Responses stream is typed events (${events.length}: ${events.slice(0, 4).join(', ')}${events.length > 4 ? ', …' : ''}); text arrives as response.output_text.delta. ` +
      `Through the gateway, time to first token was ${formatMs(only(dated, 'responses').ttftMs!.p50)} on the dated preview path (/openai/deployments/…/responses?api-version=2025-04-01-preview) and ${formatMs(only(v1, 'responses').ttftMs!.p50)} on /openai/v1/responses, against ${formatMs(only(dated, 'chat').ttftMs!.p50)} for the same prompt over chat completions. ` +
      bridgeSentence;
    return { finding, facts };
  },
});
