import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { benchArgv, resolveBenchOptions, type BenchOptions } from '../../src/config/bench-options.ts';

// `bench --workers N` starts N bench processes with argv written from the parent's resolved
// options (benchArgv), not re-parsed from its raw flags (issue 29). benchArgv must be the
// inverse of resolveBenchOptions: whatever was resolved comes back out of the argv it writes,
// and no key is ever in it.

const dir = mkdtempSync(join(tmpdir(), 'bench argv '));
const promptsFile = join(dir, 'my prompts.jsonl');
writeFileSync(
  promptsFile,
  `${JSON.stringify([{ role: 'user', content: 'one' }])}\n${JSON.stringify({
    messages: [
      { role: 'system', content: 's' },
      { role: 'user', content: 'two' },
    ],
  })}\n`,
);
const SECRET = 'sk-never-in-argv-0123456789abcdef';

const EVERY_FLAG = [
  '--endpoint',
  'https://my-gateway.example.net/a path/',
  '--api-style',
  'v1',
  '--deployment',
  'my deployment',
  '--completions-deployment',
  'instruct',
  '--api-version',
  '2025-01-01-preview',
  '--api-key-env',
  'MY_KEY',
  '--subscription-key-env',
  'MY_SUBSCRIPTION_KEY',
  '--entra',
  '--state',
  join(dir, 'a lab', 'state.json'),
  '--search-endpoint',
  'https://my-search.search.windows.net',
  '--search-index',
  'my index',
  '--path',
  'gateway',
  '--api',
  'responses,chat,on-your-data',
  '--stream',
  'off',
  '--max-tokens',
  '64,max,1024',
  '--prompt=--a prompt that starts with dashes, "quoted", and\nover two lines',
  '--requests',
  '7',
  '--concurrency',
  '3',
  '--warmup',
  '0',
  '--no-interleave',
  '--seed',
  '0',
  '--timeout',
  '5s',
  '--connect-timeout',
  '1500ms',
  '--headers-timeout',
  '2s',
  '--first-token-timeout',
  '2.5s',
  '--idle-timeout',
  '1s',
  '--retry-429',
  'honor',
  '--retry-max-wait',
  '2m',
  '--bail-out',
  '0.25',
  '--stamp',
  '--out',
  join(dir, 'out dir'),
  '--json',
  '--shard',
  '1/3',
  '--run-id',
  'run-1',
  '--start-at',
  '2030-01-01T00:00:00.123Z',
];

const CASES: Array<[string, string[], NodeJS.ProcessEnv?]> = [
  ['the defaults', []],
  ['every flag set to something other than its default', EVERY_FLAG],
  ['an open loop for a time', ['--rate', '2.5', '--arrival', 'poisson', '--max-in-flight', '4', '--duration', '30s']],
  ['an open loop at the default arrival, a fractional rate', ['--rate', '0.125']],
  ['a duration and a request count', ['--duration', '1m', '--requests', '20']],
  ['a prompts file whose path has spaces', ['--prompts', promptsFile, '--max-tokens', 'max']],
  ['the SDK client with the phases it takes', ['--client', 'sdk', '--timeout', '10s', '--first-token-timeout', '5s']],
  ['a total shorter than the default phases (they are capped)', ['--timeout', '500ms']],
  ['local workers', ['--workers', '4', '--concurrency', '4', '--run-id', 'w']],
  [
    'a shard whose index came from the environment',
    ['--shards', '3', '--run-id', 'x', '--concurrency', '3'],
    { SHARD_INDEX: '2' },
  ],
  [
    'an On Your Data source from the environment',
    ['--api', 'on-your-data'],
    { AZURE_SEARCH_ENDPOINT: 'https://env.search.windows.net', AZURE_SEARCH_INDEX: 'env-index' },
  ],
  ['an explicit default, and --help', ['--requests', '20', '--stream', 'both', '--help']],
];

describe('benchArgv is the inverse of resolveBenchOptions', () => {
  it.each(CASES)('%s', (_name, argv, env = {}) => {
    const options = resolveBenchOptions(argv, { ...env, AZURE_OPENAI_API_KEY: SECRET, MY_KEY: SECRET });
    const written = benchArgv(options);
    // Resolved again in an environment that has none of the variables: the argv carries it all.
    expect(resolveBenchOptions(written, {})).toEqual(options);
    expect(written.join(' ')).not.toContain(SECRET);
  });

  it('writes only what differs from the defaults', () => {
    expect(benchArgv(resolveBenchOptions([], {}))).toEqual([]);
    expect(benchArgv(resolveBenchOptions(['--requests', '20', '--concurrency', '1', '--seed', '1'], {}))).toEqual([]);
    expect(benchArgv(resolveBenchOptions(['--requests', '5'], {}))).toEqual(['--requests=5']);
  });

  it("a worker's argv: the parent's options with its own shard, run id, start and output", () => {
    const parent = resolveBenchOptions(
      ['--endpoint', 'http://127.0.0.1:1', '--concurrency', '4', '--workers', '2', '--json', '--out', join(dir, 'r')],
      {},
    );
    const startAt = new Date('2030-01-01T00:00:03.000Z');
    const overrides: Partial<BenchOptions> = {
      shard: { index: 1, count: 2 },
      runId: 'run-w',
      startAt,
      out: join(dir, 'r'),
      workers: 1,
      json: false,
    };
    const worker = resolveBenchOptions(benchArgv(parent, overrides), {});
    expect(worker).toEqual({ ...parent, ...overrides });
    expect(benchArgv(parent, overrides)).toContain('--shard=1/2');
  });

  it('keys are named by their variables, never written', () => {
    const options = resolveBenchOptions(['--api-key-env', 'MY_KEY', '--subscription-key-env', 'SUB'], {
      MY_KEY: SECRET,
      SUB: SECRET,
    });
    const written = benchArgv(options);
    expect(written).toEqual(['--api-key-env=MY_KEY', '--subscription-key-env=SUB']);
  });

  it('refuses options no flag can express, rather than start a worker that measures something else', () => {
    const options = resolveBenchOptions([], {});
    expect(() => benchArgv({ ...options, retryMaxAttempts: 3 })).toThrow(/retryMaxAttempts 3 has no bench flag/);
    expect(() =>
      benchArgv({
        ...options,
        prompts: [
          [
            { role: 'system', content: 's' },
            { role: 'user', content: 'u' },
          ],
        ],
      }),
    ).toThrow(/has no bench flag/);
    expect(() => benchArgv({ ...options, requests: undefined })).toThrow(/neither requests nor durationMs/);
  });
});
