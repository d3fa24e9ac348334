import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { startFastMock } from '../helpers/mock.ts';

// npm run bench as users run it: a process, flags, files, exit codes.
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const SECRET = 'bench-cli-secret-key';
let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock({ apiKey: SECRET, timing: { ttftMs: 30, itlMs: 2, jitterMs: 0, outputTokens: 20 } });
});
afterAll(() => mock.close());

async function bench(
  args: string[],
  env: Record<string, string> = { AZURE_OPENAI_API_KEY: SECRET },
  onStart?: (child: ReturnType<typeof spawn>) => void,
) {
  const child = spawn(process.execPath, [CLI, 'bench', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  onStart?.(child);
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

const outDir = () => mkdtempSync(join(tmpdir(), 'bench-'));

// Each case has its own output folder; the mock is shared: side by side.
describe.concurrent('npm run bench', () => {
  it('runs the matrix and writes samples.jsonl, summary.json|csv|md; keys never leak', async () => {
    const out = outDir();
    const { code, stdout, stderr } = await bench([
      '--endpoint',
      mock.url,
      '--api',
      'chat,responses',
      '--stream',
      'both',
      '--max-tokens',
      '8,16',
      '--requests',
      '3',
      '--out',
      out,
      '--json',
    ]);
    expect(code).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(JSON.parse(stdout)).toEqual(summary);
    expect(summary.schemaVersion).toBe(1);
    expect(summary.scenarios).toHaveLength(8);
    for (const s of summary.scenarios) {
      expect(s).toMatchObject({ requests: 3, ok: 3, errors: {} });
      for (const metric of ['ttftMs', 'e2eMs', 'outputTokens', 'tokensPerSec']) {
        expect(Object.keys(s[metric]).sort()).toEqual([
          'max',
          'mean',
          'min',
          'n',
          'p50',
          'p90',
          'p95',
          'p99',
          'p999',
          'stdev',
        ]);
      }
    }
    const chat8 = summary.scenarios.find((s: any) => s.name === 'chat/stream/max-8/direct');
    expect(chat8.outputTokens.p50).toBe(8);
    expect(chat8.lengthLimited).toBe(3);
    expect(summary.comparisons.filter((c: any) => c.kind === 'stream-vs-non-stream')).toHaveLength(4);
    const samples = readFileSync(join(out, 'samples.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(samples).toHaveLength(8 * 4); // 3 measured + 1 warm-up per scenario
    expect(samples.filter((s) => s.isWarmup)).toHaveLength(8);
    expect(samples[0].ids.requestId).toMatch(/[0-9a-f-]{36}/);
    expect(readFileSync(join(out, 'summary.csv'), 'utf8').split('\n')[0]).toContain('scenario,api,stream');
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain('sooner');
    for (const file of ['samples.jsonl', 'summary.json', 'summary.csv', 'summary.md']) {
      expect(readFileSync(join(out, file), 'utf8')).not.toContain(SECRET);
    }
    expect(stdout + stderr).not.toContain(SECRET);
  });

  it('measures direct and gateway paths from a lab state and pairs their requests', async () => {
    const out = outDir();
    const state = join(out, 'state.json');
    const path = { baseUrl: mock.url, apiStyle: 'azure', auth: { kind: 'api-key', envName: 'LAB_KEY' } };
    writeFileSync(
      state,
      JSON.stringify({
        schemaVersion: 1,
        target: 'local',
        deployment: 'gpt-4o-mini',
        apiVersion: '2024-10-21',
        paths: { direct: path, gateway: path },
      }),
    );
    const { code, stdout } = await bench(['--state', state, '--stream', 'on', '--requests', '8', '--out', out], {
      LAB_KEY: SECRET,
    });
    expect(code).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const overhead = summary.comparisons.filter((c: any) => c.kind === 'path-overhead');
    expect(overhead.map((c: any) => c.metric).sort()).toEqual(['e2eMs', 'ttftMs']);
    expect(overhead[0].medianDifferenceMs).toMatchObject({ pairs: 8, method: 'hodges-lehmann/wilcoxon-signed-rank' });
    expect(overhead[0].interleaved).toBe(true);
    // Same seeds on both paths and the same upstream: the "gateway" adds ~nothing.
    expect(Math.abs(overhead[0].medianDifferenceMs.estimate)).toBeLessThan(5);
    expect(stdout).toContain('time to first token over direct');
    // The paths ran interleaved: within each round both paths ran, neighbours in the launch sequence.
    const samples = readFileSync(join(out, 'samples.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const measured = samples.filter((s: any) => !s.isWarmup).sort((a: any, b: any) => a.sequence - b.sequence);
    // Round 0 is the warm-up; then the Thue–Morse order: direct first when the round's binary digit sum is even.
    const rounds = [1, 2, 3, 4, 5, 6, 7, 8];
    const directFirst = (r: number): boolean => r.toString(2).split('1').length % 2 === 1;
    expect(measured.map((s: any) => s.index)).toEqual(rounds.flatMap((r) => [r, r]));
    expect(measured.map((s: any) => s.path)).toEqual(
      rounds.flatMap((r) => (directFirst(r) ? ['direct', 'gateway'] : ['gateway', 'direct'])),
    );
  });

  it('a wrong flag exits 2, naming the flag and what is allowed', async () => {
    const { code, stderr } = await bench(['--endpoint', mock.url, '--stream', 'sometimes']);
    expect(code).toBe(2);
    expect(stderr).toContain('"--stream"');
    expect(stderr).toContain('on, off, both');
    const both = await bench(['--endpoint', mock.url, '--rate', '5', '--concurrency', '2']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--rate');
  });

  it('a missing key variable exits 2 before anything is sent', async () => {
    const { code, stderr } = await bench(['--endpoint', mock.url, '--api-key-env', 'NOT_SET_ANYWHERE'], {});
    expect(code).toBe(2);
    expect(stderr).toContain('NOT_SET_ANYWHERE');
  });

  it('no endpoint and no lab state exits 2 and says how to fix it', async () => {
    const { code, stderr } = await bench(['--state', join(outDir(), 'missing.json')]);
    expect(code).toBe(2);
    expect(stderr).toContain('lab:deploy');
  });

  it('Ctrl-C writes what was measured and exits 130', async () => {
    const out = outDir();
    const { code } = await bench(
      ['--endpoint', mock.url, '--stream', 'on', '--duration', '30s', '--out', out],
      { AZURE_OPENAI_API_KEY: SECRET },
      (child) => {
        // Interrupt once the run has measured a few requests (not after a fixed time: a loaded
        // machine can take longer than that just to start the process).
        // While it runs, the samples go to samples.jsonl.partial (renamed when the run ends, also on Ctrl-C).
        const poll = setInterval(() => {
          const file = join(out, 'samples.jsonl.partial');
          if (existsSync(file) && readFileSync(file, 'utf8').split('\n').length > 5) {
            clearInterval(poll);
            child.kill('SIGINT');
          }
        }, 50);
        child.once('exit', () => clearInterval(poll));
      },
    );
    expect(code).toBe(130);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.run.interrupted).toBe(true);
    expect(summary.scenarios[0].ok).toBeGreaterThan(3);
    expect(readFileSync(join(out, 'samples.jsonl'), 'utf8').trim().split('\n').length).toBeGreaterThan(3);
  });
});
