import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { resolveCalibrateOptions } from '../../src/config/calibrate-options.ts';
import { resolveRenderK8sOptions, resolveRunAcaOptions } from '../../src/config/scale-options.ts';
import { resolveLabRunOptions } from '../../src/config/lab-options.ts';
import { resolveCompareOptions, resolveReportOptions } from '../../src/config/report-options.ts';
import { resolveVerifyOptions } from '../../src/config/verify-options.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { writeFileAtomic } from '../../src/files.ts';

// Every --out is checked at the edge, before any work (issue 31: a calibration lost its 16 s
// of work to a stack trace at the end): a directory flag given a file, or a file flag given a
// directory, is a usage error naming it, and the path is left as it was.
const dir = mkdtempSync(join(tmpdir(), 'output-paths-'));
const file = join(dir, 'a-file');
writeFileSync(file, 'keep me');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ENV = { AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000000', AZURE_OPENAI_API_KEY: 'k' };

const SURFACES: Array<[string, (out: string) => unknown, 'dir' | 'file']> = [
  ['bench --out', (out) => resolveBenchOptions(['--endpoint', 'http://127.0.0.1:1', '--out', out], ENV), 'dir'],
  [
    'lab:verify --out',
    (out) => resolveVerifyOptions(['--gateway', 'http://127.0.0.1:1', '--out', out], ENV, ['content-type']),
    'dir',
  ],
  ['calibrate --out', (out) => resolveCalibrateOptions(['--out', out]), 'dir'],
  ['lab --out', (out) => resolveLabRunOptions(['--out', out]), 'dir'],
  ['compare --out', (out) => resolveCompareOptions([join(dir, 'a'), join(dir, 'b'), '--out', out]), 'dir'],
  [
    'scale run aca --out',
    (out) =>
      resolveRunAcaOptions(
        ['--shards', '1', '--image', 'docker.io/x/y:1', '--out', out, '--', '--endpoint', 'http://x', '--rate', '1'],
        ENV,
      ),
    'dir',
  ],
  ['report --out', (out) => resolveReportOptions([dir, '--out', out]), 'file'],
  [
    'scale render k8s --out',
    (out) =>
      resolveRenderK8sOptions(
        [
          'render',
          'k8s',
          '--shards',
          '1',
          '--image',
          'x/y:1',
          '--out',
          out,
          '--',
          '--endpoint',
          'http://x',
          '--rate',
          '1',
        ],
        new Date(),
        ENV,
      ),
    'file',
  ],
];

describe('every --out, checked before any work', () => {
  for (const [surface, resolve, kind] of SURFACES) {
    it(`${surface}: ${kind === 'dir' ? 'a file' : 'a directory'} is refused, naming the flag, and left as it was`, () => {
      const wrong = kind === 'dir' ? file : dir;
      let thrown: unknown;
      try {
        resolve(wrong);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidOptionError);
      expect((thrown as InvalidOptionError).option).toBe('--out');
      expect((thrown as Error).message).toContain(wrong);
      expect(readFileSync(file, 'utf8')).toBe('keep me');
    });
  }
});

describe('an --out that cannot be made is refused before any work, whatever makes it so', () => {
  const dangling = join(dir, 'dangling');
  symlinkSync(join(dir, 'nowhere'), dangling);
  const cases: Array<[string, string, RegExp]> = [
    ['under a file', join(file, 'sub'), /is a file, so ".*sub" cannot be made/],
    ['a symbolic link to nothing', dangling, /is a symbolic link to nothing/],
    ['under a symbolic link to nothing', join(dangling, 'sub'), /is a symbolic link to nothing/],
    ['in /proc, where no directory can be made', '/proc/streamlab-out', /no directory can be made in "\/proc"/],
  ];
  for (const [what, out, reason] of cases) {
    it(`${what}: bench (a directory) and report (a file) both refuse it, naming --out`, () => {
      for (const resolve of [SURFACES[0]![1], (o: string) => SURFACES[6]![1](join(o, 'report.html'))]) {
        let thrown: unknown;
        try {
          resolve(out);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, out).toBeInstanceOf(InvalidOptionError);
        expect((thrown as InvalidOptionError).option).toBe('--out');
        expect((thrown as Error).message).toMatch(reason);
      }
    });
  }
  it('an absent directory in a writable place is fine, and the check leaves nothing behind', () => {
    expect(() => SURFACES[0]![1](join(dir, 'new', 'deeper'))).not.toThrow();
    expect(readdirSync(dir).filter((name) => name.startsWith('.streamlab-probe-'))).toEqual([]);
  });
});

describe('outputs are written whole or not at all', () => {
  it('writeFileAtomic replaces a file whole and leaves no temporary file, even when the write fails', () => {
    const target = join(dir, 'out.json');
    writeFileAtomic(target, '{"v":1}');
    writeFileAtomic(target, '{"v":2}', { mode: 0o600 });
    expect(readFileSync(target, 'utf8')).toBe('{"v":2}');
    // A directory where the file should go: the write fails, and nothing half-written is left beside it.
    expect(() => writeFileAtomic(dir, 'x')).toThrow();
    expect(readFileSync(file, 'utf8')).toBe('keep me');
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});
