import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.ts';

// npm run calibrate as users run it, small: its own mock and a 20 ms delay proxy as processes,
// the bench's paired comparison per seed, the files it writes, and no process left behind.
/** Processes running whose command line matches `pattern`, as "pid: command line". */
function processesMatching(pattern: RegExp): string[] {
  return readdirSync('/proc')
    .filter((pid) => /^\d+$/.test(pid))
    .flatMap((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return pattern.test(cmdline) ? [`${pid}: ${cmdline}`] : [];
      } catch {
        return [];
      }
    });
}
/** Processes of the delay proxy's CLI still running (calibrate starts and must stop them). */
const runningDelayProxies = (): string[] => processesMatching(/delay-proxy\/cli\.ts/);
/** Every stand-in process running (the mock, the gateway, the delay proxy). */
const standInProcesses = (): string[] => processesMatching(/stand-ins\/[\w-]+\/cli\.ts/);

/** Resolves once the child's stderr so far matches `pattern` (rejects if it exits first). */
function stderrMatches(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (pattern.test(text)) resolve();
    });
    child.once('exit', () => reject(new Error(`exited before stderr matched ${pattern}:\n${text}`)));
  });
}

describe('npm run calibrate', () => {
  it('measures an A/A near 0 and a 20 ms proxy at 20 ms or more, and writes calibration.json|md', async () => {
    const out = mkdtempSync(join(tmpdir(), 'calibrate-'));
    const result = await runCli(
      ['calibrate', '--seeds', '2', '--requests', '8', '--concurrency', '2', '--delay-ms', '20', '--out', out],
      process.cwd(),
    );
    // 0 calibrated, 1 not: with two seeds either can happen; anything else is a failure.
    expect([0, 1], result.stderr).toContain(result.code);
    const calibration = JSON.parse(readFileSync(join(out, 'calibration.json'), 'utf8'));
    const [aa, delay] = calibration.arms;
    expect(aa).toMatchObject({ name: 'A/A', truth: { kind: 'exactly', ms: 0 } });
    expect(delay).toMatchObject({ name: 'known delay', truth: { kind: 'at-least', ms: 20 } });
    for (const run of aa.runs) expect(Math.abs(run.shift.estimate)).toBeLessThan(5);
    // The proxy holds every chunk 20 ms: no estimate can honestly come out far below that.
    for (const run of delay.runs) expect(run.shift.estimate).toBeGreaterThan(18);
    expect(calibration.compareOnUnchanged.comparisons).toBe(1);
    expect(calibration.calibrated).toBe(result.code === 0);
    expect(readFileSync(join(out, 'calibration.md'), 'utf8')).toMatch(
      /Smallest overhead a run of 8 pairs resolves here/,
    );
    expect(result.stdout).toContain('| A/A | 0 ms | 2 |');
    expect(runningDelayProxies()).toEqual([]);
  }, 120_000);

  it('--chain: three paths; every A/A hop near 0, the delay found at the edge hop and end to end, not at the gateway hop', async () => {
    const out = mkdtempSync(join(tmpdir(), 'calibrate-chain-'));
    const result = await runCli(
      [
        'calibrate',
        '--chain',
        '--seeds',
        '2',
        '--requests',
        '8',
        '--concurrency',
        '3',
        '--delay-ms',
        '20',
        '--out',
        out,
      ],
      process.cwd(),
    );
    expect([0, 1], result.stderr).toContain(result.code);
    const calibration = JSON.parse(readFileSync(join(out, 'calibration.json'), 'utf8')) as {
      arms: Array<{
        name: string;
        hop: string;
        truth: { ms: number };
        runs: Array<{ shift: { estimate: number } | null }>;
      }>;
    };
    expect(calibration.arms.map((a) => [a.name, a.hop, a.truth.ms])).toEqual([
      ['A/A', 'gateway over direct', 0],
      ['A/A', 'edge over gateway', 0],
      ['A/A', 'end to end: edge over direct', 0],
      ['A/A', 'gateway over direct', 0],
      ['known delay', 'edge over gateway', 20],
      ['known delay', 'end to end: edge over direct', 20],
    ]);
    for (const arm of calibration.arms) {
      for (const run of arm.runs) {
        if (arm.truth.ms === 0) expect(Math.abs(run.shift!.estimate), `${arm.name} ${arm.hop}`).toBeLessThan(5);
        else expect(run.shift!.estimate, `${arm.name} ${arm.hop}`).toBeGreaterThan(18);
      }
    }
    expect(readFileSync(join(out, 'calibration.md'), 'utf8')).toMatch(/\| known delay \| edge over gateway \| ≥ 20 ms/);
    expect(runningDelayProxies()).toEqual([]);
  }, 120_000);

  it('interrupted (Ctrl-C): exits 130 and writes what it measured with no verdict, never "NaN"', async () => {
    const out = mkdtempSync(join(tmpdir(), 'calibrate-int-'));
    const { child, done } = startCli(
      ['calibrate', '--seeds', '20', '--requests', '8', '--concurrency', '2', '--delay-ms', '20', '--out', out],
      process.cwd(),
    );
    // Ctrl-C once the first run has been measured (not after a fixed sleep: a loaded machine starts slower).
    await stderrMatches(child, /A\/A run 1\/20/);
    child.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(130);
    const markdown = readFileSync(join(out, 'calibration.md'), 'utf8');
    expect(markdown).toMatch(/INTERRUPTED after \d+ of 20 runs per arm: no verdict either way/);
    expect(markdown).not.toMatch(/NaN/);
    expect(markdown).not.toMatch(/NOT calibrated|^Calibrated/m);
    expect(JSON.parse(readFileSync(join(out, 'calibration.json'), 'utf8'))).toMatchObject({
      interrupted: true,
      calibrated: null,
    });
  });

  it('interrupted while its servers start: exits 130 (not a failure), says nothing was measured, writes nothing', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'calibrate-early-')), 'out');
    const { child, done } = startCli(['calibrate', '--seeds', '20', '--requests', '8', '--out', out], process.cwd());
    await stderrMatches(child, /start: a mock/);
    child.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/Interrupted before anything was measured/);
    expect(existsSync(join(out, 'calibration.json'))).toBe(false);
    expect(runningDelayProxies()).toEqual([]);
  });

  it('a reader that goes away (`| head -1`): stops as on Ctrl-C, writes what it measured, leaves no mock or proxy running', async () => {
    const before = new Set(standInProcesses());
    const out = mkdtempSync(join(tmpdir(), 'calibrate-pipe-'));
    const { child, done } = startCli(
      ['calibrate', '--seeds', '20', '--requests', '8', '--concurrency', '2', '--delay-ms', '20', '--out', out],
      process.cwd(),
    );
    // As `head -1` does: read the first line, then close both pipes; the next write meets EPIPE.
    await stderrMatches(child, /start: a mock/);
    child.stdout!.destroy();
    child.stderr!.destroy();
    const result = await done;
    expect(result.code).toBe(130);
    expect(JSON.parse(readFileSync(join(out, 'calibration.json'), 'utf8'))).toMatchObject({ interrupted: true });
    expect(standInProcesses().filter((p) => !before.has(p))).toEqual([]);
  });

  it('a wrong flag exits 2, naming it', async () => {
    const result = await runCli(['calibrate', '--requests', '3'], process.cwd());
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/"--requests": "3" is out of range/);
  });
});
