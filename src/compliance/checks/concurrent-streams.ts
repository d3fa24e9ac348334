import { describeUnusable, verdict, type Check } from '../check-kit.ts';
import { judgeIncremental } from './incremental-delivery.ts';

export const concurrentStreams: Check = {
  id: 'concurrent-streams',
  title: 'N streams at once all stay incremental',
  async run(session) {
    const { plan } = session;
    if (plan.gateway === undefined) return verdict('skip', 'no gateway to probe');
    const n = plan.thresholds.concurrentStreams;
    const api = plan.apis[0]!;
    const direct = await session.main('direct', api);
    const probes = await Promise.all(Array.from({ length: n }, () => session.probe('gateway', { api })));
    const verdicts = probes.map(
      (probe) => describeUnusable(probe!) ?? judgeIncremental(probe!, direct, plan.thresholds),
    );
    const failed = verdicts.map((v, i) => ({ v, i })).filter(({ v }) => typeof v === 'string' || v.status === 'fail');
    const p99s = verdicts.flatMap((v) =>
      typeof v === 'string' ? [] : [(v.details?.['p99Ms'] as number | undefined) ?? 0],
    );
    const worst = p99s.length > 0 ? Math.max(...p99s) : undefined;
    const details = { streams: n, worstP99Ms: worst, failed: failed.length };
    if (failed.length > 0) {
      const first = failed[0]!.v;
      return verdict(
        'fail',
        `${failed.length} of ${n} concurrent streams were not incremental; stream ${failed[0]!.i}: ${typeof first === 'string' ? first : first.evidence}`,
        details,
      );
    }
    const hiccups = verdicts.filter((v) => typeof v !== 'string' && v.status === 'warn').length;
    if (hiccups > 0)
      return verdict(
        'warn',
        `${n} concurrent ${api} streams incremental, ${hiccups} with one stall, not buffering (worst delivery p99 ${worst ?? '–'} ms)`,
        details,
      );
    return verdict(
      'pass',
      `${n} concurrent ${api} streams all incremental (worst delivery p99 ${worst ?? '–'} ms)`,
      details,
    );
  },
};
