import { cpSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { runBench } from '../../src/bench/run-bench.ts';
import { compareCommand } from '../../src/cli/report-commands.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { benchTargets } from '../../src/lab/targets.ts';
import { writeRunReports } from '../../src/report/write-report.ts';
import { runCli } from '../helpers/cli.ts';
import { startFastMock, TEST_KEY } from '../helpers/mock.ts';
import { captureOutput, type CapturedOutput } from '../helpers/capture-output.ts';

// A CI gate must be able to fail, and must fail when it checked nothing (issue 31): compare's
// --fail-on-regression on runs that share no scenario, miss one, or hold too few samples.
let mock: MockServer;
let dir: string;
let output: CapturedOutput;

async function bench(name: string, apis: string, requests = 8): Promise<string> {
  const out = join(dir, name);
  const env = { GATE_KEY: TEST_KEY };
  const options = resolveBenchOptions(
    [
      '--endpoint',
      mock.url,
      '--api-key-env',
      'GATE_KEY',
      '--api',
      apis,
      '--stream',
      'on',
      '--max-tokens',
      '8',
      '--requests',
      String(requests),
      '--concurrency',
      '4',
      '--warmup',
      '0',
      '--out',
      out,
    ],
    env,
  );
  const { summary } = await runBench({
    options,
    targets: benchTargets(options, undefined),
    outDir: out,
    env,
    signal: new AbortController().signal,
    toolVersion: 'test',
  });
  await writeRunReports(out, summary);
  return out;
}

let chat: string;
let chat2: string;
let both: string;
let responses: string;
beforeAll(async () => {
  mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 20, itlMs: 2, jitterMs: 1, outputTokens: 8 } });
  dir = mkdtempSync(join(tmpdir(), 'compare-gate-'));
  chat = await bench('chat', 'chat');
  chat2 = await bench('chat2', 'chat');
  both = await bench('both', 'chat,responses');
  responses = await bench('responses', 'responses');
}, 60_000);
afterAll(async () => {
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  output = captureOutput();
});
afterEach(() => vi.restoreAllMocks());

const gate = (a: string, b: string, ...extra: string[]) =>
  compareCommand([a, b, '--fail-on-regression', '50', '--resamples', '200', '--out', join(dir, 'cmp'), ...extra]);

describe('compare --fail-on-regression: a gate that can fail', () => {
  it('passes two comparable runs with no slow-down, and says what it compared', async () => {
    expect(await gate(chat, chat2)).toBe(0);
    expect(output.stderr()).toMatch(/The gate \(--fail-on-regression 50\) passes: 1 scenario\(s\) compared/);
  });

  it('fails when nothing was compared (no scenario in both runs), naming the scenarios of each', async () => {
    expect(await gate(chat, responses)).toBe(1);
    expect(output.stderr()).toMatch(
      /fails:\n {2}- nothing was compared: no scenario is in both runs \(baseline: chat\/stream\/max-8\/direct; candidate: responses\/stream\/max-8\/direct\)/,
    );
    // Without the gate, compare only informs.
    output.clear();
    expect(await compareCommand([chat, responses, '--resamples', '200', '--out', join(dir, 'cmp')])).toBe(0);
    expect(output.stderr()).toMatch(/nothing was compared/);
  });

  it('fails when the candidate lacks a baseline scenario', async () => {
    expect(await gate(both, chat2)).toBe(1);
    expect(output.stderr()).toMatch(
      /the candidate lacks 1 of the baseline's scenarios: responses\/stream\/max-8\/direct/,
    );
  });

  it('fails when a compared scenario has too few samples to test (a truncated run)', async () => {
    const truncated = join(dir, 'truncated');
    cpSync(chat2, truncated, { recursive: true });
    const lines = readFileSync(join(truncated, 'samples.jsonl'), 'utf8').split('\n');
    // Two whole lines and a torn third, as an interrupted copy leaves.
    writeFileSync(join(truncated, 'samples.jsonl'), `${lines.slice(0, 2).join('\n')}\n${lines[2]!.slice(0, 20)}`);
    const summary = JSON.parse(readFileSync(join(truncated, 'summary.json'), 'utf8')) as { run: { startedAt: string } };
    summary.run.startedAt = new Date(0).toISOString();
    writeFileSync(join(truncated, 'summary.json'), JSON.stringify(summary));
    expect(await gate(chat, truncated)).toBe(1);
    expect(output.stderr()).toMatch(
      /chat\/stream\/max-8\/direct: too few samples to test any metric \(baseline 8 ok of 8, candidate 2 ok of 2\)/,
    );
  });

  it('refuses a run compared with itself, or with a copy of itself (exit 2, no stack trace), before writing anything', async () => {
    const self = await runCli(['compare', chat, chat, '--fail-on-regression', '10'], dir);
    expect(self.code).toBe(2);
    expect(self.stderr).toMatch(/"B": ".*chat" is the same run as A/);
    const copy = join(dir, 'copy');
    cpSync(chat, copy, { recursive: true });
    const copied = await runCli(['compare', chat, copy, '--fail-on-regression', '10'], dir);
    expect(copied.code).toBe(2);
    expect(copied.stderr).toMatch(/holds the same run as .* \(both started at .*\): a copy/);
    for (const r of [self, copied]) expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses an --out that is a file before any work, leaving it byte-identical', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'keep me');
    const result = await runCli(['compare', chat, chat2, '--out', file], dir);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/"--out": ".*not-a-dir" exists and is not a directory/);
    expect(readFileSync(file, 'utf8')).toBe('keep me');
  });
});
