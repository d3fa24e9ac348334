import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import hdr from 'hdr-histogram-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { runCli } from '../helpers/cli.ts';
import { startFastMock, TEST_KEY } from '../helpers/mock.ts';

// Shards as separate processes, merged; and the same run as local workers. The union must be
// the single-process run: the same requests at the same intended times, and a merge that adds
// histograms exactly.
let mock: MockServer;
let root: string;
const ENV = { ...process.env, SHARD_TEST_KEY: TEST_KEY };
beforeAll(async () => {
  mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 20, itlMs: 1, jitterMs: 0, outputTokens: 8 } });
  root = mkdtempSync(join(tmpdir(), 'shards-'));
});
afterAll(async () => {
  await mock.close();
  rmSync(root, { recursive: true, force: true });
});

const flags = () => [
  'bench',
  '--endpoint',
  mock.url,
  '--api-key-env',
  'SHARD_TEST_KEY',
  '--api',
  'chat',
  '--stream',
  'on',
  '--max-tokens',
  '8',
  '--requests',
  '24',
  '--rate',
  '40',
  '--warmup',
  '0',
  '--seed',
  '7',
];
const samplesOf = (dir: string): Array<Record<string, any>> =>
  readFileSync(join(dir, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line));
const schedule = (dir: string): string[] =>
  samplesOf(dir)
    .map((s) => `${s.sequence}@${s.intendedMs.toFixed(3)}`)
    .sort();

describe('sharded runs, merged exactly', () => {
  it('two shard processes merge into the single-process run: same schedule, exact histograms, refusals named', async () => {
    const single = join(root, 'single');
    expect((await runCli([...flags(), '--out', single], process.cwd(), ENV)).code).toBe(0);
    const startAt = new Date(Date.now() + 5000).toISOString();
    const shards = await Promise.all(
      [0, 1].map((i) =>
        runCli(
          [...flags(), '--shard', `${i}/2`, '--run-id', 'r1', '--start-at', startAt, '--out', root],
          process.cwd(),
          ENV,
        ),
      ),
    );
    for (const shard of shards) expect(shard.code, shard.stderr).toBe(0);
    const runDir = join(root, 'r1');
    const shard0 = JSON.parse(readFileSync(join(runDir, 'shard-0', 'summary.json'), 'utf8'));
    expect(shard0.run.shard).toMatchObject({ index: 0, count: 2, runId: 'r1', startAt });
    expect(shard0.run.shard.startLateMs).toBeLessThan(2000);
    expect(typeof shard0.scenarios[0].histograms.ttftMs).toBe('string');

    const merged = await runCli(['merge', runDir, '--json'], process.cwd(), ENV);
    expect(merged.code, merged.stderr).toBe(0);
    const summary = JSON.parse(merged.stdout);
    // The union is the single run's schedule: every request, at its intended time.
    expect(schedule(runDir)).toEqual(schedule(single));
    expect(summary.scenarios[0].requests).toBe(24);
    expect(summary.run.shards.map((s: any) => s.index)).toEqual([0, 1]);
    // Exact: the added histograms hold exactly the samples' values (µs), percentile for percentile.
    const fromSamples = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 3_600_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (const s of samplesOf(runDir))
      if (s.ttftMs !== null) fromSamples.recordValue(Math.max(1, Math.round(s.ttftMs * 1000)));
    const added = hdr.decodeFromCompressedBase64(summary.scenarios[0].histograms.ttftMs);
    expect(added.totalCount).toBe(fromSamples.totalCount);
    for (const p of [50, 90, 99, 100]) expect(added.getValueAtPercentile(p)).toBe(fromSamples.getValueAtPercentile(p));
    // Within the harness's own error of the single-process run (the same mock, the same seeds).
    const singleSummary = JSON.parse(readFileSync(join(single, 'summary.json'), 'utf8'));
    expect(Math.abs(summary.scenarios[0].ttftMs.p50 - singleSummary.scenarios[0].ttftMs.p50)).toBeLessThan(5);
    expect(existsSync(join(runDir, 'report.html'))).toBe(true);
    expect(readFileSync(join(runDir, 'report.html'), 'utf8')).toContain('shard 1');
    // The load results of the union: each shard ran half the schedule, so rates and in-flight add (not the first shard's alone).
    const shardSummaries = [0, 1].map((i) =>
      JSON.parse(readFileSync(join(runDir, `shard-${i}`, 'summary.json'), 'utf8')),
    );
    const loads = shardSummaries.map((x) => x.scenarios[0].load);
    expect(summary.scenarios[0].load.achievedRatePerSec).toBeCloseTo(
      loads[0].achievedRatePerSec + loads[1].achievedRatePerSec,
      6,
    );
    expect(summary.scenarios[0].load.meanInFlight).toBeCloseTo(loads[0].meanInFlight + loads[1].meanInFlight, 6);
    expect(summary.scenarios[0].load.achievedRatePerSec).toBeGreaterThan(loads[0].achievedRatePerSec * 1.5);
    expect(summary.run.interrupted).toBe(false);
    // One shard interrupted: the merged run is interrupted too.
    const cut = join(root, 'cut');
    cpSync(runDir, cut, { recursive: true });
    writeFileSync(
      join(cut, 'shard-1', 'summary.json'),
      JSON.stringify({ ...shardSummaries[1], run: { ...shardSummaries[1].run, interrupted: true } }),
    );
    const mergedCut = await runCli(['merge', cut, '--json'], process.cwd(), ENV);
    // Written, marked interrupted, and the merge exits 1 naming the shard (a cut run is not a clean one).
    expect(mergedCut.code, mergedCut.stderr).toBe(1);
    expect(mergedCut.stderr).toMatch(/interrupted: shard 1/);
    expect(JSON.parse(mergedCut.stdout).run.interrupted).toBe(true);

    // Refusals, each naming what is wrong.
    const broken = join(root, 'broken');
    cpSync(runDir, broken, { recursive: true });
    rmSync(join(broken, 'shard-1'), { recursive: true });
    const missing = await runCli(['merge', broken], process.cwd(), ENV);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/shard 1 of 2 missing/);
    cpSync(join(runDir, 'shard-0'), join(broken, 'shard-1'), { recursive: true });
    const twice = await runCli(['merge', broken], process.cwd(), ENV);
    expect(twice.stderr).toMatch(/shard 0 twice/);
    const other = JSON.parse(readFileSync(join(runDir, 'shard-1', 'summary.json'), 'utf8'));
    other.run.shard.configHash = 'f'.repeat(64);
    writeFileSync(join(broken, 'shard-1', 'summary.json'), JSON.stringify(other));
    const mismatch = await runCli(['merge', broken], process.cwd(), ENV);
    expect(mismatch.code).toBe(2);
    expect(mismatch.stderr).toMatch(/ran another configuration/);
  });

  it('--workers 2 runs the same schedule as one process and merges it', async () => {
    const result = await runCli([...flags(), '--workers', '2', '--run-id', 'w1', '--out', root], process.cwd(), ENV);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/merged 2 shards/);
    expect(schedule(join(root, 'w1'))).toEqual(schedule(join(root, 'single')));
  });

  it('refuses a shard without a run id, and a closed loop thinner than the shards', async () => {
    const noId = await runCli([...flags(), '--shard', '0/2'], process.cwd(), ENV);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/"--run-id"/);
    const thin = await runCli(
      ['bench', '--endpoint', mock.url, '--concurrency', '2', '--workers', '4'],
      process.cwd(),
      ENV,
    );
    expect(thin.code).toBe(2);
    expect(thin.stderr).toMatch(/"--concurrency": 2 in flight cannot be split over 4 shards/);
    const envIndex = await runCli([...flags(), '--shards', '2', '--run-id', 'e1', '--out', root], process.cwd(), {
      ...ENV,
      JOB_COMPLETION_INDEX: '1',
    });
    expect(envIndex.code, envIndex.stderr).toBe(0);
    expect(existsSync(join(root, 'e1', 'shard-1', 'summary.json'))).toBe(true);
  });
});
