import { round3 } from '../../metrics/stats.ts';
import { ttftMs } from '../analysis.ts';
import { verdict, type Check } from '../check.ts';

/** Paired probes, alternating direct and gateway so drift on either side cancels out. */
export const TTFT_PAIRS = 5;

export const ttftOverhead: Check = {
  id: 'ttft-overhead',
  title: "The gateway's added time to first token",
  async run(session) {
    const { plan } = session;
    if (plan.gateway === undefined || plan.direct === undefined) return verdict('skip', 'needs both a gateway and a direct path (--gateway and --direct)');
    const api = plan.apis.includes('chat') ? 'chat' : plan.apis[0]!;
    const differences: number[] = [];
    const pairs: Array<{ directMs: number | undefined; gatewayMs: number | undefined }> = [];
    for (let i = 0; i < TTFT_PAIRS; i++) {
      const spec = { api, control: { outputTokens: 12, seed: 9000 + i } };
      const direct = await session.probe('direct', spec);
      const gateway = await session.probe('gateway', spec);
      const pair = { directMs: direct && ttftMs(direct, api), gatewayMs: gateway && ttftMs(gateway, api) };
      pairs.push(pair);
      if (pair.directMs !== undefined && pair.gatewayMs !== undefined) differences.push(pair.gatewayMs - pair.directMs);
    }
    if (differences.length === 0) return verdict('fail', `no pair produced a first token on both paths (${api})`, { pairs });
    const sorted = [...differences].sort((a, b) => a - b);
    const median = round3(sorted[Math.floor((sorted.length - 1) / 2)]!);
    const details = { api, pairs, medianMs: median, differencesMs: differences.map(round3), thresholdMs: plan.thresholds.ttftOverheadMs };
    const text = `${api}: the gateway adds ${median} ms (median of ${differences.length} paired requests, range ${round3(sorted[0]!)}…${round3(sorted.at(-1)!)} ms)`;
    return median > plan.thresholds.ttftOverheadMs ? verdict('fail', `${text}, over ${plan.thresholds.ttftOverheadMs} ms`, details) : verdict('pass', `${text} ≤ ${plan.thresholds.ttftOverheadMs} ms`, details);
  },
};
