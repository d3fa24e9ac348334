import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { runBench } from '../../src/bench/run-bench.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { benchTargets } from '../../src/lab/targets.ts';
import { summaryToMarkdown } from '../../src/report/summary-markdown.ts';
import { startFastMock, TEST_KEY } from '../helpers/mock.ts';

// The bench watches its own event loop: a light run must not be called harness-bound, and a
// run whose harness is starved on purpose (the loop held 40 ms in every 200 ms) must be, with
// the requests that overlapped a hold marked harnessStalled.
let mock: MockServer;
const dirs: string[] = [];
beforeAll(async () => {
  mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 60, itlMs: 10, jitterMs: 2, outputTokens: 30 } });
});
afterAll(async () => {
  await mock.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function bench(duringRun?: () => () => void) {
  const out = mkdtempSync(join(tmpdir(), 'self-watch-'));
  dirs.push(out);
  const env = { SELF_WATCH_KEY: TEST_KEY };
  const options = resolveBenchOptions(
    [
      '--endpoint',
      mock.url,
      '--api-key-env',
      'SELF_WATCH_KEY',
      '--api',
      'chat',
      '--stream',
      'on',
      '--requests',
      '40',
      '--concurrency',
      '4',
      '--warmup',
      '1',
      '--out',
      out,
    ],
    env,
  );
  const stop = duringRun?.();
  try {
    const { summary } = await runBench({
      options,
      targets: benchTargets(options, undefined),
      outDir: out,
      env,
      signal: new AbortController().signal,
      toolVersion: 'test',
    });
    const samples = readFileSync(join(out, 'samples.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { harnessStalled: boolean; phase?: string });
    return { summary, samples };
  } finally {
    stop?.();
  }
}

/** Holds this process's event loop for `holdMs` every `everyMs`, as a saturated load generator does. */
function starve(holdMs: number, everyMs: number): () => () => void {
  return () => {
    const timer = setInterval(() => {
      const end = performance.now() + holdMs;
      while (performance.now() < end) {
        // spin
      }
    }, everyMs);
    return () => clearInterval(timer);
  };
}

describe('the harness self-watch', () => {
  it('does not call a light run harness-bound', async () => {
    const { summary } = await bench();
    const h = summary.run.harness!;
    expect(h.samples).toBeGreaterThanOrEqual(40);
    expect(h.isHarnessBound).toBe(false);
    expect(h.eventLoopDelayMs.p99).toBeLessThan(h.stallThresholdMs);
    expect(summaryToMarkdown(summary)).not.toMatch(/Warning/);
  });

  it('calls a starved run harness-bound, marks its stalled samples, and says how much of the run it touched', async () => {
    const { summary, samples } = await bench(starve(40, 200));
    const h = summary.run.harness!;
    expect(h.isHarnessBound).toBe(true);
    expect(h.eventLoopDelayMs.p99).toBeGreaterThan(h.stallThresholdMs);
    expect(h.eventLoopDelayMs.max).toBeGreaterThanOrEqual(30);
    // Each request lasts about 360 ms, so nearly every one spans a hold.
    const marked = samples.filter((s) => s.harnessStalled).length;
    expect(marked).toBe(h.stalledSamples);
    expect(marked / samples.length).toBeGreaterThan(0.5);
    expect(h.stalledTimeShare).toBeGreaterThan(0.05);
    expect(summaryToMarkdown(summary)).toMatch(
      new RegExp(`Warning: the load generator limited this run.*${h.stalledSamples} of ${h.samples} requests`),
    );
  });
});
