/**
 * `npm run mutation`: plants named bugs, one at a time, in a copy of the project and expects
 * the tests that guard each to fail. A green suite keeps meaning something only while each of
 * these bugs turns it red. Runs the named test files only (about 3 minutes); exits 1 naming
 * every bug no test caught, 2 when a bug's text is no longer in its file (the list must move
 * with the code).
 *
 *   npm run mutation                  # every bug
 *   npm run mutation -- interval-width merge-index   # some, by name
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

interface Bug {
  name: string;
  /** What the bug breaks, in a user's words. */
  breaks: string;
  file: string;
  find: string;
  replace: string;
  tests: string[];
}

const BUGS: Bug[] = [
  {
    name: 'interval-width',
    breaks: 'the paired interval cuts one Walsh average too many (narrower than 95%)',
    file: 'src/metrics/paired-shift.ts',
    find: 'low: round3(walsh[depth - 1]!)',
    replace: 'low: round3(walsh[depth]!)',
    tests: ['test/unit/paired-shift.test.ts'],
  },
  {
    name: 'interval-words',
    breaks: 'a significant negative overhead is printed as "adds"',
    file: 'src/metrics/paired-shift.ts',
    find: "if (shift.high < 0) return 'suspect-negative';",
    replace: "if (shift.high < 0) return 'adds';",
    tests: ['test/unit/paired-shift.test.ts'],
  },
  {
    name: 'merge-index',
    breaks: 'merge takes a shard whose index is outside 0..N-1',
    file: 'src/shards/merge-shards.ts',
    find: 'if (shard.index < 0 || shard.index >= count)',
    replace: 'if (false)',
    tests: ['test/integration/merge-hostile.test.ts'],
  },
  {
    name: 'merge-histograms',
    breaks: "merge accepts histograms that do not count the shards' samples",
    file: 'src/shards/merge-shards.ts',
    find: 'if (totalCount !== expected)',
    replace: 'if (false)',
    tests: ['test/integration/merge-hostile.test.ts'],
  },
  {
    name: 'sse-multiline-data',
    breaks: 'the SSE parser keeps only the last data line of an event',
    file: 'src/protocol/sse-parser.ts',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text to find, a template literal as written
    find: 'this.#data = this.#dataLines === 0 ? value : `${this.#data}\\n${value}`;',
    replace: 'this.#data = value;',
    tests: ['test/unit/sse-parser.test.ts'],
  },
  {
    name: 'mock-depth',
    breaks: "the mock reads JSON of any depth (Azure refuses past its reader's depth)",
    file: 'stand-ins/azure-openai/request-gate.ts',
    find: 'if (body === null || depthOf(body) > MAX_JSON_DEPTH) return errors.INVALID_JSON;',
    replace: 'if (body === null) return errors.INVALID_JSON;',
    tests: ['test/integration/mock-hostile.test.ts'],
  },
  {
    name: 'mock-context-window',
    breaks: 'the mock serves a prompt longer than the context window',
    file: 'stand-ins/azure-openai/request-gate.ts',
    find: 'if (promptTokens > window)\n',
    replace: 'if (promptTokens > window * 100)\n',
    tests: ['test/integration/mock-hostile.test.ts'],
  },
  {
    name: 'gateway-retry-count',
    breaks: 'the gateway retries one time fewer than the policy says',
    file: 'stand-ins/apim/core.ts',
    find: 'attempt <= retry.count',
    replace: 'attempt < retry.count',
    tests: ['test/unit/gateway-core.test.ts'],
  },
  {
    name: 'gateway-back-off',
    breaks: 'the gateway retries at once, whatever the interval',
    file: 'stand-ins/apim/core.ts',
    find: 'if (wait > 0) await this.config.sleep(wait);',
    replace: 'void wait;',
    tests: ['test/unit/gateway-core.test.ts'],
  },
  {
    name: 'gateway-unreachable',
    breaks: 'a dead pool member is never failed over',
    file: 'stand-ins/apim/core.ts',
    find: '      config.router.observeUnreachable(choice.name);\n',
    replace: '',
    tests: ['test/unit/gateway-core.test.ts'],
  },
  {
    name: 'deploy-permissions',
    breaks: 'a Contributor-only caller gets APIM and Azure OpenAI created before the role step fails',
    file: 'infra/deploy.ts',
    find: "const problem = await checkPermissions({ clients, record }, record.roles ?? 'assign', caller);",
    replace: 'const problem = undefined as string | undefined;',
    tests: ['test/integration/azure-first-run.test.ts'],
  },
  {
    name: 'deploy-role',
    breaks: "the deploy grants APIM's identity the wrong role",
    file: 'infra/azure-plan.ts',
    find: "OPENAI_USER_ROLE_ID = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'",
    replace: "OPENAI_USER_ROLE_ID = 'a97b65f3-24c7-4388-baec-2e87135dc908'",
    tests: ['test/integration/azure-deploy.test.ts'],
  },
  {
    name: 'harness-lateness',
    breaks: "the self-watch counts the ticker's period as lateness (every run harness-bound)",
    file: 'src/load/harness-monitor.ts',
    find: 'const lateNs = nowNs - this.intendedNs!;',
    replace: 'const lateNs = nowNs - this.intendedNs! + BigInt(TICK_MS * 1e6);',
    tests: ['test/unit/harness-monitor.test.ts'],
  },
  {
    name: 'compare-empty-gate',
    breaks: 'compare --fail-on-regression passes when nothing was compared',
    file: 'src/report/compare-runs.ts',
    find: 'if (comparison.scenarios.length === 0)\n',
    replace: 'if (false)\n',
    tests: ['test/integration/compare-gate.test.ts'],
  },
];

const root = join(import.meta.dirname, '..');
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !BUGS.some((b) => b.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `unknown bug${unknown.length > 1 ? 's' : ''}: ${unknown.join(', ')}. Known: ${BUGS.map((b) => b.name).join(', ')}\n`,
  );
  process.exit(2);
}
const bugs = wanted.length > 0 ? BUGS.filter((b) => wanted.includes(b.name)) : BUGS;
for (const bug of bugs) {
  if (!readFileSync(join(root, bug.file), 'utf8').includes(bug.find)) {
    process.stderr.write(`${bug.name}: its text is no longer in ${bug.file}; move the bug with the code\n`);
    process.exit(2);
  }
}

// One copy of the tree (node_modules linked, not copied), a bug planted and removed in it per run.
const copy = mkdtempSync(join(tmpdir(), 'mutation-'));
const missed: string[] = [];
try {
  cpSync(root, copy, {
    recursive: true,
    filter: (source) => !/\/(node_modules|\.git|reports|test-artifacts|\.lab)(\/|$)/.test(source.slice(root.length)),
  });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  for (const bug of bugs) {
    const file = join(copy, bug.file);
    const original = readFileSync(file, 'utf8');
    writeFileSync(file, original.replace(bug.find, bug.replace));
    const started = performance.now();
    const run = spawnSync(process.execPath, [join(copy, 'node_modules/vitest/vitest.mjs'), 'run', ...bug.tests], {
      cwd: copy,
      encoding: 'utf8',
      timeout: 300_000,
      env: { ...process.env, CI: '1' },
    });
    writeFileSync(file, original);
    const caught = run.status !== 0 && run.status !== null;
    if (!caught) missed.push(bug.name);
    process.stdout.write(
      `${caught ? 'caught' : 'MISSED'}  ${bug.name.padEnd(22)} ${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s  ${bug.breaks} (${bug.tests.join(', ')})\n`,
    );
  }
} finally {
  rmSync(copy, { recursive: true, force: true });
}
process.stdout.write(
  missed.length === 0
    ? `every planted bug (${bugs.length}) failed a test\n`
    : `${missed.length} of ${bugs.length} planted bugs passed every test: ${missed.join(', ')}\n`,
);
process.exit(missed.length === 0 ? 0 : 1);
