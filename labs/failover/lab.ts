import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  defineLab,
  describeShift,
  forEachSample,
  formatMs,
  interleavedSlot,
  pairedShift,
  readGatewayLog,
  type GatewayLogEntry,
  type LabContext,
  type PathComparison,
  type Sample,
  type Timeline,
} from '../../src/index.ts';

const PRIMARY = 'ptu';
const SECONDARY = 'payg';
/** Short answers: the lab is about the first token and the stream's fate, not its length. */
const MAX_TOKENS = 8;
const MESSAGES = [{ role: 'user' as const, content: 'Where did this stream come from?' }];
/** Spill-over pairs (step 2): each needs the primary's 1 s trip (Retry-After: 1) to have ended. */
const SPILL_ROUNDS = 12;
/** The trip the primary's 429 asks for in step 3 (Retry-After, honoured by acceptRetryAfter). */
const TRIP_MS = 3000;
const CHAT = ['--api', 'chat', '--stream', 'on', '--max-tokens', String(MAX_TOKENS), '--warmup', '0'];

const p50 = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.ceil(sorted.length / 2) - 1]!;
};
const route = (entry: GatewayLogEntry | undefined): string =>
  entry?.attempts.map((a) => `${a.backend ?? '-'}:${a.status ?? 'none'}`).join(' ') ?? 'not logged';
/** When the gateway received the request (ms since the epoch): the line is written when the response closes. */
const arrivedAt = (entry: GatewayLogEntry): number => Date.parse(entry.time) - entry.totalTimeMs;

async function samplesOf(lab: LabContext, name: string): Promise<Sample[]> {
  const samples: Sample[] = [];
  await forEachSample(join(lab.outDir, name), (s) => void samples.push(s));
  return samples.sort((a, b) => a.sequence - b.sequence);
}

/** The access-log lines written since `from` (a count of lines read earlier). */
function logSince(lab: LabContext, from: number): GatewayLogEntry[] {
  return readGatewayLog(lab.logOf('gateway')).slice(from);
}

/** Waits until the gateway has logged `count` more lines (its line comes as the response closes). */
async function settled(lab: LabContext, from: number, count: number): Promise<GatewayLogEntry[]> {
  for (let i = 0; i < 100; i++) {
    const lines = logSince(lab, from);
    if (lines.length >= count) return lines;
    await sleep(20, undefined, { signal: lab.signal });
  }
  return logSince(lab, from);
}

/**
 * A PTU backend first, pay-as-you-go behind it, a circuit breaker that trips on one 429 and a
 * retry that moves a refused request on (the AI-Gateway backend-pool shape): what each kind of
 * failure costs a stream, measured step by step.
 */
export default defineLab({
  name: 'failover',
  title: 'Streaming under failover: backend pool, circuit breaker and retry',
  mockArgs: ['--itl-ms', '5', '--jitter-ms', '1', '--output-tokens', '32'],
  // The PTU deployment answers sooner than the shared pay-as-you-go one.
  backendMockArgs: { [PRIMARY]: ['--ttft-ms', '120'], [SECONDARY]: ['--ttft-ms', '300'] },
  async run(lab) {
    if (lab.target === 'azure') {
      throw new Error(
        'the failover lab makes backends fail by setting faults on the local mocks, which an Azure OpenAI account does not take. Deploy the same pool on Azure with npm run lab:deploy -- --target azure --backends labs/failover/backends.json --policy labs/failover/failover.xml, and measure it with npm run bench (see labs/failover/README.md).',
      );
    }
    await lab.deploy('failover.xml', { backends: 'backends.json' });
    let seen = 0;

    // 1. Steady state: every stream on the primary, one attempt each.
    const steady = await lab.bench('steady', [
      ...CHAT,
      '--path',
      `backend-${PRIMARY},gateway`,
      '--requests',
      '16',
      '--concurrency',
      '2',
    ]);
    const steadyLog = await settled(lab, seen, 16);
    seen += steadyLog.length;
    const steadyOnPrimary = steadyLog.filter((e) => route(e) === `${PRIMARY}:200`).length;
    const steadyOverhead = steady.comparisons.find(
      (c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs',
    )!;
    const steadyTtft = steady.scenarios.find((s) => s.path === 'gateway')!.ttftMs!.p50;

    // 2. The primary answers 429 before any byte: the breaker trips it (Retry-After: 1 s) and the retry lands on
    // the secondary. Each round pairs a spilled stream with one sent straight to the secondary (same seed: same upstream timing).
    await lab.setFault(PRIMARY, '429=1000');
    const differences: Array<number | undefined> = [];
    const spilledTtft: number[] = [];
    let lastGatewayAt = -Infinity;
    // Round -1 is untimed: the first request straight to the secondary is this client's first there (a new
    // connection, cold code), which would pull the interval's low end (a known-delay test shows it).
    for (let round = -1; round < SPILL_ROUNDS; round++) {
      const headers = { 'x-mock-seed': String(1000 + round) };
      const results: Record<string, Timeline> = {};
      for (let slot = 0; slot < 2; slot++) {
        const order = round < 0 ? slot : interleavedSlot(round * 2 + slot, 2).path;
        const path = order === 0 ? `backend-${SECONDARY}` : 'gateway';
        if (path === 'gateway') {
          // Let the primary's 1 s trip end, so that this stream meets the 429 (a spill-over) and not the open breaker.
          const wait = lastGatewayAt + 1150 - performance.now();
          if (wait > 0) await sleep(wait, undefined, { signal: lab.signal });
          lastGatewayAt = performance.now();
        }
        results[path] = await lab.request({ path, messages: MESSAGES, maxTokens: MAX_TOKENS, headers });
      }
      if (round < 0) continue;
      const spilled = results['gateway']!;
      const straight = results[`backend-${SECONDARY}`]!;
      const ok =
        spilled.outcome === 'ok' &&
        straight.outcome === 'ok' &&
        spilled.firstContentMs !== undefined &&
        straight.firstContentMs !== undefined;
      differences.push(ok ? spilled.firstContentMs! - straight.firstContentMs! : undefined);
      if (ok) spilledTtft.push(spilled.firstContentMs!);
    }
    const spillLines = await settled(lab, seen, SPILL_ROUNDS + 1);
    seen += spillLines.length;
    const spillLog = spillLines.slice(1);
    const spills = spillLog.filter((e) => route(e) === `${PRIMARY}:429 ${SECONDARY}:200`).length;
    const spill = pairedShift(differences);

    // 3. The breaker holds the primary out: a spill trips it for the 3 s its Retry-After asks, the primary recovers
    // at once, and a steady 4 requests/s goes straight to the secondary until the trip ends, then back.
    // The last spill's 1 s trip must end first, or this stream goes straight to the secondary.
    await sleep(Math.max(0, lastGatewayAt + 1150 - performance.now()), undefined, { signal: lab.signal });
    await lab.setFault(PRIMARY, `429=${TRIP_MS}`);
    const tripper = await lab.request({ path: 'gateway', messages: MESSAGES, maxTokens: MAX_TOKENS });
    await lab.setFault(PRIMARY, '');
    const [tripLine] = await settled(lab, seen, 1);
    seen += 1;
    const trippedAt = tripLine ? arrivedAt(tripLine) + tripLine.attempts[0]!.timeMs : NaN;
    await lab.bench('tripped', [
      ...CHAT,
      '--path',
      'gateway',
      '--rate',
      '4',
      '--arrival',
      'constant',
      '--requests',
      '24',
    ]);
    const tripLog = await settled(lab, seen, 24);
    seen += tripLog.length;
    const during = tripLog.filter((e) => arrivedAt(e) < trippedAt + TRIP_MS - 100);
    const after = tripLog.filter((e) => arrivedAt(e) > trippedAt + TRIP_MS + 100);
    const duringOnSecondary = during.filter((e) => route(e) === `${SECONDARY}:200`).length;
    const firstBack = tripLog.find((e) => e.backendId === PRIMARY);
    const returnedAfterMs = firstBack ? Math.round(arrivedAt(firstBack) - trippedAt) : null;
    const afterOnPrimary = after.filter((e) => route(e) === `${PRIMARY}:200`).length;

    // 4. The primary drops the stream after 4 frames: the response headers were relayed, so nothing can retry it.
    await lab.setFault(PRIMARY, 'disconnect-after=4');
    await lab.bench('dropped', [
      ...CHAT,
      '--path',
      'gateway',
      '--requests',
      '8',
      '--concurrency',
      '2',
      '--bail-out',
      '1',
    ]);
    await lab.setFault(PRIMARY, '');
    const dropLog = await settled(lab, seen, 8);
    seen += dropLog.length;
    const dropSamples = await samplesOf(lab, 'dropped');
    const cut = dropSamples.filter((s) => s.outcome !== 'ok');
    const cutOutcomes = [...new Set(cut.map((s) => s.outcome))].sort().join(',');
    const dropRetried = dropLog.filter((e) => e.attempts.length > 1).length;

    // 5. Every backend answers 429: both trip, and the pool refuses at once with 503 until a trip ends.
    await lab.setFault(PRIMARY, '429=10000');
    await lab.setFault(SECONDARY, '429=10000');
    const tripBoth = await lab.request({ path: 'gateway', messages: MESSAGES, maxTokens: MAX_TOKENS });
    const [tripBothLine] = await settled(lab, seen, 1);
    seen += 1;
    await lab.bench('all-tripped', [
      ...CHAT,
      '--path',
      'gateway',
      '--requests',
      '8',
      '--concurrency',
      '1',
      '--bail-out',
      '1',
    ]);
    const allLog = await settled(lab, seen, 8);
    seen += allLog.length;
    const failFast = (await samplesOf(lab, 'all-tripped')).filter((s) => s.status === 503);
    // A 503 has no first token: the time to fail is the time to its response headers.
    const failFastMs = p50(failFast.map((s) => s.ttfbMs ?? NaN));
    const reachedBackend = allLog.filter((e) => e.attempts.some((a) => a.backend !== null)).length;

    const spillWords = spill
      ? `${describeShift(spill, 'a spill-over', 'to time to first token', `the ${SECONDARY} backend straight`)}`
      : 'too few spill-overs to give an interval';
    const finding =
      `Steady: ${steadyOnPrimary} of ${steadyLog.length} streams went to the ${PRIMARY} backend in one attempt (first token p50 ${formatMs(steadyTtft)}; ${describeShift(steadyOverhead.medianDifferenceMs, 'the gateway', 'to time to first token', PRIMARY)}). ` +
      `When ${PRIMARY} answered 429 before any byte, ${spills} of ${SPILL_ROUNDS} streams were retried on ${SECONDARY} and answered (first token p50 ${formatMs(p50(spilledTtft))}): ${spillWords}. ` +
      `After one 429 asking for ${TRIP_MS / 1000} s, the breaker sent ${duringOnSecondary} of ${during.length} streams in the trip straight to ${SECONDARY} with no retry, and traffic returned to ${PRIMARY} ${returnedAfterMs === null ? 'never within the run' : `${formatMs(returnedAfterMs)} after the trip began`} (${afterOnPrimary} of ${after.length} streams after the trip). ` +
      `When ${PRIMARY} dropped streams after 4 frames, ${cut.length} of ${dropSamples.length} reached the client cut (${cutOutcomes || 'none'}) and ${dropRetried} were retried: a failure after the headers cannot be. ` +
      `With both backends tripped, ${failFast.length} of ${allLog.length} requests got 503 from the gateway in ${formatMs(failFastMs)} (p50) without reaching a backend${reachedBackend > 0 ? ` (${reachedBackend} did)` : ''}.`;
    return {
      finding,
      facts: {
        steadyRequests: steadyLog.length,
        steadyOnPrimary,
        steadyTtftP50Ms: steadyTtft,
        gatewayTtftOverheadMs: steadyOverhead.medianDifferenceMs.estimate,
        spillRounds: SPILL_ROUNDS,
        spills,
        spillTtftP50Ms: Math.round(p50(spilledTtft) * 10) / 10,
        spillCostMs: spill?.estimate ?? null,
        spillCostLowMs: spill?.low ?? null,
        spillCostHighMs: spill?.high ?? null,
        tripRoute: route(tripLine),
        tripperOutcome: tripper.outcome,
        duringTrip: during.length,
        duringTripOnSecondary: duringOnSecondary,
        duringTripRetried: during.filter((e) => e.attempts.length > 1).length,
        returnedAfterMs,
        afterTripOnPrimary: afterOnPrimary,
        afterTrip: after.length,
        dropped: dropSamples.length,
        droppedCut: cut.length,
        droppedOutcomes: cutOutcomes,
        droppedRetried: dropRetried,
        allTrippedRoute: route(tripBothLine),
        allTrippedFirstStatus: tripBoth.status ?? null,
        failFast503: failFast.length,
        failFastP50Ms: Math.round(failFastMs * 10) / 10,
        failFastReachedBackend: reachedBackend,
      },
    };
  },
});
