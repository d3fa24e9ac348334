import { createServer } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

// A run that measured nothing must not pass as one that did (issue 31): a bench whose every
// request failed, or a verify against a gateway that does not answer, exits non-zero and says
// what did not answer.
let dir: string;
let deadUrl: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'nothing-answers-'));
  // A port that was just free: nothing listens there.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  deadUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ENV = {
  ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LAB_'))),
  DEAD_KEY: 'k',
};

describe('nothing answered', () => {
  it('bench: every request a connect error exits 1, saying nothing answers at the URL, and still writes what it recorded', async () => {
    const out = join(dir, 'bench');
    const result = await runCli(
      [
        'bench',
        '--endpoint',
        deadUrl,
        '--api-key-env',
        'DEAD_KEY',
        '--api',
        'chat',
        '--stream',
        'on',
        '--requests',
        '3',
        '--warmup',
        '0',
        '--out',
        out,
      ],
      dir,
      ENV,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `Nothing succeeded: all 3 requests failed, so nothing was measured\\.\\n {2}direct \\(${deadUrl.replace(/\./g, '\\.')}\\): nothing answers there \\(connect_error 3\\)`,
      ),
    );
    expect(readFileSync(join(out, 'samples.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('bench refused (its key variable unset) into an earlier run: the earlier run is left whole; a new run replaces its samples only when it has its own', async () => {
    const out = join(dir, 'earlier');
    mkdirSync(out);
    writeFileSync(join(out, 'samples.jsonl'), '{"earlier":true}\n');
    writeFileSync(join(out, 'summary.json'), '{"earlier":true}\n');
    const refused = await runCli(
      ['bench', '--endpoint', deadUrl, '--api-key-env', 'UNSET_KEY', '--requests', '3', '--out', out],
      dir,
      ENV,
    );
    expect(refused.code).toBe(2);
    expect(readFileSync(join(out, 'samples.jsonl'), 'utf8')).toBe('{"earlier":true}\n');
    expect(readFileSync(join(out, 'summary.json'), 'utf8')).toBe('{"earlier":true}\n');
    const ran = await runCli(
      [
        'bench',
        '--endpoint',
        deadUrl,
        '--api-key-env',
        'DEAD_KEY',
        '--api',
        'chat',
        '--stream',
        'on',
        '--requests',
        '2',
        '--warmup',
        '0',
        '--out',
        out,
      ],
      dir,
      ENV,
    );
    expect(ran.code).toBe(1);
    expect(readFileSync(join(out, 'samples.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(readdirSync(out).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it('lab:verify with a lab state that names no path: every check skips, and a run that checked nothing fails, saying so', async () => {
    const state = join(dir, 'empty-state.json');
    writeFileSync(
      state,
      JSON.stringify({
        schemaVersion: 1,
        target: 'local',
        deployment: 'gpt-4o-mini',
        apiVersion: '2024-10-21',
        paths: {},
        processes: [],
      }),
    );
    const out = join(dir, 'verify-nothing');
    const result = await runCli(['verify', '--state', state, '--out', out], dir, ENV);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/SSE compliance: fail, nothing was checked \(\d+ skipped\)/);
    expect(result.stderr).toMatch(/Nothing was verified: every check skipped/);
    expect(JSON.parse(readFileSync(join(out, 'compliance.json'), 'utf8'))).toMatchObject({ verdict: 'fail' });
  });

  it('lab:verify against a gateway that does not answer says so once, and fails', async () => {
    const out = join(dir, 'verify');
    const result = await runCli(
      ['verify', '--gateway', deadUrl, '--direct', deadUrl, '--api-key-env', 'DEAD_KEY', '--out', out],
      dir,
      ENV,
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(
        `Nothing was verified: nothing answers at ${deadUrl.replace(/\./g, '\\.')}.*Is the gateway running\\?`,
      ),
    );
    const report = JSON.parse(readFileSync(join(out, 'compliance.json'), 'utf8')) as {
      unreachable: string;
      checks: Array<{ id: string; status: string; evidence: string }>;
    };
    expect(report.unreachable).toMatch(/nothing answers at/);
    for (const check of report.checks.filter((c) => !c.id.startsWith('lint-')))
      expect(check).toMatchObject({ status: 'fail', evidence: expect.stringMatching(/^not run: nothing answers at/) });
  });
});
