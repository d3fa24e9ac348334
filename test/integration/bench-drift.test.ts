import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayProxy, type DelayProxy } from '../../stand-ins/delay-proxy/delay-proxy.ts';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { runCli } from '../helpers/cli.ts';
import { startFastMock, TEST_KEY } from '../helpers/mock.ts';

// An upstream that slows down during the run (2 ms more per request), reached by two lab
// paths that are the same thing: the true overhead is exactly 0. Running every direct request
// before every gateway request charges the drift to the gateway; interleaving cancels it.
let mock: MockServer;
let drifting: DelayProxy;
beforeAll(async () => {
  mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 20, itlMs: 1, jitterMs: 0, outputTokens: 8 } });
  drifting = await startDelayProxy({ upstreamUrl: mock.url, delayMs: 0, driftMsPerRequest: 2 });
});
afterAll(async () => {
  await drifting.close();
  await mock.close();
});

async function overhead(
  extra: string[],
): Promise<{ estimate: number; low: number; high: number; verdict: string; interleaved: boolean }> {
  const out = mkdtempSync(join(tmpdir(), 'bench-drift-'));
  const path = { baseUrl: drifting.url, apiStyle: 'azure', auth: { kind: 'api-key', envName: 'DRIFT_KEY' } };
  writeFileSync(
    join(out, 'state.json'),
    JSON.stringify({
      schemaVersion: 1,
      target: 'local',
      deployment: 'gpt-4o-mini',
      apiVersion: '2024-10-21',
      paths: { direct: path, gateway: path },
    }),
  );
  const result = await runCli(
    [
      'bench',
      '--state',
      join(out, 'state.json'),
      '--api',
      'chat',
      '--stream',
      'on',
      '--max-tokens',
      '8',
      '--requests',
      '12',
      '--warmup',
      '1',
      '--out',
      out,
      ...extra,
    ],
    process.cwd(),
    { ...process.env, DRIFT_KEY: TEST_KEY },
  );
  expect(result.code, result.stderr).toBe(0);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const ttft = summary.comparisons.find((c: any) => c.kind === 'path-overhead' && c.metric === 'ttftMs');
  return { ...ttft.medianDifferenceMs, verdict: ttft.verdict, interleaved: ttft.interleaved };
}

describe('a drifting upstream, two paths to it (true overhead 0)', () => {
  it('one path after the other is biased by the drift; interleaved it is not', async () => {
    const sequential = await overhead(['--no-interleave']);
    // 13 requests (1 warm-up + 12) separate request i on each path: 26 ms of drift.
    expect(sequential.interleaved).toBe(false);
    expect(sequential.estimate).toBeGreaterThan(18);
    expect(sequential.verdict).toBe('adds');
    const interleaved = await overhead([]);
    expect(interleaved.interleaved).toBe(true);
    // Within each pair the drift is ±2 ms and cancels over the counterbalanced order; what is
    // left is loopback noise, a few ms at most on a loaded machine: an order of magnitude below.
    expect(Math.abs(interleaved.estimate)).toBeLessThan(sequential.estimate / 6);
  });
});
