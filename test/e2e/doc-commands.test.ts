import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * The doc-snippet runner: every command a page shows in a shell block is either run here as
 * written (in a scratch folder that sees the project's files, against the ports the page names)
 * or named below with the reason it is not (Azure, a 35-minute benchmark, a command another
 * test runs). A block nobody classified fails the test, so a page cannot show a command that
 * was never tried.
 */
const ROOT = join(import.meta.dirname, '../..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'labs'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => `labs/${d.name}/README.md`),
];

interface Step {
  page: string;
  line: number;
  /** One logical command line as bash reads it (continuation lines joined, comments kept). */
  text: string;
  /** The output line the page shows under it (a JSON line), if any. */
  shows?: string;
  /** Which shell block of all pages it is in. */
  block: number;
}

/** The commands of every shell block, one logical line each; output lines (`{…}`) are not commands. */
function docSteps(): Step[] {
  const steps: Step[] = [];
  let blocks = 0;
  for (const page of PAGES) {
    let text: string;
    try {
      text = readFileSync(join(ROOT, page), 'utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    let inBlock = false;
    let block = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (/^```(sh|bash|shell|console)\s*$/.test(line)) {
        inBlock = true;
        block = ++blocks;
        continue;
      }
      if (inBlock && line.startsWith('```')) {
        inBlock = false;
        continue;
      }
      if (inBlock && line.startsWith('{') && steps.at(-1)?.page === page) steps.at(-1)!.shows = line;
      if (!inBlock || line.trim() === '' || line.trim().startsWith('#') || line.startsWith('{')) continue;
      let command = line;
      const start = i + 1;
      while (command.trimEnd().endsWith('\\') && i + 1 < lines.length) command += `\n${lines[++i]!}`;
      steps.push({ page, line: start, text: command, block });
    }
  }
  return steps;
}

/** Why a command is not run here; each is matched by its page and the start of its text. */
const NOT_RUN: Array<{ page: RegExp; starts: RegExp; why: string }> = [
  {
    page: /^README\.md$/,
    starts: /^npm ci && npm run lab/,
    why: '`npm ci` is what .ci/run does; `npm run lab` is run whole by test/e2e/lab-lifecycle.test.ts',
  },
  { page: /^README\.md$/, starts: /^npm test\b/, why: 'this test is part of it' },
  {
    page: /^docs\/performance\.md$/,
    starts: /npm run perf/,
    why: 'the benchmarks run 6 to 35 minutes: `npm run perf`',
  },
  {
    page: /^labs\/[\w-]+\/README\.md$/,
    starts: /^npm run lab -- [\w-]+ +#/,
    why: 'every guided lab is run locally by test/e2e/labs.test.ts (with --out, to read its lab.json)',
  },
  {
    page: /^docs\/reports\.md$/,
    starts: /^npm run (bench|compare) --/,
    why: 'a sketch with "…" for your own flags; bench, report and compare are run by test/e2e/report-compare.test.ts',
  },
  {
    page: /^docs\/scale-out\.md$/,
    starts: /^npm run merge -- \/shared/,
    why: 'merges the shards the Azure example above writes; merge is run by test/integration/shards.test.ts',
  },
];

/**
 * What runs, in order, per scenario. A step names its page and the start of its command; a
 * command that serves (a mock, a gateway) is started in the background and stopped when the
 * scenario ends.
 */
type ScenarioStep =
  | {
      page: string;
      starts: string;
      serves?: boolean /** the exit code the page's words expect (0 unless said) */;
      exits?: number;
    }
  | { setup: string; serves: true }
  /** Lanes that run side by side, each in order (commands that need the servers but not each other). */
  | { lanes: ScenarioStep[][] };
const SCENARIOS: Array<{ name: string; steps: ScenarioStep[] }> = [
  {
    name: "the quick start's mock on 8080, a gateway on 8081, and what the pages run against them",
    steps: [
      { page: 'README.md', starts: 'npm run mock -- --port 8080', serves: true },
      { page: 'docs/gateway.md', starts: 'GATEWAY_SUBSCRIPTION_KEY=', serves: true },
      {
        lanes: [
          [
            { page: 'README.md', starts: 'AZURE_OPENAI_API_KEY=local npm run bench --' },
            { page: 'docs/gateway.md', starts: 'LAB_GATEWAY_SUBSCRIPTION_KEY=' },
          ],
          [
            { page: 'docs/mock.md', starts: 'curl -N "http://127.0.0.1:8080/' },
            // The page lints the buffered policy to show a failing lint: exit 1 is what it says you will see.
            { page: 'docs/verify.md', starts: 'npm run lab:verify -- --policy', exits: 1 },
            { page: 'docs/verify.md', starts: 'AZURE_OPENAI_API_KEY=local GATEWAY_SUBSCRIPTION_KEY=' },
            {
              page: 'docs/scale-out.md',
              starts: 'AZURE_OPENAI_API_KEY=local npm run bench -- --endpoint http://127.0.0.1:8080',
            },
          ],
        ],
      },
      { page: 'docs/mock.md', starts: 'npm run mock -- --port 0', serves: true },
      // The failover pool: the mock on 8080 and a second one on 8082 (the page says to start it).
      { setup: 'npm run mock -- --port 8082', serves: true },
      { page: 'docs/gateway.md', starts: 'npm exec -- node stand-ins/apim/cli.ts --backends', serves: true },
    ],
  },
  {
    name: 'the local lab, command by command',
    steps: [
      { page: 'docs/lab.md', starts: 'npm run lab:deploy ' },
      { page: 'docs/lab.md', starts: 'npm run bench -- --api chat' },
      { page: 'docs/lab.md', starts: 'npm run lab:verify ' },
      { page: 'docs/lab.md', starts: 'npm run lab:cleanup ' },
    ],
  },
];

/** A scenario's steps with its lanes spread out. */
const flat = (steps: ScenarioStep[]): Array<Exclude<ScenarioStep, { lanes: unknown }>> =>
  steps.flatMap((step) => ('lanes' in step ? flat(step.lanes.flat()) : [step]));

const STEPS = docSteps();
/**
 * A block that deploys to or logs in to Azure, or a cluster, or names a resource to fill in, is
 * about a subscription this machine has not got: all of its commands (bench, verify, cleanup
 * after an Azure deploy read that lab) are run against the fake ARM instead
 * (test/integration/azure-first-run.test.ts, scale-aca.test.ts).
 */
const AZURE =
  /--target azure|^az |^export (AZURE_|APIM_|ACA_)|^kubectl |\.azure-api\.net|openai\.azure\.com|^LAB_EVENTHUB| run aca/;
const AZURE_BLOCKS = new Set(STEPS.filter((s) => AZURE.test(s.text)).map((s) => s.block));
const matches = (step: Step, page: string, starts: string): boolean =>
  step.page === page && step.text.startsWith(starts);
const notRunReason = (step: Step): string | undefined =>
  AZURE_BLOCKS.has(step.block)
    ? 'needs an Azure subscription or a cluster'
    : NOT_RUN.find((n) => n.page.test(step.page) && n.starts.test(step.text))?.why;

/** A scratch folder that sees the project's files, so `npm run …` and relative paths work as on a clone. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'doc-commands-'));
  for (const name of ['package.json', 'node_modules', 'src', 'stand-ins', 'infra', 'labs', 'bin', 'tsconfig.json'])
    symlinkSync(join(ROOT, name), join(dir, name));
  return dir;
}

// Keys a developer may have exported must not change what a page's command does here.
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !/^(LAB_|AZURE_|APIM_|GATEWAY_|MOCK_)/.test(name) && name !== 'npm_config_prefix',
  ),
);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

const running: ChildProcess[] = [];
/** Stops a command and everything it started (npm, node), if it still runs. */
function stop(child: ChildProcess): void {
  try {
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGTERM');
  } catch {
    // The group is gone already.
  }
}
afterAll(() => running.forEach(stop));

/** Runs one command with bash, as a reader would paste it, in its own process group. */
function bash(text: string, cwd: string): { child: ChildProcess; done: Promise<Ran>; out: () => string } {
  const child = spawn('bash', ['-c', text], { cwd, env: ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<Ran>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  return { child, done, out: () => stdout };
}

/** Starts a serving command and waits for its `{"event":"listening",…}` line. */
async function serve(text: string, cwd: string): Promise<{ child: ChildProcess; listening: Record<string, unknown> }> {
  const { child, done, out } = bash(text, cwd);
  const deadline = performance.now() + 20_000;
  while (performance.now() < deadline) {
    const line = out()
      .split('\n')
      .find((l) => l.includes('"event":"listening"'));
    if (line !== undefined) return { child, listening: JSON.parse(line) as Record<string, unknown> };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  stop(child);
  const ran = await done;
  throw new Error(`${text}\ndid not start listening (exit ${ran.code}):\n${ran.stderr.slice(-2000)}`);
}

// The two scenarios use different ports (the quick start's fixed ones, the lab's free ones): side by side.
describe.concurrent('every command the docs show', () => {
  it('is run below or named with the reason it is not (no page shows a command nobody tried)', () => {
    expect(STEPS.length).toBeGreaterThan(20);
    const unclassified = STEPS.filter(
      (step) =>
        notRunReason(step) === undefined &&
        !SCENARIOS.some((s) => flat(s.steps).some((want) => 'page' in want && matches(step, want.page, want.starts))),
    ).map((s) => `${s.page}:${s.line}: ${s.text}`);
    expect(unclassified).toEqual([]);
    // And every step a scenario names is still on its page, once.
    for (const want of SCENARIOS.flatMap((s) => flat(s.steps)))
      if ('page' in want)
        expect(STEPS.filter((s) => matches(s, want.page, want.starts)).length, `${want.page}: ${want.starts}`).toBe(1);
    // A command run as written has nothing left to fill in.
    for (const want of SCENARIOS.flatMap((s) => flat(s.steps))) {
      if (!('page' in want)) continue;
      const step = STEPS.find((s) => matches(s, want.page, want.starts));
      if (step) expect(step.text, `${step.page}:${step.line}`).not.toMatch(/…|<[a-z][\w -]*>/);
    }
  });

  for (const scenario of SCENARIOS) {
    it(scenario.name, { timeout: 180_000 }, async () => {
      const dir = scratch();
      const servers: ChildProcess[] = [];
      const run = async (want: ScenarioStep): Promise<void> => {
        if ('lanes' in want) {
          await Promise.all(
            want.lanes.map(async (lane) => {
              for (const inLane of lane) await run(inLane);
            }),
          );
          return;
        }
        const step =
          'page' in want
            ? STEPS.find((s) => matches(s, want.page, want.starts))
            : { page: '(setup)', line: 0, text: want.setup, block: 0 };
        if (step === undefined) return; // reported by the classification test
        const where = `${step.page}:${step.line}: ${step.text}`;
        if (want.serves) {
          const { child, listening } = await serve(step.text, dir);
          expect(listening['url'], where).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
          // The line the page shows has the fields the command prints.
          if (step.shows !== undefined)
            expect(Object.keys(listening).sort(), where).toEqual(Object.keys(JSON.parse(step.shows)).sort());
          servers.push(child);
          return;
        }
        const started = performance.now();
        const ran = await bash(step.text, dir).done;
        process.stdout.write(
          `${where.split('\n')[0]}: exit ${ran.code}, ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
        );
        expect(ran.code, `${where}\n${ran.stderr.slice(-3000)}`).toBe(('exits' in want && want.exits) || 0);
        expect(ran.stderr, where).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/); // no stack trace
      };
      try {
        for (const want of scenario.steps) await run(want);
      } finally {
        for (const child of servers) {
          const closed = new Promise((resolve) => child.once('close', resolve));
          stop(child);
          if (child.exitCode === null && child.signalCode === null) await closed; // its port is free again
        }
      }
    });
  }
});
