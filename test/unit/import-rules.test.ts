import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/architecture.md: imports flow one way. This test fails when a file breaks the rules.
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

/**
 * A file's import specifiers: static imports and re-exports, and `import('…')` with a literal
 * (a dynamic import crosses layers as much as a static one). With `runtimeOnly`, without
 * `import type` (erased at run time).
 */
function importSpecifiers(file: string, runtimeOnly = false): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const pattern = runtimeOnly
    ? /^(?:import|export)(?!\s+type\b)[^'"]*?from\s+['"]([^'"]+)['"]/gm
    : /(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g;
  const dynamic = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;
  return [...text.matchAll(pattern), ...text.matchAll(dynamic)].map((m) => m[1]!);
}

/** Specifiers imported only as types (`import type { … } from`), which the map allows from a unit marked "(types)". */
function typeOnlySpecifiers(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return new Set([...text.matchAll(/^(?:import|export)\s+type\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!));
}

/**
 * The cycles among `files` (type-only imports count, as the map says): each as the files
 * around it, found with Tarjan's strongly connected components.
 */
function importCycles(files: readonly string[], importsOf: (file: string) => readonly string[]): string[][] {
  const known = new Set(files);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    onStack.add(file);
    for (const target of importsOf(file).filter((t) => known.has(t))) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (onStack.has(target)) low.set(file, Math.min(low.get(file)!, index.get(target)!));
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    if (component.length > 1 || importsOf(file).includes(file)) cycles.push(component.sort());
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return cycles;
}

/** A relative specifier as a path from the repository root. */
const resolveFrom = (file: string, specifier: string): string =>
  relative(ROOT, resolve(join(ROOT, file, '..'), specifier));

function relativeImports(file: string): string[] {
  return importSpecifiers(file)
    .filter((s) => s.startsWith('.'))
    .map((s) => resolveFrom(file, s));
}

const under = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

/**
 * The layers of src/, lowest first (docs/architecture.md draws the same table). A file may
 * import its own folder and any lower layer; never a higher one, never a peer of its layer.
 */
const LAYERS: Record<string, number> = {
  'src/errors.ts': 0,
  'src/protocol': 0,
  'src/flags.ts': 1,
  'src/files.ts': 1,
  'src/endpoint': 2,
  'src/client': 3,
  'src/metrics': 4,
  'src/load': 5,
  'src/config': 6,
  'src/bench': 7,
  'src/compliance': 7,
  'src/report': 8,
  'src/shards': 9,
  'src/lab': 10,
  'src/cli': 11,
  'src/index.ts': 12,
};

function layerOf(file: string): { unit: string; rank: number } {
  const unit = file.split('/').slice(0, 2).join('/');
  const rank = LAYERS[unit];
  if (rank === undefined) throw new Error(`${file} is in no layer`);
  return { unit, rank };
}

const sameUnit = (a: string, b: string): boolean => layerOf(a).unit === layerOf(b).unit;

describe('import direction', () => {
  it('src/protocol imports nothing of ours', () => {
    for (const file of sourceFiles('src/protocol')) {
      for (const target of relativeImports(file))
        expect(under(target, 'src/protocol'), `${file} -> ${target}`).toBe(true);
    }
  });

  it('the stand-ins (Azure OpenAI, APIM, the delay proxy) import only src/protocol, src/errors, the flag kit and the shared files of stand-ins/; never one another', () => {
    const standIns = readdirSync(join(ROOT, 'stand-ins'), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => `stand-ins/${d.name}`);
    expect(standIns.sort()).toEqual(['stand-ins/apim', 'stand-ins/azure-openai', 'stand-ins/delay-proxy']);
    for (const standIn of standIns) {
      for (const file of sourceFiles(standIn)) {
        for (const target of relativeImports(file)) {
          const ok =
            under(target, standIn) ||
            /^stand-ins\/[\w-]+\.ts$/.test(target) || // the shared server kit: a body reader, a signal handler
            under(target, 'src/protocol') ||
            target === 'src/errors.ts' ||
            target === 'src/flags.ts' ||
            target.startsWith('node_modules');
          expect(ok, `${file} -> ${target}`).toBe(true);
        }
      }
    }
  });

  it("the gateway's static imports never load msw (the mock's framework), so its process stays small", () => {
    // Walks the relative imports from the gateway's CLI (a dynamic import, such as the token
    // meter's, loads only when a policy needs it) and checks each file's package imports.
    const seen = new Set<string>();
    const queue = ['stand-ins/apim/cli.ts'];
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const specifiers = importSpecifiers(file, true);
      for (const name of specifiers.filter((s) => !s.startsWith('.')))
        expect(/^(msw|@mswjs\/)/.test(name), `${file} imports ${name}`).toBe(false);
      queue.push(...specifiers.filter((s) => s.startsWith('.')).map((s) => resolveFrom(file, s)));
    }
    expect(seen.has('stand-ins/apim/proxy.ts')).toBe(true);
    expect(seen.has('stand-ins/read-body.ts')).toBe(true);
  });

  it('infra reaches only down the flow (src/config, src/protocol, src/errors), never cli, lab or the stand-ins', () => {
    const files = sourceFiles('infra');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const target of relativeImports(file)) {
        const ok =
          under(target, 'infra') ||
          under(target, 'src/config') ||
          under(target, 'src/protocol') ||
          target === 'src/errors.ts';
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

  it('src never imports the stand-ins or infra except from src/lab and src/cli', () => {
    for (const file of sourceFiles('src')) {
      if (under(file, 'src/lab') || under(file, 'src/cli')) continue;
      for (const target of relativeImports(file)) {
        expect(under(target, 'stand-ins') || under(target, 'infra'), `${file} -> ${target}`).toBe(false);
      }
    }
  });

  it('every folder of src/ imports only layers below it (peers not at all), so no cycle can form', () => {
    for (const file of sourceFiles('src')) {
      const from = layerOf(file);
      for (const target of relativeImports(file)) {
        if (!target.startsWith('src/') || sameUnit(file, target)) continue;
        const to = layerOf(target);
        expect(
          to.rank < from.rank,
          `${file} (${from.unit}, layer ${from.rank}) -> ${target} (${to.unit}, layer ${to.rank})`,
        ).toBe(true);
      }
    }
  });

  it('every folder and top-level file of src/ has a layer (a new one must be placed in docs/architecture.md and here)', () => {
    const units = readdirSync(join(ROOT, 'src')).map((name) => `src/${name}`);
    for (const unit of units) expect(LAYERS[unit], unit).toBeTypeOf('number');
  });

  it('docs/architecture.md draws the same layers as this test', () => {
    const map = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    for (const [unit, rank] of Object.entries(LAYERS))
      expect(map, `${unit} at layer ${rank}`).toMatch(
        new RegExp(`\\|\\s*${rank}\\s*\\|[^\\n]*\\b${unit.replace('src/', '').replace('.', '\\.')}\\b`),
      );
  });

  it('the rule check sees real imports, dynamic ones too (guards against a regex that matches nothing)', () => {
    expect(relativeImports('stand-ins/azure-openai/server.ts')).toContain('stand-ins/azure-openai/handlers.ts');
    // src/cli reaches the Azure lab through import(), to load the ARM SDKs only when needed.
    expect(relativeImports('src/cli/lab-commands.ts')).toContain('src/lab/azure-lab.ts');
  });

  it('no cycle anywhere, inside a folder included (type-only imports count)', () => {
    const files = [...sourceFiles('src'), ...sourceFiles('stand-ins'), ...sourceFiles('infra')];
    const rings = importCycles(files, relativeImports).map((ring) => [...ring, ring[0]].join(' -> '));
    expect(rings, `import cycles:\n${rings.join('\n')}`).toEqual([]);
  });

  it('the cycle finder finds a cycle (three files in a ring, and one inside a folder)', () => {
    const graph: Record<string, string[]> = { a: ['b'], b: ['c'], c: ['a'], d: ['a'], e: ['f'], f: ['e'] };
    expect(importCycles(Object.keys(graph), (f) => graph[f] ?? [])).toEqual([
      ['a', 'b', 'c'],
      ['e', 'f'],
    ]);
  });

  it("each folder of src/ imports only what the map's imports column allows", () => {
    const map = readFileSync(join(ROOT, 'docs/architecture.md'), 'utf8');
    const rows = [...map.matchAll(/^\| (\d+) \| `([^`]+)` \| [^\n]*? \| ([^|\n]+) \|$/gm)].map((m) => ({
      rank: Number(m[1]),
      unit: m[2]!.replace(/\/$/, ''),
      imports: m[3]!.trim(),
    }));
    expect(rows.length).toBe(Object.keys(LAYERS).length);
    const unitNamed = (name: string): string | undefined =>
      Object.keys(LAYERS).find((u) => u === `src/${name}` || u === `src/${name}.ts`);
    for (const row of rows) {
      const allowed = new Set<string>();
      const typesOnly = new Set<string>();
      const column = row.imports.replace(/`/g, '');
      const everything = /everything below|anything/.test(column);
      for (const part of column.split(',').map((p) => p.trim())) {
        const [, name, types] = /^([\w.-]+)(\s*\(types\))?/.exec(part) ?? [];
        const unit = name !== undefined ? unitNamed(name) : undefined;
        if (unit === undefined) continue;
        (types ? typesOnly : allowed).add(unit);
      }
      const used = new Set<string>();
      for (const file of sourceFiles(row.unit.endsWith('.ts') ? '' : row.unit).concat(
        row.unit.endsWith('.ts') ? [row.unit] : [],
      )) {
        if (!under(file, row.unit)) continue;
        const types = typeOnlySpecifiers(file);
        for (const specifier of importSpecifiers(file).filter((s) => s.startsWith('.'))) {
          const target = resolveFrom(file, specifier);
          if (!target.startsWith('src/') || under(target, row.unit)) continue;
          const to = layerOf(target);
          used.add(to.unit);
          const ok = everything
            ? to.rank < row.rank || row.rank === 12
            : allowed.has(to.unit) || (typesOnly.has(to.unit) && types.has(specifier));
          expect(ok, `${file} -> ${target}: the map's imports column for ${row.unit} is "${row.imports}"`).toBe(true);
        }
      }
      // And the column names nothing the folder does not import: the map says what is, not what may be.
      if (!everything)
        for (const unit of [...allowed, ...typesOnly])
          expect(used.has(unit), `the map says ${row.unit} imports ${unit}, and no file of it does`).toBe(true);
    }
  });
});
