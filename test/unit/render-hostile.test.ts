import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { scaleCommand, shellQuote } from '../../src/cli/scale-command.ts';
import { resolveRenderK8sOptions, resolveRunAcaOptions } from '../../src/config/scale-options.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { renderK8s } from '../../src/shards/k8s-manifests.ts';

// `scale render k8s` (and `scale run aca`) put what they are given into manifests and jobs
// (issue 31): everything is checked first, the bench flags with the bench's own resolver, and a
// key value never goes in anywhere.
const NOW = new Date('2026-12-07T12:00:00Z');
const SECRET = 'sk-not-a-real-key-0123456789';
const ENV = { AZURE_OPENAI_API_KEY: SECRET, AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000000' };
const GOOD_BENCH = ['--endpoint', 'https://apim.example.net', '--rate', '100', '--duration', '1m'];
const render = (own: string[], bench: string[] = GOOD_BENCH) =>
  resolveRenderK8sOptions(
    ['render', 'k8s', '--shards', '2', '--image', 'reg.example/streamlab:1', ...own, '--', ...bench],
    NOW,
    ENV,
  );

const refusal = (run: () => unknown): InvalidOptionError => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected a refusal');
};

/** What a command wrote to stdout and stderr. */
const captured = async (run: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> => {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    return { code: await run(), stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
};
const out2 = mkdtempSync(join(tmpdir(), 'render-hostile-out-'));
afterAll(() => rmSync(out2, { recursive: true, force: true }));

describe('scale render k8s refuses what would break, or leak, only at kubectl apply', () => {
  const out = mkdtempSync(join(tmpdir(), 'render-hostile-'));
  const cases: Array<[string, () => unknown, string, RegExp]> = [
    [
      '--subscription-key with a value (a key in the manifest)',
      () => render([], [...GOOD_BENCH, '--subscription-key', 'abc123']),
      '--',
      /would put a key into what every shard is given/,
    ],
    [
      'a key-shaped query parameter in the endpoint',
      () => render([], ['--endpoint', 'https://apim.example.net/?api-key=abc', '--rate', '1']),
      '--',
      /would put a key/,
    ],
    [
      'the value of a key variable anywhere',
      () => render([], ['--endpoint', `https://apim.example.net/${SECRET}`, '--rate', '1']),
      '--',
      /holds the value of AZURE_OPENAI_API_KEY/,
    ],
    [
      'a bench flag the bench refuses',
      () => render([], [...GOOD_BENCH, '--max-tokens', 'lots']),
      '--max-tokens',
      /a bench flag after -- that every shard would refuse/,
    ],
    [
      'a closed loop that cannot be split over the shards',
      () => render([], ['--endpoint', 'https://apim.example.net', '--concurrency', '1']),
      '--concurrency',
      /every shard would refuse: 1 in flight cannot be split over 2 shards/,
    ],
    [
      'an image with a space',
      () => render(['--image', 'reg.example/stream lab:1']),
      '--image',
      /is not an image reference/,
    ],
    [
      'an image with a newline',
      () => render(['--image', 'reg.example/streamlab:1\n  command: [sh]']),
      '--image',
      /is not an image reference/,
    ],
    [
      'a namespace with capitals and spaces',
      () => render(['--namespace', 'My Namespace']),
      '--namespace',
      /cannot name a Kubernetes object/,
    ],
    [
      'a secret name with a slash',
      () => render(['--secret', '../keys']),
      '--secret',
      /cannot name a Kubernetes object/,
    ],
    [
      'a storage class with a quote',
      () => render(['--storage-class', 'x"y']),
      '--storage-class',
      /cannot name a Kubernetes object/,
    ],
    [
      'a storage size that is not a quantity',
      () => render(['--storage', '5 GB']),
      '--storage',
      /cannot name a Kubernetes object/,
    ],
    ['--out that is a directory', () => render(['--out', out]), '--out', /is a directory/],
  ];
  for (const [what, run, option, message] of cases) {
    it(`${what}: refused, naming ${option}`, () => {
      const error = refusal(run);
      expect(error.option).toBe(option);
      expect(error.message).toMatch(message);
      expect(error.message).not.toContain(SECRET);
    });
  }

  it('a good render still passes, keys by reference (--api-key-env)', () => {
    expect(render([], [...GOOD_BENCH, '--api-key-env', 'AZURE_OPENAI_API_KEY']).shards).toBe(2);
    rmSync(out, { recursive: true, force: true });
  });

  it('scale run aca checks the same: the image and the bench flags', () => {
    const aca = (extra: string[], bench: string[] = GOOD_BENCH) =>
      resolveRunAcaOptions(
        ['--shards', '2', '--image', 'docker.io/streamlab/streamlab:1', ...extra, '--', ...bench],
        ENV,
        NOW,
      );
    expect(refusal(() => aca(['--image', 'bad image'])).option).toBe('--image');
    expect(refusal(() => aca([], [...GOOD_BENCH, '--subscription-key', 'abc'])).option).toBe('--');
    expect(aca([]).shards).toBe(2);
  });
});

// A reviewer's defects (issue 31, second pass): key variables the bench names, URL user
// information, prose taken for keys, echoed values, unquoted paths in the printed commands,
// empty --key-env names, and --start-at read differently from the bench.
describe('scale render k8s: what a second review found', () => {
  const BENCH_KEY = 'bench-named-key-value-42';
  const env = { ...ENV, K: BENCH_KEY, S: 'subscription-key-value-77' };
  const renderIn = (own: string[], bench: string[], withEnv: NodeJS.ProcessEnv = env) =>
    resolveRenderK8sOptions(
      ['render', 'k8s', '--shards', '2', '--image', 'reg.example/streamlab:1', ...own, '--', ...bench],
      NOW,
      withEnv,
    );
  const aca = (own: string[], bench: string[], withEnv: NodeJS.ProcessEnv = env) =>
    resolveRunAcaOptions(
      ['--shards', '2', '--image', 'docker.io/streamlab/streamlab:1', ...own, '--', ...bench],
      withEnv,
      NOW,
    );

  it('1. the value of a variable the bench flags read a key from (--api-key-env, --subscription-key-env) is refused, not echoed', () => {
    for (const bench of [
      [...GOOD_BENCH, '--api-key-env', 'K', '--prompt', `say ${BENCH_KEY}`],
      [...GOOD_BENCH, '--subscription-key-env=S', '--prompt', env.S],
    ]) {
      const error = refusal(() => renderIn([], bench));
      expect(error.option).toBe('--');
      expect(error.message).toMatch(/bench argument \d+ \(the value of --prompt\) holds the value of [KS]/);
      expect(error.message).not.toContain(BENCH_KEY);
      expect(error.message).not.toContain(env.S);
    }
    expect(refusal(() => aca([], [...GOOD_BENCH, '--api-key-env', 'K', '--prompt', BENCH_KEY])).message).toMatch(
      /holds the value of K/,
    );
  });

  it('2. a URL with user information (user:password@) in any bench flag is refused without the password', () => {
    for (const bench of [
      ['--endpoint', 'https://user:hunter2pass@h.example/', '--rate', '1'],
      ['--endpoint=https://user:hunter2pass@h.example/', '--rate', '1'],
      [...GOOD_BENCH, '--search-endpoint', 'https://user:hunter2pass@search.example/'],
    ]) {
      const error = refusal(() => renderIn([], bench));
      expect(error.option).toBe('--');
      expect(error.message).toMatch(/--(search-)?endpoint.*URL with user information/);
      expect(error.message).not.toContain('hunter2pass');
    }
  });

  it('3. the variables the bench reads keys from are among those the Secret provides (and the printed kubectl create secret)', async () => {
    expect(renderIn([], [...GOOD_BENCH, '--api-key-env', 'K']).keyEnv).toEqual(['K']);
    expect(renderIn([], [...GOOD_BENCH, '--subscription-key-env', 'S']).keyEnv).toEqual(['AZURE_OPENAI_API_KEY', 'S']);
    expect(
      renderIn(['--key-env', 'A'], [...GOOD_BENCH, '--api-key-env=K', '--subscription-key-env', 'S']).keyEnv,
    ).toEqual(['A', 'K', 'S']);
    expect(renderIn([], GOOD_BENCH).keyEnv).toEqual(['AZURE_OPENAI_API_KEY']);
    const pods = renderK8s(renderIn([], [...GOOD_BENCH, '--api-key-env', 'K'])).items[1] as {
      spec: { template: { spec: { containers: Array<{ env: unknown[] }> } } };
    };
    expect(pods.spec.template.spec.containers[0]!.env).toEqual([
      { name: 'K', valueFrom: { secretKeyRef: { name: 'streamlab-keys', key: 'K' } } },
    ]);
    const { stderr } = await captured(() =>
      scaleCommand(
        [
          'render',
          'k8s',
          '--shards',
          '2',
          '--image',
          'reg.example/streamlab:1',
          '--out',
          join(out2, 'm.json'),
          '--',
          ...GOOD_BENCH,
          '--api-key-env',
          'K',
        ],
        env,
      ),
    );
    expect(stderr).toContain('create secret generic streamlab-keys --from-literal=K="$K"\n');
    expect(refusal(() => renderIn([], [...GOOD_BENCH, '--api-key-env', 'not-a-name'])).option).toBe('--api-key-env');
    // scale run aca: the named variable becomes a job secret, so it must be set here.
    expect(aca([], [...GOOD_BENCH, '--api-key-env', 'K']).keyEnv).toEqual(['K']);
    expect(refusal(() => aca([], [...GOOD_BENCH, '--api-key-env', 'MISSING_KEY'])).message).toMatch(
      /"--key-env": MISSING_KEY is not set/,
    );
  });

  it('4. prose is not a key; real key shapes still are', () => {
    for (const prompt of [
      'what is a password manager',
      'keep it secret, keep it safe',
      'the bearer of bad news',
      'explain the token bucket algorithm',
      'Authorization: who may do what?',
      'what does api-key mean',
      'My-Deployment-2024-gpt4o-mini-eastus2',
      'rg-streamlab-Prod2024-westeurope-Team7',
    ]) {
      expect(renderIn([], [...GOOD_BENCH, '--prompt', prompt]).benchArgs).toContain(prompt);
    }
    expect(renderIn([], [...GOOD_BENCH, '--max-tokens', '100', '--first-token-timeout', '10s']).shards).toBe(2);
    for (const keyed of [
      ['--prompt', '0123456789abcdef0123456789ABCDEF'],
      ['--prompt', 'use 3kQ9xZ7pLm2Nv8Rt5Wy1Bc4Df6Gh0JkLmNoPqRsTuVw please'],
      ['--prompt', 'api-key=whatever'],
      ['--prompt', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc123'],
      ['--prompt', 'sk-proj-abcdefghijklmnop1234'],
      ['--prompt', 'Ocp-Apim-Subscription-Key: abc'],
      ['--endpoint', 'https://apim.example.net/?sig=abc'],
      ['--api-key', 'abc'],
      ['--password=abc'],
    ]) {
      const error = refusal(() => renderIn([], ['--endpoint', 'https://apim.example.net', '--rate', '1', ...keyed]));
      expect(error.option).toBe('--');
      expect(error.message).toMatch(/would put a key/);
    }
  });

  it('5. a key-shaped refusal names where the argument is, never its value', () => {
    const error = refusal(() =>
      renderIn([], ['--rate', '1', '--endpoint', 'https://apim.example.net/?api-key=zzzzzzzz']),
    );
    expect(error.message).toContain('bench argument 4 (the value of --endpoint)');
    expect(error.message).not.toContain('zzzzzzzz');
    expect(error.message).not.toContain('apim.example.net');
    const inline = refusal(() =>
      renderIn([], ['--rate', '1', '--endpoint=https://apim.example.net/?api-key=zzzzzzzz']),
    );
    expect(inline.message).toContain('bench argument 3 (the flag --endpoint=…)');
    expect(inline.message).not.toContain('zzzzzzzz');
  });

  it('6. paths in the printed commands are shell-quoted', async () => {
    const file = join(out2, "a b;echo PWNED's.json");
    const { stderr } = await captured(() =>
      scaleCommand(
        ['render', 'k8s', '--shards', '2', '--image', 'reg.example/streamlab:1', '--out', file, '--', ...GOOD_BENCH],
        env,
      ),
    );
    expect(stderr).toContain(`  kubectl apply -f '${file.replace("'", `'\\''`)}'\n`);
    expect(stderr).not.toContain(`-f ${file}`);
    expect(shellQuote('/tmp/plain-name_1.json')).toBe('/tmp/plain-name_1.json');
    expect(shellQuote("it's $(x)")).toBe(`'it'\\''s $(x)'`);
    expect(shellQuote('')).toBe("''");
  });

  it('7. --key-env refuses empty names and names that are not variables', () => {
    for (const keyEnv of [',,,', '', 'A,,B', 'A,', 'A-B', '1A', 'A B']) {
      const error = refusal(() => renderIn(['--key-env', keyEnv], GOOD_BENCH));
      expect(error.option).toBe('--key-env');
      expect(error.message).toMatch(/empty name|is not an environment variable name/);
    }
    expect(refusal(() => aca(['--key-env', ',,,'], GOOD_BENCH)).option).toBe('--key-env');
  });

  it('8. --start-at is read as the bench reads it (epoch milliseconds or ISO), and must be in the future', () => {
    const later = NOW.getTime() + 600_000;
    expect(renderIn(['--start-at', String(later)], GOOD_BENCH).startAt.getTime()).toBe(later);
    expect(renderIn(['--start-at', '2026-12-07T12:30:00Z'], GOOD_BENCH).startAt.toISOString()).toBe(
      '2026-12-07T12:30:00.000Z',
    );
    for (const past of ['0', '1796618914', '2026-12-07T11:59:59Z']) {
      const error = refusal(() => renderIn(['--start-at', past], GOOD_BENCH));
      expect(error.option).toBe('--start-at');
      expect(error.message).toMatch(/not after now.*Allowed: a future time/);
    }
    const error = refusal(() => renderIn(['--start-at', 'soon'], GOOD_BENCH));
    expect(error.option).toBe('--start-at');
    expect(error.message).toMatch(/"soon" is not a time.*epoch milliseconds/);
  });
});
