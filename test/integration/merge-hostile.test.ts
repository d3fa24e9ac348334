import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MockServer } from '../../mock-server/server.ts';
import { runBench } from '../../src/bench/run-bench.ts';
import { mergeCommand } from '../../src/cli/shard-commands.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { benchTargets } from '../../src/lab/targets.ts';
import { writeRunReports } from '../../src/report/write-report.ts';
import { runCli } from '../helpers/cli.ts';
import { startFastMock, TEST_KEY } from '../helpers/mock.ts';

// `npm run merge` fed the shard folders an unlucky or hostile user leaves (issue 31): every
// refusal exits 2 naming the problem, with no stack trace, and an earlier merge's files stay
// byte-identical.
let mock: MockServer;
let root: string;
let pristine: string;

async function shard(out: string, index: number): Promise<void> {
  const env = { MERGE_KEY: TEST_KEY };
  const options = resolveBenchOptions(['--endpoint', mock.url, '--api-key-env', 'MERGE_KEY', '--api', 'chat', '--stream', 'on', '--max-tokens', '8', '--requests', '12', '--concurrency', '3', '--warmup', '0', '--shard', `${index}/2`, '--run-id', 'r1', '--out', out], env);
  const dir = join(out, 'r1', `shard-${index}`);
  const { summary } = await runBench({ options, targets: benchTargets(options, undefined), outDir: dir, env, signal: new AbortController().signal, toolVersion: 'test' });
  await writeRunReports(dir, summary);
}

beforeAll(async () => {
  mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 10, itlMs: 1, jitterMs: 0, outputTokens: 8 } });
  root = mkdtempSync(join(tmpdir(), 'merge-hostile-'));
  await shard(root, 0);
  await shard(root, 1);
  pristine = join(root, 'pristine');
  cpSync(join(root, 'r1'), pristine, { recursive: true });
}, 60_000);
afterAll(async () => {
  await mock.close();
  rmSync(root, { recursive: true, force: true });
});

const json = (file: string): Record<string, any> => JSON.parse(readFileSync(file, 'utf8'));
const edit = (file: string, change: (value: any) => unknown): void => writeFileSync(file, JSON.stringify(change(json(file))));

/** Each hostile variant of a merged run folder: what to break, and what the refusal must name. */
const HOSTILE: Array<{ name: string; breakIt(dir: string): void; names: RegExp }> = [
  { name: 'a shard index outside 0..N-1', breakIt: (d) => edit(join(d, 'shard-1/summary.json'), (s) => ((s.run.shard.index = 5), s)), names: /claims shard index 5, outside 0\.\.1 of a 2-shard run/ },
  { name: 'a negative shard index', breakIt: (d) => edit(join(d, 'shard-1/summary.json'), (s) => ((s.run.shard.index = -1), s)), names: /claims shard index -1/ },
  { name: 'a corrupt histogram', breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.scenarios[0].histograms.ttftMs = 'not-a-histogram!!'), s)), names: /ttftMs histogram of .* (cannot be read|count)/ },
  { name: "another metric's histogram under ttftMs", breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.scenarios[0].histograms.ttftMs = s.scenarios[0].histograms.itlMs), s)), names: /ttftMs histograms of .* count \d+ values, their samples \d+/ },
  { name: 'a missing samples.jsonl', breakIt: (d) => rmSync(join(d, 'shard-1/samples.jsonl')), names: /shard-1 has no samples\.jsonl/ },
  { name: 'a null summary', breakIt: (d) => writeFileSync(join(d, 'shard-0/summary.json'), 'null'), names: /summary\.json holds null/ },
  { name: 'a summary without its run', breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ({ schemaVersion: s.schemaVersion })), names: /lacks its run or its scenarios/ },
  { name: 'a run.shard that is a string', breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.run.shard = 'zero'), s)), names: /shard-0 is not a shard/ },
  { name: 'a run.shard without its run id', breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => (delete s.run.shard.runId, s)), names: /run\.shard is not a shard's record/ },
  { name: 'not JSON at all', breakIt: (d) => writeFileSync(join(d, 'shard-1/summary.json'), '{"schemaVersion": 1, "run": '), names: /summary\.json is not JSON/ },
];

beforeEach(() => {
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

describe('merge refuses what does not fit, and loses nothing', () => {
  it('merges the clean shards: 12 requests, not more', async () => {
    const dir = join(root, 'clean');
    cpSync(pristine, dir, { recursive: true });
    expect(await mergeCommand([dir, '--json'])).toBe(0);
    expect(json(join(dir, 'summary.json')).scenarios[0].requests).toBe(12);
  });

  for (const variant of HOSTILE) {
    it(`${variant.name}: refused naming it, the earlier merge byte-identical`, async () => {
      const dir = join(root, variant.name.replace(/\W+/g, '-'));
      cpSync(pristine, dir, { recursive: true });
      expect(await mergeCommand([dir, '--json'])).toBe(0);
      const before = { samples: readFileSync(join(dir, 'samples.jsonl')), summary: readFileSync(join(dir, 'summary.json')) };
      variant.breakIt(dir);
      await expect(mergeCommand([dir, '--json'])).rejects.toMatchObject({ code: 'E_INVALID_OPTION', message: expect.stringMatching(variant.names) });
      expect(readFileSync(join(dir, 'samples.jsonl')).equals(before.samples)).toBe(true);
      expect(readFileSync(join(dir, 'summary.json')).equals(before.summary)).toBe(true);
    });
  }

  it('through the CLI: exit 2, the message, no stack trace; a file given as DIR too', async () => {
    const dir = join(root, 'cli');
    cpSync(pristine, dir, { recursive: true });
    HOSTILE[0]!.breakIt(dir);
    const refused = await runCli(['merge', dir], root);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(HOSTILE[0]!.names);
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const notDir = await runCli(['merge', file], root);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toMatch(/it is a file, not a directory/);
    for (const r of [refused, notDir]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
