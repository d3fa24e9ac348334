import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import type { ComplianceReport } from '../../src/compliance/types.ts';
import { isAlive } from '../../src/lab/process-identity.ts';
import type { LabState } from '../../src/lab/state.ts';
import { runCli } from '../helpers/cli.ts';

// A real edge in front of the local gateway (issue 32): Debian's nginx, started by lab:deploy
// as a typical ingress, then verified hop by hop. Buffered, it is the hop that breaks
// incremental delivery; the gateway inside it passes. lab:cleanup stops it with the rest.
const ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LAB_')));
const dirs: string[] = [];
afterAll(async () => {
  // A test that failed half-way leaves its lab running: stop it before removing its folder.
  for (const dir of dirs) {
    if (existsSync(join(dir, '.lab/state.json'))) await runCli(['cleanup'], dir, ENV);
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

async function labWithEdge(edge: string): Promise<{ dir: string; state: LabState }> {
  const dir = mkdtempSync(join(tmpdir(), 'edge-chain-'));
  dirs.push(dir);
  const deploy = await runCli(['deploy', '--edge', edge, '--itl-ms', '8', '--output-tokens', '120'], dir, ENV);
  expect(deploy.code, deploy.stderr).toBe(0);
  expect(deploy.stdout).toMatch(/ {2}edge {5}http:\/\/127\.0\.0\.1:\d+ +edge in front of the gateway \(Debian nginx/);
  return { dir, state: JSON.parse(readFileSync(join(dir, '.lab/state.json'), 'utf8')) as LabState };
}

async function cleanup(dir: string, state: LabState): Promise<void> {
  const result = await runCli(['cleanup'], dir, ENV);
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/stopped mock \(pid \d+\), gateway \(pid \d+\), edge \(pid \d+\)/);
  const pids = state.processes!.map((p) => p.pid);
  for (let i = 0; i < 50 && pids.some(isAlive); i++) await sleep(50);
  for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
  expect(existsSync(join(dir, '.lab/edge-nginx'))).toBe(false);
}

describe('lab:deploy --edge nginx, verified hop by hop', () => {
  it('buffered: incremental-delivery first fails at the edge, and passes through the gateway; cleanup stops nginx too', {
    timeout: 90_000,
  }, async () => {
    const { dir, state } = await labWithEdge('nginx:buffered');
    expect(Object.keys(state.paths)).toEqual(['direct', 'gateway', 'edge']);
    expect(state.processes!.map((p) => p.role)).toEqual(['mock', 'gateway', 'edge']);
    const verify = await runCli(
      ['verify', '--checks', 'content-type,incremental-delivery,done-terminator', '--api', 'chat', '--out', 'v'],
      dir,
      ENV,
    );
    expect(verify.code).toBe(1);
    const report = JSON.parse(readFileSync(join(dir, 'v/compliance.json'), 'utf8')) as ComplianceReport;
    expect(report.hops!.map((h) => [h.path, h.verdict])).toEqual([
      ['gateway', 'pass'],
      ['edge', 'fail'],
    ]);
    expect(report.firstFailingHop).toEqual({ 'incremental-delivery': 'edge' });
    expect(verify.stdout).toMatch(
      /Hop by hop \(gateway → edge\): gateway pass, edge fail\.\n {2}incremental-delivery first fails at edge \(passes through gateway\): the edge hop breaks it\./,
    );
    await cleanup(dir, state);
  });

  it('streaming-safe: every hop passes, and the bench measures the three paths as a chain', {
    timeout: 90_000,
  }, async () => {
    const { dir, state } = await labWithEdge('nginx');
    const verify = await runCli(
      ['verify', '--checks', 'content-type,incremental-delivery,done-terminator', '--api', 'chat', '--out', 'v'],
      dir,
      ENV,
    );
    expect(verify.code, verify.stdout).toBe(0);
    const report = JSON.parse(readFileSync(join(dir, 'v/compliance.json'), 'utf8')) as ComplianceReport;
    expect(report.hops!.map((h) => h.path)).toEqual(['gateway', 'edge']);
    expect(report.firstFailingHop).toEqual({});
    const bench = await runCli(
      [
        'bench',
        '--api',
        'chat',
        '--stream',
        'on',
        '--max-tokens',
        '8',
        '--requests',
        '8',
        '--concurrency',
        '3',
        '--warmup',
        '1',
        '--out',
        'b',
      ],
      dir,
      ENV,
    );
    expect(bench.code, bench.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(dir, 'b/summary.json'), 'utf8')) as {
      comparisons: Array<{ kind: string; metric?: string; baseline?: string; path?: string; hop?: string }>;
    };
    expect(
      summary.comparisons
        .filter((c) => c.kind === 'path-overhead' && c.metric === 'ttftMs')
        .map((c) => [c.hop, c.baseline, c.path]),
    ).toEqual([
      ['hop', 'direct', 'gateway'],
      ['hop', 'gateway', 'edge'],
      ['end-to-end', 'direct', 'edge'],
    ]);
    await cleanup(dir, state);
  });

  it('refuses --edge on Azure, an unknown edge, and --edge with --edge-url (exit 2, naming the flag)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-chain-'));
    dirs.push(dir);
    const unknown = await runCli(['deploy', '--edge', 'envoy'], dir, ENV);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/"--edge": "envoy" is not allowed.*nginx, nginx:buffered/);
    const both = await runCli(['deploy', '--edge', 'nginx', '--edge-url', 'https://x.example.net'], dir, ENV);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/"--edge": give --edge or --edge-url, not both/);
    const azure = await runCli(['deploy', '--target', 'azure', '--edge', 'nginx'], dir, {
      ...ENV,
      AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000000',
    });
    expect(azure.code).toBe(2);
    expect(azure.stderr).toMatch(/"--edge": the lab starts nginx locally only.*--edge-url URL/);
    expect(existsSync(join(dir, '.lab'))).toBe(false);
  });
});
