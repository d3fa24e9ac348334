import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineLab, forEachSample, formatMs, type BenchSummary, type Sample } from '../../src/index.ts';

const RATE_PER_SEC = 4;
const WINDOW_MS = 6000;
const REQUESTS = 40;
/** Open loop at a constant rate: requests are sent on schedule whatever the answers. */
const LOAD = [
  '--api',
  'chat',
  '--stream',
  'on',
  '--max-tokens',
  '128',
  '--rate',
  String(RATE_PER_SEC),
  '--arrival',
  'constant',
  '--requests',
  String(REQUESTS),
  '--warmup',
  '0',
  '--path',
  'gateway',
  '--bail-out',
  '1',
];

async function samplesOf(dir: string): Promise<Sample[]> {
  const samples: Sample[] = [];
  await forEachSample(dir, (s) => void samples.push(s));
  return samples.sort((a, b) => a.index - b.index);
}

const scenarioOf = (summary: BenchSummary) => summary.scenarios[0]!;

/** A tokens-per-minute limit under open-loop load: when 429s start, what they say, and what honouring them costs. */
export default defineLab({
  name: 'token-limits',
  title: 'Token limits: 429s under open-loop load, retry-after, and the latency of honouring it',
  mockArgs: ['--itl-ms', '4', '--output-tokens', '128'],
  // Locally the limit's minute lasts 6 s, so waits stay short and the lab ends within a minute;
  // the shape (when 429s start, what retry-after says, what honouring costs) is the same.
  gatewayArgs: ['--token-window-ms', String(WINDOW_MS)],
  async run(lab) {
    await lab.deploy('token-limit.xml');
    const shed = await lab.bench('no-retry', [...LOAD, '--retry-429', 'none']);
    const shedSamples = await samplesOf(join(lab.outDir, 'no-retry'));
    const throttled = shedSamples.filter((s) => s.outcome === 'http_429');
    const first = throttled[0];
    const retryAfter = throttled.map((s) => s.retryAfterMs).filter((v): v is number => v !== null);

    // A fresh window (locally: redeploy; on Azure: wait it out), then the same schedule honouring retry-after.
    if (lab.target === 'local') await lab.deploy('token-limit.xml');
    else {
      lab.step('waiting 60 s for the token window to empty');
      await sleep(60_000, undefined, { signal: lab.signal });
    }
    const honoured = await lab.bench('honor-retry', [...LOAD, '--retry-429', 'honor', '--retry-max-wait', '60s']);
    const honouredSamples = await samplesOf(join(lab.outDir, 'honor-retry'));
    const retried = honouredSamples.filter((s) => s.attempts > 1);

    const a = scenarioOf(shed);
    const b = scenarioOf(honoured);
    const tokensBefore = first
      ? shedSamples
          .filter((s) => s.index < first.index && s.outcome === 'ok')
          .reduce((n, s) => n + (s.outputTokens ?? 0), 0)
      : 0;
    const finding = first
      ? `At ${RATE_PER_SEC} requests/s against a limit of 2,000 tokens per ${lab.target === 'local' ? `"minute" (compressed locally to ${WINDOW_MS / 1000} s)` : 'minute'}, the first 429 came at request ${first.index + 1} (${(first.index / RATE_PER_SEC).toFixed(2)} s into the run, after ${tokensBefore.toLocaleString('en-US')} completion tokens); ` +
        `${throttled.length} of ${shedSamples.length} requests were refused, each with retry-after ${retryAfter.length > 0 ? `${formatMs(Math.min(...retryAfter))} to ${formatMs(Math.max(...retryAfter))}` : 'missing'}. ` +
        `Honouring retry-after turned ${b.ok} of ${b.requests} requests into answers (${retried.length} after waiting${b.ok < b.requests ? `; ${b.requests - b.ok} still refused after 5 attempts, as retries compete with new arrivals for the same window` : ''}), but the median time to first token went from ${formatMs(a.ttftMs?.p50 ?? NaN)} to ${formatMs(b.ttftMs?.p50 ?? NaN)} and the p95 to ${formatMs(b.ttftMs?.p95 ?? NaN)}, counted from each request's scheduled start.`
      : `No request was throttled at ${RATE_PER_SEC} requests/s: raise the rate or lower tokens-per-minute in token-limit.xml.`;
    return {
      finding,
      facts: {
        firstThrottledRequest: first ? first.index + 1 : null,
        throttled: throttled.length,
        retryAfterMinMs: retryAfter.length > 0 ? Math.min(...retryAfter) : null,
        retryAfterMaxMs: retryAfter.length > 0 ? Math.max(...retryAfter) : null,
        noRetryOk: a.ok,
        honouredOk: b.ok,
        honouredRequests: b.requests,
        retried: retried.length,
        ttftP50NoRetryMs: a.ttftMs?.p50 ?? null,
        ttftP50HonouredMs: b.ttftMs?.p50 ?? null,
        ttftP95HonouredMs: b.ttftMs?.p95 ?? null,
      },
    };
  },
});
