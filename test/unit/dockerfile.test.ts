import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The image cannot be built here (no registry for base images), so the Dockerfile is checked
// by a real linter, and for what the scale-out needs from it.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LINTER = join(ROOT, 'node_modules/dockerfilelint/bin/dockerfilelint');

function lint(file: string): { totalIssues: number; files: Array<{ issues: Array<{ title: string }> }> } {
  let stdout: string;
  try {
    stdout = execFileSync(process.execPath, [LINTER, '-o', 'json', file], { encoding: 'utf8' });
  } catch (error) {
    // It exits 1 when it finds issues; the report is still on stdout.
    stdout = (error as { stdout: string }).stdout;
  }
  return JSON.parse(stdout) as never;
}

describe('Dockerfile', () => {
  it('passes dockerfilelint, which does flag a careless one', () => {
    expect(lint(join(ROOT, 'Dockerfile')).totalIssues).toBe(0);
    const careless = join(mkdtempSync(join(tmpdir(), 'dockerfile-')), 'Dockerfile');
    writeFileSync(careless, 'FROM node\nRUN apt-get install curl\n');
    expect(lint(careless).files[0]!.issues.map((i) => i.title)).toContain('Base Image Missing Tag');
  });

  it('runs on Node 24 as a non-root user, with runtime dependencies only, the CLI as entrypoint', () => {
    const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    expect(text).toMatch(/^FROM node:24[-\w]*$/m);
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^ENTRYPOINT \["node", "src\/cli\/main\.ts"\]$/m);
  });
});
