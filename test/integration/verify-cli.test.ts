import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SaxesParser } from 'saxes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import type { ComplianceReport } from '../../src/compliance/index.ts';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.ts';
import { startFastMock } from '../helpers/mock.ts';

// npm run lab:verify as users run it: a process, flags, files, exit codes.
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const SECRET = 'verify-cli-secret-key';
let mock: MockServer;
let proxy: FaultProxy;
beforeAll(async () => {
  mock = await startFastMock({ apiKey: SECRET });
  proxy = await startFaultProxy(mock.url, 'clean');
});
afterAll(async () => {
  await proxy.close();
  await mock.close();
});

async function verify(args: string[], env: Record<string, string> = { AZURE_OPENAI_API_KEY: SECRET }) {
  const child = spawn(process.execPath, [CLI, 'verify', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

const outDir = () => mkdtempSync(join(tmpdir(), 'verify-'));
const readReport = (out: string): ComplianceReport => JSON.parse(readFileSync(join(out, 'compliance.json'), 'utf8'));

// Each case has its own output folder; the mock and the clean proxy are shared read-only: side by side.
describe.concurrent('npm run lab:verify', () => {
  it('runs every check against a clean path: exit 0, table, compliance.json|xml|md, no key anywhere', {
    timeout: 90_000,
  }, async () => {
    const out = outDir();
    const { code, stdout, stderr } = await verify([
      '--gateway',
      proxy.url,
      '--direct',
      mock.url,
      '--idle-gap',
      '2s',
      '--policy',
      'infra/policies/streaming.xml',
      '--sku',
      'BasicV2',
      '--out',
      out,
    ]);
    expect(code, stderr + stdout).toBe(0);
    const report = readReport(out);
    expect(report.schemaVersion).toBe(1);
    expect(report.verdict).not.toBe('fail');
    expect(report.groundTruth).toBe(true);
    expect(report.checks.filter((c) => c.status === 'skip')).toEqual([]);
    expect(report.checks).toHaveLength(21);
    for (const c of report.checks) expect(stdout).toMatch(new RegExp(`^${c.id}\\s+(PASS|WARN)\\s+\\S`, 'm'));
    expect(stdout).toContain('SSE compliance: ');
    // JUnit that a real XML parser accepts, one test case per check.
    const cases: string[] = [];
    const parser = new SaxesParser();
    parser.on('opentag', (tag) => {
      if (tag.name === 'testcase') cases.push(String(tag.attributes['name']));
    });
    parser.write(readFileSync(join(out, 'compliance.xml'), 'utf8')).close();
    expect(cases).toEqual(report.checks.map((c) => c.id));
    expect(readFileSync(join(out, 'compliance.md'), 'utf8')).toContain('| `incremental-delivery` |');
    for (const file of readdirSync(out)) expect(readFileSync(join(out, file), 'utf8')).not.toContain(SECRET);
    expect(stdout + stderr).not.toContain(SECRET);
    process.stdout.write(
      `full lab:verify on a clean local path (idle gap 2 s): ${(report.durationMs / 1000).toFixed(1)} s\n`,
    );
  });

  it('verifies legacy completions (on their own deployment) and On Your Data streams', async () => {
    const out = outDir();
    const { code, stderr } = await verify([
      '--gateway',
      proxy.url,
      '--direct',
      mock.url,
      '--api',
      'completions,on-your-data',
      '--checks',
      'content-type,frame-integrity,done-terminator,usage-chunk',
      '--out',
      out,
    ]);
    expect(code, stderr).toBe(0);
    const report = readReport(out);
    expect(report.checks.map((c) => c.status)).toEqual(['pass', 'pass', 'pass', 'pass']);
    expect(report.checks[1]!.evidence).toMatch(
      /completions: \d+ events, in order, data byte-identical.*on-your-data: \d+ events/,
    );
  });

  it('exits 1 when a check fails, and --json prints the report', async () => {
    const out = outDir();
    const { code, stdout } = await verify([
      '--policy',
      'infra/policies/buffered.xml',
      '--checks',
      'lint-forward-request',
      '--out',
      out,
      '--json',
    ]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as ComplianceReport;
    expect(report.verdict).toBe('fail');
    expect(report.checks.map((c) => [c.id, c.status])).toEqual([['lint-forward-request', 'fail']]);
  });

  it('reports an unreachable gateway as failed checks, not a crash', async () => {
    const out = outDir();
    const { code, stdout } = await verify([
      '--gateway',
      'http://127.0.0.1:9',
      '--checks',
      'content-type,incremental-delivery',
      '--out',
      out,
    ]);
    expect(code).toBe(1);
    const report = readReport(out);
    expect(report.checks.map((c) => c.status)).toEqual(['fail', 'fail']);
    expect(report.checks[0]!.evidence).toMatch(/^not run: nothing answers at http:\/\/127\.0\.0\.1:9\/.*ECONNREFUSED/);
    expect(report.unreachable).toMatch(/nothing answers at http:\/\/127\.0\.0\.1:9\//);
    expect(stdout).toContain('content-type');
  });

  it('exits 2 on bad usage, naming the flag and what is allowed', async () => {
    const unknown = await verify(['--gatway', mock.url]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--gatway');
    const badCheck = await verify(['--gateway', mock.url, '--checks', 'content-type,bogus']);
    expect(badCheck.code).toBe(2);
    expect(badCheck.stderr).toMatch(/--checks.*"bogus".*incremental-delivery/s);
    const badGap = await verify(['--gateway', mock.url, '--idle-gap', 'soon']);
    expect(badGap.code).toBe(2);
    expect(badGap.stderr).toContain('--idle-gap');
    const noKey = await verify(['--gateway', mock.url], {});
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('AZURE_OPENAI_API_KEY');
    const nothing = await verify(['--state', join(outDir(), 'none.json')]);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toContain('nothing to verify');
  });
});
