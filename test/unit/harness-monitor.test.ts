import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { HarnessMonitor } from '../../src/load/harness-monitor.ts';

/** Holds the event loop, as a saturated load generator does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

describe('the harness watches its own event loop', () => {
  it('marks a request that overlapped a stall, not one that did not, and says the run was harness-bound', async () => {
    const monitor = new HarnessMonitor(50);
    monitor.start();
    try {
      await sleep(30);
      const calmStart = process.hrtime.bigint();
      await sleep(30);
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
    expect(health).toMatchObject({ stallThresholdMs: 50, stalledSamples: 1, samples: 2, isHarnessBound: true });
    expect(health.eventLoopDelayMs.max).toBeGreaterThanOrEqual(120);
  });
});
