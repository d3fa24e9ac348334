import type { ApiKind } from '../../protocol/index.ts';
import { comparableData, contentEvents, hasStamps } from '../analysis.ts';
import { describeUnusable, judgePerApi, verdict, worstOf, type Check, type Verdict } from '../check-kit.ts';
import type { ProbeResult } from '../probe.ts';

/** Compares the gateway's events with the direct path's (same seed: same frames). */
function compareEvents(gateway: ProbeResult, direct: ProbeResult | undefined): Verdict {
  const seqs = gateway.events.flatMap((e) => (e.stamp ? [e.stamp.seq] : []));
  if (seqs.length > 0) {
    const missing = Array.from({ length: Math.max(...seqs) + 1 }, (_, i) => i).filter((i) => !seqs.includes(i));
    const outOfOrder = seqs.findIndex((s, i) => i > 0 && s <= seqs[i - 1]!);
    if (missing.length > 0)
      return verdict(
        'fail',
        `frames ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? '…' : ''} never arrived (${missing.length} of ${Math.max(...seqs) + 1} missing)`,
      );
    if (outOfOrder >= 0)
      return verdict('fail', `frame ${seqs[outOfOrder]} arrived after frame ${seqs[outOfOrder - 1]}`);
  }
  if (direct === undefined || direct.status !== 200 || !hasStamps(direct)) {
    const broken = gateway.events.findIndex((e) => e.data !== '[DONE]' && !isJson(e.data));
    if (broken >= 0)
      return verdict('fail', `event ${broken} is not JSON: ${gateway.events[broken]!.data.slice(0, 80)}`);
    return verdict(
      seqs.length > 0 ? 'pass' : 'warn',
      `${gateway.events.length} events, all parse${seqs.length > 0 ? ', none missing or reordered' : '; byte-for-byte comparison needs the mock as upstream and --direct'}`,
    );
  }
  // data: [DONE] is judged by done-terminator; here only the events that carry data count.
  const gatewayEvents = gateway.events.filter((e) => e.data !== '[DONE]');
  const directEvents = direct.events.filter((e) => e.data !== '[DONE]');
  if (gatewayEvents.length !== directEvents.length)
    return verdict('fail', `${gatewayEvents.length} events through the gateway, ${directEvents.length} direct`);
  const differs = gatewayEvents.findIndex(
    (e, i) => comparableData(e.data) !== comparableData(directEvents[i]!.data) || e.event !== directEvents[i]!.event,
  );
  if (differs >= 0) {
    return verdict(
      'fail',
      `event ${differs} differs from the direct path: ${JSON.stringify(gatewayEvents[differs]!.data.slice(0, 60))} vs ${JSON.stringify(directEvents[differs]!.data.slice(0, 60))}`,
    );
  }
  return verdict('pass', `${gatewayEvents.length} events, in order, data byte-identical to the direct path`);
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function text(probe: ProbeResult, api: ApiKind): string {
  return contentEvents(probe, api)
    .map((e) => comparableData(e.data))
    .join('');
}

export const frameIntegrity: Check = {
  id: 'frame-integrity',
  title: 'Every event arrives, in order, byte-identical, UTF-8 intact',
  async run(session) {
    const framing = await judgePerApi(session, session.plan.apis, (_api, gateway, direct) =>
      compareEvents(gateway, direct),
    );
    if (framing.status === 'fail' || framing.status === 'skip') return framing;
    // A multibyte character written in two TCP segments upstream must arrive whole.
    const api = session.plan.apis[0]!;
    const spec = { api, control: { faults: { 'split-utf8': undefined } } };
    const gateway = (await session.cached('split-utf8', 'gateway', spec))!;
    const direct = await session.cached('split-utf8', 'direct', spec);
    const unusable = describeUnusable(gateway);
    if (unusable) return verdict('fail', `split UTF-8 probe: ${unusable}`);
    const gatewayText = text(gateway, api);
    let utf8: Verdict;
    if (gatewayText.includes('\uFFFD'))
      utf8 = verdict(
        'fail',
        'a multibyte character split across upstream writes arrived as U+FFFD: the gateway decodes chunks without carrying bytes over',
      );
    else if (direct && hasStamps(direct) && text(direct, api) !== gatewayText)
      utf8 = verdict('fail', 'the split-UTF-8 stream differs from the direct path');
    else utf8 = verdict('pass', 'multibyte UTF-8 split across upstream writes arrives intact');
    return verdict(worstOf([framing.status, utf8.status]), `${framing.evidence}; ${utf8.evidence}`, framing.details);
  },
};
