import {
  defineLab,
  describeShift,
  findScenario,
  formatMs,
  type BenchSummary,
  type PathComparison,
  type ScenarioSummary,
  type StreamComparison,
} from '../../src/index.ts';

const LENGTHS = [32, 128, 384];

const scenario = (summary: BenchSummary, stream: boolean, maxTokens: number, path: string): ScenarioSummary =>
  findScenario(summary, { api: 'chat', stream, maxTokens, path });
const round = (ms: number): number => Math.round(ms);
const capitalize = (text: string): string => `${text[0]!.toUpperCase()}${text.slice(1)}`;

/** The same prompt streamed and not, direct and through the gateway, at three output lengths. */
export default defineLab({
  name: 'response-streaming',
  title: 'Response streaming: time to first token against full completion, and what the gateway adds',
  // gpt-4o-mini's first-token time, 8 ms per token, answers long enough for the longest cap.
  mockArgs: ['--itl-ms', '8', '--output-tokens', '512'],
  async run(lab) {
    await lab.deploy('streaming');
    const requests = lab.target === 'azure' ? '20' : '8';
    // Warm both paths first with short answers (JIT, connections), not counted: otherwise the
    // first scenario pays the warm-up and the gateway can look faster than no gateway.
    await lab.bench('warm-up', [
      '--api',
      'chat',
      '--stream',
      'both',
      '--max-tokens',
      '8',
      '--requests',
      '2',
      '--concurrency',
      '2',
      '--warmup',
      '0',
    ]);
    const summary = await lab.bench('bench', [
      '--api',
      'chat',
      '--stream',
      'both',
      '--max-tokens',
      LENGTHS.join(','),
      '--requests',
      requests,
      '--concurrency',
      requests,
      '--warmup',
      '0',
      ...(lab.target === 'local' ? ['--stamp'] : []),
    ]);
    const shortest = LENGTHS[0]!;
    const longest = LENGTHS.at(-1)!;
    const ttftGrowthMs =
      scenario(summary, true, longest, 'direct').ttftMs!.p50 - scenario(summary, true, shortest, 'direct').ttftMs!.p50;
    const e2eGrowthMs =
      scenario(summary, false, longest, 'direct').e2eMs!.p50 - scenario(summary, false, shortest, 'direct').e2eMs!.p50;
    const sooner = summary.comparisons.find(
      (c): c is StreamComparison => c.kind === 'stream-vs-non-stream' && c.path === 'direct' && c.maxTokens === longest,
    )!;
    const overhead = summary.comparisons.find(
      (c): c is PathComparison =>
        c.kind === 'path-overhead' && c.metric === 'ttftMs' && c.stream && c.maxTokens === longest,
    )!;
    const d = overhead.medianDifferenceMs;
    const finding =
      `Time to first token stayed flat (${formatMs(scenario(summary, true, shortest, 'direct').ttftMs!.p50)} at ${shortest} tokens, ${formatMs(sooner.streamTtftP50Ms)} at ${longest}) ` +
      `while waiting for the whole answer grew with its length (${formatMs(scenario(summary, false, shortest, 'direct').e2eMs!.p50)} to ${formatMs(sooner.nonStreamE2eP50Ms)}): ` +
      `at ${longest} tokens, streaming showed the first token ${sooner.soonerFactor}x sooner. ` +
      `${capitalize(describeShift(d, 'the gateway', 'to time to first token'))}.`;
    return {
      finding,
      facts: {
        ttftGrowthMs: round(ttftGrowthMs),
        nonStreamE2eGrowthMs: round(e2eGrowthMs),
        soonerFactorAtLongest: sooner.soonerFactor,
        gatewayTtftOverheadMs: d.estimate,
        gatewayTtftOverheadLowMs: d.low,
        gatewayTtftOverheadHighMs: d.high,
        gatewayTtftVerdict: overhead.verdict,
      },
    };
  },
});
