import { contentEvents } from '../analysis.ts';
import { msBetween } from '../probe.ts';
import { PROBE_CONTROL } from '../session.ts';
import { describeUnusable, NOT_MOCK, upstreamIsMock, verdict, type Check } from '../check-kit.ts';

export const idleGap: Check = {
  id: 'idle-gap',
  title: 'A stream that goes quiet is not cut',
  async run(session) {
    if (session.plan.gateway === undefined) return verdict('skip', 'no gateway to probe');
    if (!(await upstreamIsMock(session))) return verdict('skip', NOT_MOCK);
    const gapMs = session.plan.thresholds.idleGapMs;
    const api = session.plan.apis[0]!;
    const probe = (await session.probe('gateway', {
      api,
      control: { faults: { stall: gapMs, 'stall-after': 3 } },
      timeoutMs: gapMs + 30_000,
    }))!;
    const unusable = describeUnusable(probe);
    if (unusable) return verdict('fail', unusable);
    const lastMs = probe.events.length > 0 ? Math.round(msBetween(probe.startNs, probe.events.at(-1)!.arrivalNs)) : 0;
    // Not cut = the response ended normally and either its terminator or all its content came.
    const last = probe.events.at(-1);
    const hasEnd = last?.data === '[DONE]' || last?.event === 'response.completed';
    const finished =
      probe.end === 'complete' && (hasEnd || contentEvents(probe, api).length >= PROBE_CONTROL.outputTokens);
    const details = { gapMs, events: probe.events.length, end: probe.end, error: probe.error, lastEventMs: lastMs };
    if (finished)
      return verdict(
        'pass',
        `a ${gapMs / 1000} s silence after 3 frames did not cut the stream (${probe.events.length} events, done at ${lastMs} ms)`,
        details,
      );
    return verdict(
      'fail',
      `after a ${gapMs / 1000} s silence the stream ended (${probe.end}${probe.error ? `: ${probe.error}` : ''}) at ${Math.round(msBetween(probe.startNs, probe.endNs))} ms with ${probe.events.length} events: the gateway cut an idle stream`,
      details,
    );
  },
};
