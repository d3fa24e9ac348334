import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupLocal } from '../../src/lab/local-lab.ts';
import { readLabState, withLabSecrets, writeLabState, type LabState } from '../../src/lab/state.ts';

const base = { schemaVersion: 1, target: 'local', deployment: 'gpt-4o-mini', apiVersion: '2024-10-21' } as const;

describe('lab state', () => {
  it('is written with mode 0600 and read back', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'state-')), '.lab', 'state.json');
    const state: LabState = {
      ...base,
      paths: { direct: { baseUrl: 'http://127.0.0.1:1', apiStyle: 'azure', auth: { kind: 'none' } } },
    };
    writeLabState(file, state);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readLabState(file)).toEqual(state);
  });

  it('a state without paths is refused, unless a local deploy stopped half-way (then cleanup still works)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-'));
    const file = join(dir, 'state.json');
    writeFileSync(file, JSON.stringify({ ...base, paths: {} }));
    expect(() => readLabState(file)).toThrow(/no paths/);
    writeFileSync(file, JSON.stringify({ ...base, paths: {}, processes: [] }));
    expect(await cleanupLocal(file)).toEqual({ kind: 'cleaned', stopped: [], notOurs: [] });
    expect(readLabState(file)).toBeUndefined();
  });

  it('a Container Apps run an older release recorded under "dist" is read as "scale", and written back as "scale"', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'state-')), 'state.json');
    const run = {
      subscriptionId: '00000000-0000-0000-0000-000000000001',
      resourceGroup: 'rg-streamlab-dist-abc1234',
      distId: 'abc1234',
      regions: [],
      done: [],
      executions: {},
    };
    // What `dist run aca` wrote: the run alone, under its old name.
    writeFileSync(file, JSON.stringify({ ...base, target: 'azure', paths: {}, dist: run }));
    const state = readLabState(file)!;
    expect(state.scale).toEqual(run);
    expect(state).not.toHaveProperty('dist');
    writeLabState(file, state);
    const written = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(written['scale']).toEqual(run);
    expect(written).not.toHaveProperty('dist');
    // Both names at once would be two runs, one of them unseen: refused, naming both.
    writeFileSync(file, JSON.stringify({ ...base, target: 'azure', paths: {}, dist: run, scale: run }));
    expect(() => readLabState(file)).toThrow(/two scale runs, one under "scale" and one under the older name "dist"/);
    writeFileSync(file, JSON.stringify({ ...base, target: 'azure', paths: {}, dist: { a: 1 } }));
    expect(() => readLabState(file)).toThrow(/the dist record is incomplete/);
  });

  it('lab secrets fill only variables the environment leaves unset', () => {
    const state: LabState = { ...base, paths: {}, secrets: { A: 'from-state', B: 'from-state' } };
    expect(withLabSecrets(state, { A: 'from-env', B: '' })).toMatchObject({ A: 'from-env', B: 'from-state' });
  });
});
