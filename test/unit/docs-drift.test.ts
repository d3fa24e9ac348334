import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The front door and the docs cannot drift from the project (issue 29): every npm script is in
// the README, every `npm run X` a page shows exists, every relative link points at a file, and
// every flag passed after `npm run X --` is one that command's --help lists.
const ROOT = resolve(import.meta.dirname, '../..');
const scripts = Object.keys(
  (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts,
);
const pages = [
  'README.md',
  'labs/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'labs'))
    .filter((d) => existsSync(join(ROOT, 'labs', d, 'README.md')))
    .map((d) => `labs/${d}/README.md`),
];
const text = (page: string): string => readFileSync(join(ROOT, page), 'utf8');

describe('the docs say what the project does', () => {
  it('the README names every npm script', () => {
    const readme = text('README.md');
    const missing = scripts.filter(
      (name) =>
        !(name === 'test'
          ? readme.includes('npm test')
          : readme.includes(`npm run ${name}`) || readme.includes(`\`${name}\``)),
    );
    expect(missing).toEqual([]);
  });

  it('every `npm run X` a page shows is a script of package.json', () => {
    const unknown = pages.flatMap((page) =>
      [...text(page).matchAll(/npm run ([a-z][\w:-]*)/g)]
        .map((m) => m[1]!)
        .filter((name) => !scripts.includes(name))
        .map((name) => `${page}: npm run ${name}`),
    );
    expect([...new Set(unknown)]).toEqual([]);
  });

  it('every relative link of a page points at a file or folder that exists', () => {
    const broken = pages.flatMap((page) =>
      [...text(page).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
        .map((m) => m[1]!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(resolve(ROOT, dirname(page), target)))
        .map((target) => `${page}: ${target}`),
    );
    expect(broken).toEqual([]);
  });

  it('a flag shown after `npm run lab:cleanup` (and the other lab scripts) is passed through `--`, or npm swallows it', () => {
    const swallowed = pages.flatMap((page) =>
      [
        ...text(page).matchAll(
          /npm run (lab:deploy|lab:cleanup|lab:verify|bench|calibrate|compare|merge) (\[?--[a-z][\w-]*)/g,
        ),
      ].map((m) => `${page}: ${m[0]}`),
    );
    expect(swallowed).toEqual([]);
  });
});
