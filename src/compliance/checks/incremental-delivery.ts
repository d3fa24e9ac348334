import { deliveryOf, formatDelivery, lateShare } from '../analysis.ts';
import { judgePerApi, verdict, type Check, type Verdict } from '../check-kit.ts';
import type { ProbeResult } from '../probe.ts';
import type { VerifyThresholds } from '../types.ts';

/** Above this share of events in the stream's last tenth, the stream was released in a burst at the end. */
export const LATE_SHARE_LIMIT = 0.5;
/** One run of late frames up to this share of the stream is a stall (warn); more, or several runs, is buffering. */
export const STALL_SHARE_LIMIT = 0.2;

/**
 * Judges one stream: per-frame delivery latency p99 against the threshold (exact with
 * stamps), and whether most frames arrived at the very end. A burst the direct path shows as
 * well is the upstream's doing (Azure's default content filter releases text in blocks) and
 * only warns.
 */
export function judgeIncremental(
  gateway: ProbeResult,
  direct: ProbeResult | undefined,
  thresholds: VerifyThresholds,
): Verdict {
  const delivery = deliveryOf(gateway, direct);
  const late = lateShare(gateway);
  const directLate = direct ? lateShare(direct) : undefined;
  const details = {
    frames: gateway.events.length,
    reads: gateway.reads.length,
    ...delivery,
    lateShare: late,
    directLateShare: directLate,
  };
  const lateText = `${Math.round(late * 100)}% of ${gateway.events.length} events in the last tenth of the stream`;
  if (late > LATE_SHARE_LIMIT) {
    if (directLate !== undefined && directLate > LATE_SHARE_LIMIT)
      return verdict(
        'warn',
        `${lateText}, but the direct path bursts too (${Math.round(directLate * 100)}%): the upstream, not the gateway`,
        details,
      );
    return verdict(
      'fail',
      `${lateText} (${gateway.reads.length} read${gateway.reads.length === 1 ? '' : 's'}): the stream was held back and released at the end`,
      details,
    );
  }
  if (delivery.p99Ms !== undefined && delivery.p99Ms > thresholds.deliveryP99Ms) {
    // Under 100 frames the p99 is the maximum, so one scheduling stall (a process paused for
    // a few inter-token gaps on a busy host) would decide it. A stall makes one short run of
    // late frames; a buffer holds frames back again and again, or holds most of the stream.
    const isLate = delivery.latenciesMs.map((ms) => ms > thresholds.deliveryP99Ms);
    const late = isLate.filter(Boolean).length;
    const runs = isLate.filter((flag, i) => flag && !isLate[i - 1]).length;
    if (runs === 1 && late / isLate.length <= STALL_SHARE_LIMIT) {
      return verdict(
        'warn',
        `${late === 1 ? 'one frame' : `${late} consecutive frames`} of ${isLate.length} arrived up to ${delivery.maxMs} ms after emission (over ${thresholds.deliveryP99Ms} ms), the rest p50 ${delivery.p50Ms} ms: one stall, not buffering; re-run to confirm`,
        details,
      );
    }
    return verdict(
      'fail',
      `${formatDelivery(delivery)} exceeds ${thresholds.deliveryP99Ms} ms for ${late} frames in ${runs} run${runs === 1 ? '' : 's'}: frames are held back`,
      details,
    );
  }
  if (delivery.method === 'none')
    return verdict(
      'pass',
      `${lateText}; no per-frame ground truth (the upstream is not the mock), judged on arrival spread only`,
      details,
    );
  return verdict('pass', `${formatDelivery(delivery)} ≤ ${thresholds.deliveryP99Ms} ms; ${lateText}`, details);
}

export const incrementalDelivery: Check = {
  id: 'incremental-delivery',
  title: 'Frames arrive as they are emitted',
  run: (session) =>
    judgePerApi(session, session.plan.apis, (_api, gateway, direct) =>
      judgeIncremental(gateway, direct, session.plan.thresholds),
    ),
};
