import { interleavedSlot } from '../../load/interleave.ts';
import { describeShift, pairedShift, shiftVerdict } from '../../metrics/paired-shift.ts';
import { round3 } from '../../metrics/stats.ts';
import { ttftMs } from '../analysis.ts';
import { verdict, type Check } from '../check-kit.ts';

/** Paired probes, in the bench's counterbalanced order (direct-gateway, gateway-direct, …) so drift on either side cancels out. */
export const TTFT_PAIRS = 8;

/**
 * The gateway's added time to first token, with the estimator every other overhead number
 * uses (Hodges–Lehmann shift, Wilcoxon signed-rank interval: src/metrics/paired-shift.ts).
 * Fails when the estimate is over the threshold; a significantly negative overhead is a warn
 * (a gateway cannot be faster than its upstream: the pairing or the host drifted).
 */
export const ttftOverhead: Check = {
  id: 'ttft-overhead',
  title: "The gateway's added time to first token",
  async run(session) {
    const { plan } = session;
    if (plan.gateway === undefined || plan.direct === undefined)
      return verdict('skip', 'needs both a gateway and a direct path (--gateway and --direct)');
    const api = plan.apis.includes('chat') ? 'chat' : plan.apis[0]!;
    const differences: Array<number | undefined> = [];
    const pairs: Array<{ order: string; directMs: number | undefined; gatewayMs: number | undefined }> = [];
    for (let i = 0; i < TTFT_PAIRS; i++) {
      const spec = { api, control: { outputTokens: 12, seed: 9000 + i } };
      const order =
        interleavedSlot(2 * i, 2).path === 0 ? (['direct', 'gateway'] as const) : (['gateway', 'direct'] as const);
      const result: Record<string, number | undefined> = {};
      for (const path of order) {
        const probe = await session.probe(path, spec);
        result[path] = probe && ttftMs(probe, api);
      }
      const pair = { order: order.join('-'), directMs: result['direct'], gatewayMs: result['gateway'] };
      pairs.push(pair);
      differences.push(
        pair.directMs !== undefined && pair.gatewayMs !== undefined ? pair.gatewayMs - pair.directMs : undefined,
      );
    }
    const shift = pairedShift(differences);
    const threshold = plan.thresholds.ttftOverheadMs;
    if (!shift)
      return verdict('fail', `fewer than 6 of ${TTFT_PAIRS} pairs produced a first token on both paths (${api})`, {
        pairs,
      });
    const details = {
      api,
      pairs,
      shift,
      differencesMs: differences.map((d) => (d === undefined ? null : round3(d))),
      thresholdMs: threshold,
    };
    const text = `${api}: ${describeShift(shift, 'the gateway', 'to time to first token')}`;
    if (shift.estimate > threshold) return verdict('fail', `${text}; over ${threshold} ms`, details);
    if (shiftVerdict(shift) === 'suspect-negative') return verdict('warn', text, details);
    return verdict('pass', `${text}; within ${threshold} ms`, details);
  },
};
