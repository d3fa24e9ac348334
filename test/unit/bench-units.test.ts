import { describe, expect, it } from 'vitest';
import { withRetry429 } from '../../src/client/retry.ts';
import { createTimeline, type Timeline } from '../../src/client/timeline.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { createArrivals } from '../../src/load/run-load.ts';
import { toSample } from '../../src/metrics/sample.ts';

describe('per-request metrics', () => {
  const base = (): Timeline => {
    const tl = createTimeline('chat', true, 0n);
    Object.assign(tl, {
      sentMs: 2,
      firstByteMs: 40,
      firstEventMs: 40,
      firstContentMs: 100,
      lastContentMs: 190,
      endMs: 200,
      contentArrivalsMs: [100, 130, 160, 190],
      text: 'a b c d',
      usage: { completionTokens: 11 },
    });
    return tl;
  };
  const ctx = {
    scenario: 's',
    path: 'direct',
    maxTokens: 64,
    index: 0,
    isWarmup: false,
    countTokens: (t: string) => t.split(' ').length,
  };

  it('derives TTFT, E2E, ITL, TPOT and tokens/s, preferring usage for the token count', () => {
    const sample = toSample(base(), ctx);
    expect(sample).toMatchObject({
      ttftMs: 100,
      e2eMs: 200,
      queueMs: 2,
      outputTokens: 11,
      tokenSource: 'usage',
      chunks: 4,
      tpotMs: 10,
      tokensPerSec: 55,
    });
    expect(sample.itl).toMatchObject({ n: 3, meanMs: 30, p50Ms: 30, maxMs: 30 });
  });

  it('falls back to the tokenizer and says so', () => {
    const tl = base();
    delete tl.usage;
    expect(toSample(tl, ctx)).toMatchObject({ outputTokens: 4, tokenSource: 'tokenizer' });
  });

  it('failed requests keep timing context but no latency metrics', () => {
    const tl = base();
    tl.outcome = 'timeout_idle';
    expect(toSample(tl, ctx)).toMatchObject({ outcome: 'timeout_idle', ttftMs: null, e2eMs: null, ttfbMs: 40 });
  });
});

describe('bench options', () => {
  const fails = (argv: string[], flag: string, allowed: string) => {
    try {
      resolveBenchOptions(argv, {});
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as Error).message).toContain(`"${flag}"`);
      expect((error as Error).message).toContain(allowed);
    }
  };

  it('defaults to a sequential chat run, streaming and not, 20 requests', () => {
    expect(resolveBenchOptions([], {})).toMatchObject({
      apis: ['chat'],
      streams: [true, false],
      maxTokens: [256],
      requests: 20,
      load: { kind: 'sequential' },
      apiKeyEnv: 'AZURE_OPENAI_API_KEY',
    });
  });

  it('reads load models and durations', () => {
    expect(resolveBenchOptions(['--rate', '5', '--arrival', 'poisson'], {}).load).toEqual({
      kind: 'open',
      ratePerSec: 5,
      arrival: 'poisson',
    });
    expect(resolveBenchOptions(['--concurrency', '8'], {}).load).toEqual({ kind: 'closed', concurrency: 8 });
    expect(resolveBenchOptions(['--duration', '2m'], {})).toMatchObject({ durationMs: 120_000, requests: undefined });
    expect(resolveBenchOptions(['--max-tokens', '64,max'], {}).maxTokens).toEqual([64, 'max']);
  });

  it('names the flag and what is allowed', () => {
    fails(['--api', 'chat,embeddings'], '--api', 'chat, completions, responses, on-your-data');
    fails(['--stream', 'maybe'], '--stream', 'on, off, both');
    fails(['--duration', 'soon'], '--duration', 'ms, s or m');
    fails(['--rate', '5', '--concurrency', '2'], '--rate', '--concurrency');
    fails(['--retry-429', 'always'], '--retry-429', 'none, honor');
    fails(['--requests', '0'], '--requests', '1 to');
  });
});

describe('arrivals and retries', () => {
  it('Poisson gaps average 1/rate; constant gaps are exact', () => {
    const next = createArrivals(50, 'poisson', 3);
    const gaps = Array.from({ length: 20_000 }, next);
    const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
    expect(Math.abs(mean - 20) / 20).toBeLessThan(0.03);
    expect(createArrivals(50, 'constant')()).toBe(20);
  });

  it('honouring a 429 waits retry-after-ms and counts from the first attempt', async () => {
    let calls = 0;
    const started = performance.now();
    const result = await withRetry429(
      async () => {
        calls++;
        const tl = createTimeline('chat', true, 0n);
        if (calls === 1) Object.assign(tl, { outcome: 'http_429', retryAfterMs: 50 });
        return tl;
      },
      { policy: 'honor', maxWaitMs: 1000, maxAttempts: 3 },
    );
    expect(result.outcome).toBe('ok');
    expect(result.attempts).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(49);
    const none = await withRetry429(
      async () => Object.assign(createTimeline('chat', true, 0n), { outcome: 'http_429' as const, retryAfterMs: 50 }),
      { policy: 'none', maxWaitMs: 1000, maxAttempts: 3 },
    );
    expect(none.attempts).toBe(1);
  });
});
