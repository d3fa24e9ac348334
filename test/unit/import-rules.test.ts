import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// DESIGN.md §3: imports flow one way. This test fails when a file breaks the rules.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function sourceFiles(dir: string): string[] {
  const full = join(ROOT, dir);
  try {
    statSync(full);
  } catch {
    return [];
  }
  return readdirSync(full, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function relativeImports(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const targets = [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g)].map((m) => m[1]!);
  return targets.map((t) => relative(ROOT, resolve(join(ROOT, file, '..'), t)));
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

describe('import direction', () => {
  it('src/protocol imports nothing of ours', () => {
    for (const file of sourceFiles('src/protocol')) {
      for (const target of relativeImports(file)) expect(under(target, 'src/protocol'), `${file} -> ${target}`).toBe(true);
    }
  });

  it('mock-server imports only src/protocol and src/errors from src, and never cli or infra', () => {
    for (const file of sourceFiles('mock-server')) {
      for (const target of relativeImports(file)) {
        const ok = under(target, 'mock-server') || under(target, 'src/protocol') || target === 'src/errors.ts' || target.startsWith('node_modules');
        expect(ok, `${file} -> ${target}`).toBe(true);
      }
    }
  });

  it('infra reaches only down the flow (src/config, src/protocol, src/errors), never cli, lab or mock-server', () => {
    const files = sourceFiles('infra');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const target of relativeImports(file)) {
        const ok = under(target, 'infra') || under(target, 'src/config') || under(target, 'src/protocol') || target === 'src/errors.ts';
        expect(ok, `${file} -> ${target}`).toBe(true);
      }
    }
  });

  it('labs import only the public API (src/index.ts) and files of their own folder', () => {
    const files = sourceFiles('labs');
    expect(files.length).toBeGreaterThanOrEqual(6);
    for (const file of files) {
      for (const target of relativeImports(file)) {
        const ok = target === 'src/index.ts' || under(target, file.split('/').slice(0, 2).join('/'));
        expect(ok, `${file} -> ${target}`).toBe(true);
      }
    }
  });

  it('src never imports mock-server or infra except from src/lab and src/cli', () => {
    for (const file of sourceFiles('src')) {
      if (under(file, 'src/lab') || under(file, 'src/cli')) continue;
      for (const target of relativeImports(file)) {
        expect(under(target, 'mock-server') || under(target, 'infra'), `${file} -> ${target}`).toBe(false);
      }
    }
  });

  it('src/compliance reaches only down the flow: client, metrics, target, config, protocol, errors', () => {
    const allowed = ['src/compliance', 'src/client', 'src/metrics', 'src/target', 'src/config', 'src/protocol'];
    for (const file of sourceFiles('src/compliance')) {
      for (const target of relativeImports(file)) {
        const ok = allowed.some((dir) => under(target, dir)) || target === 'src/errors.ts';
        expect(ok, `${file} -> ${target}`).toBe(true);
      }
    }
  });

  it('the rule check sees real imports (guards against a regex that matches nothing)', () => {
    expect(relativeImports('mock-server/server.ts')).toContain('mock-server/handlers.ts');
  });
});
