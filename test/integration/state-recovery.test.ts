import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/lab/process-identity.ts';
import { runCli } from '../helpers/cli.ts';

// A corrupt .lab/state.json must not trap the user (issue 31): every command pointed to
// lab:cleanup, and lab:cleanup said the same thing back. Now cleanup stops what the file still
// names (only processes that are still the lab's), moves the file aside and says what is left.
const dirs: string[] = [];
afterAll(async () => {
  // A test that failed half-way leaves its lab running: lab:cleanup stops it (it recovers a cut state too).
  for (const dir of dirs) {
    if (existsSync(join(dir, '.lab', 'state.json')))
      await runCli(['cleanup', '--state', join(dir, '.lab', 'state.json')], dir, ENV);
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

const ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LAB_')));

// Each case has its own folder and lab: side by side.
describe.concurrent('an unreadable lab state', () => {
  it("cut in half: bench points to lab:cleanup, which stops the lab's processes, moves the file aside, and a new deploy works", {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-recovery-'));
    dirs.push(dir);
    const state = join(dir, '.lab', 'state.json');
    expect((await runCli(['deploy', '--state', state], dir, ENV)).code).toBe(0);
    const recorded = JSON.parse(readFileSync(state, 'utf8')) as { processes: Array<{ pid: number }> };
    const pids = recorded.processes.map((p) => p.pid);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect(isAlive(pid)).toBe(true);
    // An editor, a full disk or a crash leaves half of it.
    const text = readFileSync(state, 'utf8');
    writeFileSync(state, text.slice(0, Math.floor(text.length * 0.8)));

    const bench = await runCli(['bench', '--state', state, '--requests', '1'], dir, ENV);
    expect(bench.code).toBe(1);
    // The way out names the file it was given (a plain lab:cleanup would act on .lab/state.json).
    expect(bench.stderr).toContain(
      `Failed to read lab state "${state}": not JSON. Run npm run lab:cleanup -- --state '${state}': it stops the processes the file still names and moves the file aside.`,
    );

    const dry = await runCli(['cleanup', '--state', state, '--dry-run'], dir, ENV);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/Dry run; nothing changed/);
    expect(existsSync(state)).toBe(true);

    const cleanup = await runCli(['cleanup', '--state', state], dir, ENV);
    expect(cleanup.code, cleanup.stderr).toBe(0);
    expect(cleanup.stdout).toMatch(
      /Recovered from an unreadable lab state \(not JSON\): stopped mock \(pid \d+\), gateway \(pid \d+\); moved it to .*state\.json\.unreadable-/,
    );
    for (let i = 0; i < 50 && pids.some(isAlive); i++) await sleep(50);
    for (const pid of pids) expect(isAlive(pid), `pid ${pid} left behind`).toBe(false);
    expect(existsSync(state)).toBe(false);
    expect(readdirSync(join(dir, '.lab')).some((f) => f.startsWith('state.json.unreadable-'))).toBe(true);

    // No loop: the next commands work.
    expect((await runCli(['cleanup', '--state', state], dir, ENV)).stdout).toMatch(/Nothing to clean up/);
    expect((await runCli(['deploy', '--state', state], dir, ENV)).code).toBe(0);
    expect((await runCli(['cleanup', '--state', state], dir, ENV)).code).toBe(0);
  });

  it('valid JSON that is not a lab state, naming an Azure group: nothing is deleted on Azure, the command to do so is printed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-recovery-'));
    dirs.push(dir);
    const state = join(dir, 'state.json');
    writeFileSync(
      state,
      JSON.stringify({
        schemaVersion: 1,
        target: 'azure',
        azure: { resourceGroup: 'rg-streamlab-slabc12' },
        processes: [{ role: 'mock', pid: 1, startTime: 'not-the-real-start', logFile: '' }],
      }),
    );
    const cleanup = await runCli(['cleanup', '--state', state], dir, ENV);
    expect(cleanup.code).toBe(0);
    // pid 1 is not the process the lab started: never signalled.
    expect(cleanup.stdout).toMatch(/no process it names is still running/);
    expect(cleanup.stdout).toMatch(
      /It names Azure resource group rg-streamlab-slabc12, left alone .*az group delete --name rg-streamlab-slabc12/,
    );
    expect(cleanup.stderr).not.toMatch(/\n\s+at /);
  });

  it('hand-edited into shapes a command would crash on: every command names what is wrong, cleanup recovers, no stack trace', {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-recovery-'));
    dirs.push(dir);
    const good = {
      schemaVersion: 1,
      target: 'local',
      deployment: 'gpt-4o-mini',
      apiVersion: '2024-10-21',
      paths: { direct: { baseUrl: 'http://127.0.0.1:9', apiStyle: 'azure', auth: { kind: 'api-key', envName: 'K' } } },
      processes: [] as unknown[],
    };
    const cases: Array<[string, unknown, RegExp]> = [
      ['processes [null]', { ...good, processes: [null] }, /processes\[0\] is not a process record/],
      [
        'pid as text',
        { ...good, processes: [{ role: 'mock', pid: '1', startTime: 'x', logFile: 'l' }] },
        /processes\[0\] is not a process record/,
      ],
      [
        'auth kind',
        { ...good, paths: { direct: { ...good.paths.direct, auth: { kind: 'zzz' } } } },
        /auth kind "zzz" is not one of/,
      ],
      [
        'no envName',
        { ...good, paths: { direct: { ...good.paths.direct, auth: { kind: 'api-key' } } } },
        /auth api-key names no key variable/,
      ],
      [
        'baseUrl',
        { ...good, paths: { direct: { ...good.paths.direct, baseUrl: 'not a url' } } },
        /baseUrl "not a url", not an http\(s\) URL/,
      ],
      [
        'azure steps null',
        {
          ...good,
          target: 'azure',
          azure: { subscriptionId: 's', resourceGroup: 'rg-streamlab-slx', labId: 'slx', location: 'l', steps: null },
        },
        /the azure record is incomplete/,
      ],
      ['dist null', { ...good, dist: null }, /the dist record is incomplete/],
      ['dist {a:1}', { ...good, dist: { a: 1 } }, /the dist record is incomplete/],
    ];
    for (const [name, value, reason] of cases) {
      const state = join(dir, 'state.json');
      writeFileSync(state, JSON.stringify(value));
      const bench = await runCli(['bench', '--state', state, '--requests', '1'], dir, { ...ENV, K: 'k' });
      expect(bench.code, name).toBe(1);
      expect(bench.stderr, name).toMatch(reason);
      expect(bench.stderr, name).not.toMatch(/\n\s+at /);
      const cleanup = await runCli(['cleanup', '--state', state], dir, ENV);
      expect(cleanup.code, `${name}: ${cleanup.stderr}`).toBe(0);
      expect(cleanup.stderr, name).not.toMatch(/\n\s+at /);
      expect(existsSync(state), name).toBe(false);
    }
  });
});
