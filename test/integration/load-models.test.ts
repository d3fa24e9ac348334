import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { createRequester } from '../../src/client/requester.ts';
import type { Timeline } from '../../src/client/timeline.ts';
import { runLoad } from '../../src/load/run-load.ts';
import type { LoadModel } from '../../src/load/types.ts';
import { Accumulator } from '../../src/metrics/stats.ts';
import { startFastMock } from '../helpers/mock.ts';
import { KEY_ENV, scenario } from '../helpers/bench.ts';

let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock({ timing: { ttftMs: 5, itlMs: 1, jitterMs: 0, outputTokens: 5 } });
});
afterAll(() => mock.close());

async function run(model: LoadModel, bounds: { requests?: number; durationMs?: number }, duringRun?: () => void) {
  const requester = await createRequester(scenario(mock), { env: KEY_ENV });
  const ttft = new Accumulator({ keepRaw: true });
  setTimeout(() => duringRun?.(), 0);
  const result = await runLoad<Timeline>({
    model,
    bounds: { warmup: 0, ...bounds },
    task: (_index, intendedNs, signal) => requester(intendedNs, signal),
    onResult: (tl) => {
      if (tl.outcome === 'ok') ttft.record(tl.firstContentMs!);
    },
    isError: (tl) => tl.outcome !== 'ok',
  });
  return { result, ttft: ttft.summary()! };
}

describe('load models', () => {
  it('the open loop holds a constant rate within 1%', async () => {
    const { result } = await run({ kind: 'open', ratePerSec: 100, arrival: 'constant' }, { requests: 250 });
    expect(result.launched).toBe(250);
    expect(result.completed).toBe(250);
    expect(Math.abs(result.achievedRatePerSec! - 100) / 100).toBeLessThan(0.01);
    expect(result.schedulerLagMs!.p50).toBeLessThan(2);
  });

  it('a 2 s stall shows in open-loop percentiles, while a closed loop hides it', async () => {
    const pause = () => setTimeout(() => void fetch(`${mock.url}/_mock/pause?ms=2000`, { method: 'POST' }), 1000);
    const closed = await run({ kind: 'sequential' }, { durationMs: 4000 }, pause);
    const open = await run({ kind: 'open', ratePerSec: 50, arrival: 'constant' }, { durationMs: 4000 }, pause);
    // Closed loop: one request sat through the stall; the loop simply sent fewer requests.
    expect(closed.ttft.max).toBeGreaterThan(1500);
    expect(closed.ttft.p90).toBeLessThan(100);
    // Open loop: every request intended during the stall waited, from its intended start.
    expect(open.ttft.p90).toBeGreaterThan(500);
    expect(open.ttft.n).toBeGreaterThan(190);
  });

  it('closed-loop concurrency keeps N in flight and stops at the request count', async () => {
    const { result, ttft } = await run({ kind: 'closed', concurrency: 8 }, { requests: 40 });
    expect(result.launched).toBe(40);
    expect(result.stoppedBy).toBe('requests');
    expect(ttft.n).toBe(40);
  });

  it('bails out when the error ratio passes the threshold', async () => {
    const requester = await createRequester(scenario(mock), { env: KEY_ENV, headers: { 'x-mock-fault': '500' } });
    const result = await runLoad<Timeline>({
      model: { kind: 'sequential' },
      bounds: { warmup: 0, requests: 100 },
      task: (_i, intendedNs, signal) => requester(intendedNs, signal),
      onResult: () => {},
      isError: (tl) => tl.outcome !== 'ok',
      bailout: { errorRatio: 0.5, minRequests: 10 },
    });
    expect(result.stoppedBy).toBe('bailout');
    expect(result.completed).toBeLessThan(15);
  });
});
