import {
  appendFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { runBench } from '../../src/bench/run-bench.ts';
import { mergeCommand } from '../../src/cli/shard-commands.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { benchTargets } from '../../src/lab/targets.ts';
import { writeRunReports } from '../../src/report/write-report.ts';
import { runCli } from '../helpers/cli.ts';
import { startFastMock, TEST_KEY } from '../helpers/mock.ts';
import { captureOutput } from '../helpers/capture-output.ts';

// `npm run merge` fed the shard folders an unlucky or hostile user leaves (issue 31): every
// refusal exits 2 naming the problem, with no stack trace, and an earlier merge's files stay
// byte-identical.
let mock: MockServer;
let root: string;
let pristine: string;

async function shard(out: string, index: number): Promise<void> {
  const env = { MERGE_KEY: TEST_KEY };
  const options = resolveBenchOptions(
    [
      '--endpoint',
      mock.url,
      '--api-key-env',
      'MERGE_KEY',
      '--api',
      'chat',
      '--stream',
      'on',
      '--max-tokens',
      '8',
      '--requests',
      '12',
      '--concurrency',
      '3',
      '--warmup',
      '0',
      '--shard',
      `${index}/2`,
      '--run-id',
      'r1',
      '--out',
      out,
    ],
    env,
  );
  const dir = join(out, 'r1', `shard-${index}`);
  const { summary } = await runBench({
    options,
    targets: benchTargets(options, undefined),
    outDir: dir,
    env,
    signal: new AbortController().signal,
    toolVersion: 'test',
  });
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
const edit = (file: string, change: (value: any) => unknown): void =>
  writeFileSync(file, JSON.stringify(change(json(file))));

/** Each hostile variant of a merged run folder: what to break, and what the refusal must name. */
const HOSTILE: Array<{ name: string; breakIt(dir: string): void; names: RegExp }> = [
  {
    name: 'a shard index outside 0..N-1',
    breakIt: (d) => edit(join(d, 'shard-1/summary.json'), (s) => ((s.run.shard.index = 5), s)),
    names: /claims shard index 5, outside 0\.\.1 of a 2-shard run/,
  },
  {
    name: 'a negative shard index',
    breakIt: (d) => edit(join(d, 'shard-1/summary.json'), (s) => ((s.run.shard.index = -1), s)),
    names: /claims shard index -1/,
  },
  {
    name: 'a corrupt histogram',
    breakIt: (d) =>
      edit(join(d, 'shard-0/summary.json'), (s) => ((s.scenarios[0].histograms.ttftMs = 'not-a-histogram!!'), s)),
    names: /ttftMs histogram of .* (cannot be read|count)/,
  },
  {
    name: "another metric's histogram under ttftMs",
    breakIt: (d) =>
      edit(
        join(d, 'shard-0/summary.json'),
        (s) => ((s.scenarios[0].histograms.ttftMs = s.scenarios[0].histograms.itlMs), s),
      ),
    names: /ttftMs histograms of .* count \d+ values, their samples \d+/,
  },
  {
    name: 'a missing samples.jsonl',
    breakIt: (d) => rmSync(join(d, 'shard-1/samples.jsonl')),
    names: /shard-1 has no samples\.jsonl/,
  },
  {
    name: 'a null summary',
    breakIt: (d) => writeFileSync(join(d, 'shard-0/summary.json'), 'null'),
    names: /summary\.json holds null/,
  },
  {
    name: 'a summary without its run',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ({ schemaVersion: s.schemaVersion })),
    names: /lacks its run or its scenarios/,
  },
  {
    name: 'a run.shard that is a string',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.run.shard = 'zero'), s)),
    names: /shard-0 is not a shard/,
  },
  {
    name: 'a run.shard without its run id',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => (delete s.run.shard.runId, s)),
    names: /run\.shard is not a shard's record/,
  },
  {
    name: 'not JSON at all',
    breakIt: (d) => writeFileSync(join(d, 'shard-1/summary.json'), '{"schemaVersion": 1, "run": '),
    names: /summary\.json is not JSON/,
  },
  // Summaries of the wrong shape: refused at the edge naming the file, the field, what it holds and what is allowed (they were TypeErrors).
  {
    name: 'run.targets null',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.run.targets = null), s)),
    names: /shard-0\/summary\.json: run\.targets is null\. Allowed: run\.targets: an array of targets/,
  },
  {
    name: 'run.load null',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.run.load = null), s)),
    names: /shard-0\/summary\.json: run\.load is null\. Allowed: run\.load: an object/,
  },
  {
    name: 'a null scenario',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.scenarios = [null]), s)),
    names: /shard-0\/summary\.json: scenarios\[0\] is null\. Allowed: scenarios\[0\]: an object/,
  },
  {
    name: 'run.host missing',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => (delete s.run.host, s)),
    names: /shard-0\/summary\.json: run\.host is missing\. Allowed: run\.host: an object \{platform, cpus, cpuModel\}/,
  },
  {
    name: 'run.host null in the second shard',
    breakIt: (d) => edit(join(d, 'shard-1/summary.json'), (s) => ((s.run.host = null), s)),
    names: /shard-1\/summary\.json: run\.host is null/,
  },
  {
    name: 'a scenario whose ok is not a count',
    breakIt: (d) => edit(join(d, 'shard-1/summary.json'), (s) => ((s.scenarios[0].ok = 'six'), s)),
    names: /shard-1\/summary\.json: scenarios\[0\]\.ok is "six"\. Allowed: .*a whole number, at most requests/,
  },
  {
    name: 'a samples.jsonl that is a directory',
    breakIt: (d) => (rmSync(join(d, 'shard-1/samples.jsonl')), mkdirSync(join(d, 'shard-1/samples.jsonl'))),
    names: /shard-1\/samples\.jsonl is not a file/,
  },
  // A shard count nothing can size (it ran out of heap): bounded as the bench bounds --shards.
  {
    name: 'a billion shards',
    breakIt: (d) => {
      for (const s of ['shard-0', 'shard-1'])
        edit(join(d, s, 'summary.json'), (v) => ((v.run.shard.count = 1_000_000_000), v));
    },
    names: /run\.shard\.count is 1000000000\. Allowed: run\.shard\.count: a whole number from 1 to 10,000/,
  },
  // Scenario lists that differ would lose samples (or count some unchecked): same scenarios in every shard.
  {
    name: 'a shard without scenarios',
    breakIt: (d) => edit(join(d, 'shard-0/summary.json'), (s) => ((s.scenarios = []), s)),
    names: /shard-1\/summary\.json has scenario "chat\/stream\/max-8\/direct" .*which .*shard-0\/summary\.json lacks/,
  },
  {
    name: 'a shard with an extra scenario',
    breakIt: (d) => {
      edit(join(d, 'shard-1/summary.json'), (s) => (s.scenarios.push({ ...s.scenarios[0], name: 'extra' }), s));
      const lines = readFileSync(join(d, 'shard-1/samples.jsonl'), 'utf8').trim().split('\n');
      appendFileSync(
        join(d, 'shard-1/samples.jsonl'),
        `${lines.map((l) => JSON.stringify({ ...JSON.parse(l), scenario: 'extra' })).join('\n')}\n`,
      );
    },
    names: /shard-1\/summary\.json has scenario "extra" .*which .*shard-0\/summary\.json lacks/,
  },
  {
    name: 'a shard that lacks a scenario',
    breakIt: (d) =>
      edit(join(d, 'shard-0/summary.json'), (s) => (s.scenarios.push({ ...s.scenarios[0], name: 'only-here' }), s)),
    names: /shard-1\/summary\.json lacks scenario "only-here"/,
  },
  // samples.jsonl lines the summary would not count: refused, never carried into the merged file unsaid.
  {
    name: 'a garbage line in samples.jsonl',
    breakIt: (d) => appendFileSync(join(d, 'shard-1/samples.jsonl'), 'garbage{\n'),
    names: /shard-1\/samples\.jsonl line \d+ is not JSON \("garbage\{"\)/,
  },
  {
    name: 'a JSON line that is not a sample',
    breakIt: (d) => appendFileSync(join(d, 'shard-1/samples.jsonl'), '[1, 2]\n'),
    names: /shard-1\/samples\.jsonl line \d+ holds an array, not a sample/,
  },
  {
    name: 'a sample of a scenario no summary lists',
    breakIt: (d) =>
      appendFileSync(
        join(d, 'shard-0/samples.jsonl'),
        `${JSON.stringify({ ...JSON.parse(readFileSync(join(d, 'shard-0/samples.jsonl'), 'utf8').split('\n')[0]!), scenario: 'ghost' })}\n`,
      ),
    names:
      /shard-0\/samples\.jsonl line \d+ is a sample of scenario "ghost", which the shard's summary\.json does not list/,
  },
  {
    name: 'a sample line twice',
    breakIt: (d) =>
      appendFileSync(
        join(d, 'shard-1/samples.jsonl'),
        `${readFileSync(join(d, 'shard-1/samples.jsonl'), 'utf8').split('\n')[0]}\n`,
      ),
    names:
      /shard-1\/samples\.jsonl holds 7 measured samples of "chat\/stream\/max-8\/direct", .*shard-1\/summary\.json counts 6 requests/,
  },
  // An output name merge cannot replace: refused before anything is written (the new samples.jsonl was renamed in, then the summary write crashed).
  {
    name: 'summary.csv a directory, and a garbage line',
    breakIt: (d) => {
      appendFileSync(join(d, 'shard-1/samples.jsonl'), 'garbage{\n');
      rmSync(join(d, 'summary.csv'));
      mkdirSync(join(d, 'summary.csv'));
    },
    names: /summary\.csv exists and is not a file \(a directory\)/,
  },
  {
    name: 'report.html a directory',
    breakIt: (d) => (rmSync(join(d, 'report.html')), mkdirSync(join(d, 'report.html'))),
    names: /report\.html exists and is not a file/,
  },
];

/** What a merge writes into DIR, each as it is now (files only). */
const OUTPUTS = ['samples.jsonl', 'summary.json', 'summary.csv', 'summary.md', 'report.html'];
const outputs = (dir: string): Map<string, Buffer> =>
  new Map(
    OUTPUTS.filter((name) => statSync(join(dir, name)).isFile()).map((name) => [name, readFileSync(join(dir, name))]),
  );

// Commands run in-process: their output is captured, not printed.
beforeEach(() => void captureOutput());
afterEach(() => vi.restoreAllMocks());

describe('merge refuses what does not fit, and loses nothing', () => {
  it('merges the clean shards: 12 requests, not more', async () => {
    const dir = join(root, 'clean');
    cpSync(pristine, dir, { recursive: true });
    expect(await mergeCommand([dir, '--json'])).toBe(0);
    expect(json(join(dir, 'summary.json')).scenarios[0].requests).toBe(12);
    expect(readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n')).toHaveLength(12);
    expect(readdirSync(dir).filter((name) => name.startsWith('.merging'))).toEqual([]);
  });

  for (const variant of HOSTILE) {
    it(`${variant.name}: refused naming it, the earlier merge byte-identical`, async () => {
      const dir = join(root, variant.name.replace(/\W+/g, '-'));
      cpSync(pristine, dir, { recursive: true });
      expect(await mergeCommand([dir, '--json'])).toBe(0);
      const before = outputs(dir);
      variant.breakIt(dir);
      await expect(mergeCommand([dir, '--json'])).rejects.toMatchObject({
        code: 'E_INVALID_OPTION',
        message: expect.stringMatching(variant.names),
      });
      const after = outputs(dir);
      expect(after.has('samples.jsonl') && after.has('summary.json')).toBe(true);
      for (const [name, bytes] of after) expect(bytes.equals(before.get(name)!), name).toBe(true);
      expect(readdirSync(dir).filter((name) => name.startsWith('.merging'))).toEqual([]);
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

  it('through the CLI: summaries of the wrong shape and a billion shards exit 2 naming the field, no stack trace, no out-of-memory', async () => {
    for (const variant of HOSTILE.filter((v) =>
      ['run.targets null', 'a null scenario', 'a samples.jsonl that is a directory', 'a billion shards'].includes(
        v.name,
      ),
    )) {
      const dir = join(root, `cli-${variant.name.replace(/\W+/g, '-')}`);
      cpSync(pristine, dir, { recursive: true });
      variant.breakIt(dir);
      const refused = await runCli(['merge', dir], root);
      expect(refused.code, variant.name).toBe(2);
      expect(refused.stderr).toMatch(variant.names);
      expect(refused.stderr).not.toMatch(/\n\s+at |TypeError|heap/);
    }
  }, 30_000);
});
