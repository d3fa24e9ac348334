import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveRenderK8sOptions, resolveRunAcaOptions } from '../../src/config/dist-options.ts';
import { InvalidOptionError } from '../../src/errors.ts';

// `dist render k8s` (and `dist run aca`) put what they are given into manifests and jobs
// (issue 31): everything is checked first, the bench flags with the bench's own resolver, and a
// key value never goes in anywhere.
const NOW = new Date('2026-12-07T12:00:00Z');
const SECRET = 'sk-not-a-real-key-0123456789';
const ENV = { AZURE_OPENAI_API_KEY: SECRET, AZURE_SUBSCRIPTION_ID: '00000000-0000-4000-8000-000000000000' };
const GOOD_BENCH = ['--endpoint', 'https://apim.example.net', '--rate', '100', '--duration', '1m'];
const render = (own: string[], bench: string[] = GOOD_BENCH) => resolveRenderK8sOptions(['render', 'k8s', '--shards', '2', '--image', 'reg.example/streamlab:1', ...own, '--', ...bench], NOW, ENV);

const refusal = (run: () => unknown): InvalidOptionError => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return error as InvalidOptionError;
  }
  throw new Error('expected a refusal');
};

describe('dist render k8s refuses what would break, or leak, only at kubectl apply', () => {
  const out = mkdtempSync(join(tmpdir(), 'render-hostile-'));
  const cases: Array<[string, () => unknown, string, RegExp]> = [
    ['--subscription-key with a value (a key in the manifest)', () => render([], [...GOOD_BENCH, '--subscription-key', 'abc123']), '--', /would put a key into what every shard is given/],
    ['a key-shaped query parameter in the endpoint', () => render([], ['--endpoint', 'https://apim.example.net/?api-key=abc', '--rate', '1']), '--', /would put a key/],
    ['the value of a key variable anywhere', () => render([], ['--endpoint', `https://apim.example.net/${SECRET}`, '--rate', '1']), '--', /holds the value of AZURE_OPENAI_API_KEY/],
    ['a bench flag the bench refuses', () => render([], [...GOOD_BENCH, '--max-tokens', 'lots']), '--max-tokens', /a bench flag after -- that every shard would refuse/],
    ['a closed loop that cannot be split over the shards', () => render([], ['--endpoint', 'https://apim.example.net', '--concurrency', '1']), '--concurrency', /every shard would refuse: 1 in flight cannot be split over 2 shards/],
    ['an image with a space', () => render(['--image', 'reg.example/stream lab:1']), '--image', /is not an image reference/],
    ['an image with a newline', () => render(['--image', 'reg.example/streamlab:1\n  command: [sh]']), '--image', /is not an image reference/],
    ['a namespace with capitals and spaces', () => render(['--namespace', 'My Namespace']), '--namespace', /cannot name a Kubernetes object/],
    ['a secret name with a slash', () => render(['--secret', '../keys']), '--secret', /cannot name a Kubernetes object/],
    ['a storage class with a quote', () => render(['--storage-class', 'x"y']), '--storage-class', /cannot name a Kubernetes object/],
    ['a storage size that is not a quantity', () => render(['--storage', '5 GB']), '--storage', /cannot name a Kubernetes object/],
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

  it('dist run aca checks the same: the image and the bench flags', () => {
    const aca = (extra: string[], bench: string[] = GOOD_BENCH) => resolveRunAcaOptions(['--shards', '2', '--image', 'docker.io/streamlab/streamlab:1', ...extra, '--', ...bench], ENV, NOW);
    expect(refusal(() => aca(['--image', 'bad image'])).option).toBe('--image');
    expect(refusal(() => aca([], [...GOOD_BENCH, '--subscription-key', 'abc'])).option).toBe('--');
    expect(aca([]).shards).toBe(2);
  });
});
