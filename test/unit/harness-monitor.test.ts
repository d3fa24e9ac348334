import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HarnessMonitor, STALL_THRESHOLD_MS, TICK_MS } from '../../src/load/harness-monitor.ts';
import { harnessSentence, harnessWarning } from '../../src/report/headline.ts';
import type { BenchSummary } from '../../src/bench/summary.ts';

const ms = (x: number): bigint => BigInt(Math.round(x * 1e6));

/** Drives the ticker by hand: each entry is how late that wake-up came, ms (negative: early). */
function drive(monitor: HarnessMonitor, latenesses: readonly number[], startMs = 1_000): number {
  let now = startMs;
  monitor.begin(ms(now));
  for (const late of latenesses) {
    now += TICK_MS + late;
    monitor.tick(ms(now));
  }
  return now;
}

/** Holds the event loop, as a saturated load generator does. */
function busy(forMs: number): void {
  const end = performance.now() + forMs;
  while (performance.now() < end) {
    // spin
  }
}

describe('the harness measures its own lateness past the intended wake-up (injected clock)', () => {
  it('reads about 0 on a loop that wakes on time, whatever the tick period', () => {
    const monitor = new HarnessMonitor();
    drive(
      monitor,
      Array.from({ length: 1_000 }, (_, i) => (i % 10) * 0.03 - 0.05),
    );
    const h = monitor.health();
    expect(h.eventLoopDelayMs.p50).toBeLessThan(0.2);
    expect(h.eventLoopDelayMs.p99).toBeLessThan(0.3);
    expect(h.eventLoopDelayMs.max).toBeLessThan(0.3);
    expect(h.stalledTimeShare).toBe(0);
    expect(h.isHarnessBound).toBe(false);
  });

  it('counts the excess, not the interval: a wake-up 12 ms late reads 12 ms, not 17', () => {
    const monitor = new HarnessMonitor();
    drive(monitor, [0, 0, 12, 0]);
    expect(monitor.health().eventLoopDelayMs.max).toBeCloseTo(12, 1);
  });

  it('marks only the samples that overlapped a stall, and the share of time spent in stalls', () => {
    const monitor = new HarnessMonitor();
    // 100 on-time ticks, one 40 ms stall, 100 on-time ticks.
    const lateness = [...Array(100).fill(0), 40, ...Array(100).fill(0)];
    const end = drive(monitor, lateness, 0);
    const stallEnd = 101 * TICK_MS + 40;
    expect(monitor.markSample(ms(10), ms(200))).toBe(false);
    expect(monitor.markSample(ms(stallEnd - 20), ms(stallEnd + 50))).toBe(true);
    expect(monitor.markSample(ms(stallEnd + 10), ms(end))).toBe(false);
    const h = monitor.health();
    expect(h).toMatchObject({ stalledSamples: 1, samples: 3 });
    expect(h.stalledTimeShare).toBeCloseTo(40 / end, 3);
    // One pause in a light run is a fact about some samples, not a harness that limited the run.
    expect(h.isHarnessBound).toBe(false);
  });

  it('is harness-bound when over 1% of wake-ups are late past the threshold while requests were read', () => {
    const monitor = new HarnessMonitor();
    // A 40 ms busy spell every 200 ms: one wake-up in 33 is late by about 40 ms.
    const lateness: number[] = [];
    for (let period = 0; period < 20; period++) lateness.push(...Array(32).fill(0.1), 40);
    const end = drive(monitor, lateness, 0);
    monitor.markSample(ms(0), ms(end));
    const h = monitor.health();
    expect(h.eventLoopDelayMs.p99).toBeGreaterThan(STALL_THRESHOLD_MS);
    expect(h.stalledTimeShare).toBeGreaterThan(0.15);
    expect(h.isHarnessBound).toBe(true);
  });

  it('is not harness-bound at 1% of late wake-ups or fewer, nor when no request was read during the stalls', () => {
    const atOnePercent = new HarnessMonitor();
    const end = drive(atOnePercent, [...Array(990).fill(0.1), ...Array(10).fill(30)], 0);
    atOnePercent.markSample(ms(0), ms(end));
    expect(atOnePercent.health().isHarnessBound).toBe(false);

    const noSamples = new HarnessMonitor();
    drive(noSamples, Array(100).fill(30));
    expect(noSamples.health().isHarnessBound).toBe(false);
  });
});

describe('the self-watch in words', () => {
  const summaryWith = (harness: BenchSummary['run']['harness']): BenchSummary =>
    ({ run: { harness } }) as unknown as BenchSummary;

  it('warns only when harness-bound, notes a pause that touched samples, and says nothing on a clean run', () => {
    const bound = {
      eventLoopDelayMs: { p50: 0.1, p99: 38.2, max: 41 },
      stallThresholdMs: 10,
      stalledSamples: 90,
      samples: 100,
      stalledTimeShare: 0.19,
      isHarnessBound: true,
    };
    expect(harnessWarning(summaryWith(bound))).toMatch(
      /^Warning: the load generator limited this run.*38\.2 ms late at p99.*19% of the run.*90 of 100 requests \(90%\)/,
    );
    const paused = {
      ...bound,
      eventLoopDelayMs: { p50: 0.1, p99: 0.3, max: 14 },
      stalledSamples: 8,
      samples: 128,
      stalledTimeShare: 0.0001,
      isHarnessBound: false,
    };
    expect(harnessWarning(summaryWith(paused))).toBeUndefined();
    expect(harnessSentence(paused)).toMatch(/^Note: .*did not limit the run.*8 of 128 requests \(6\.3%\)/);
    expect(harnessSentence({ ...paused, stalledSamples: 0 })).toBeUndefined();
  });
});

describe('the harness watches its real event loop', () => {
  it('marks a request that overlapped a stall, not one that did not, and reads an idle loop as on time', async () => {
    const monitor = new HarnessMonitor(50);
    monitor.start();
    try {
      await sleep(60);
      const calmStart = process.hrtime.bigint();
      await sleep(60);
      const calmEnd = process.hrtime.bigint();
      await sleep(20); // a stall's start is known to one tick (5 ms): keep the calm request clear of it
      const stalledStart = process.hrtime.bigint();
      busy(150);
      await sleep(30); // let the ticker see how late it was
      const stalledEnd = process.hrtime.bigint();
      expect(monitor.markSample(calmStart, calmEnd)).toBe(false);
      expect(monitor.markSample(stalledStart, stalledEnd)).toBe(true);
    } finally {
      monitor.stop();
    }
    const health = monitor.health();
    expect(health).toMatchObject({ stallThresholdMs: 50, stalledSamples: 1, samples: 2 });
    expect(health.eventLoopDelayMs.max).toBeGreaterThanOrEqual(120);
    // Most wake-ups were on time: the median is the lateness of an idle loop, not the tick period.
    expect(health.eventLoopDelayMs.p50).toBeLessThan(TICK_MS);
  });
});
