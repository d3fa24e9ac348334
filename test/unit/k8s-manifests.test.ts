import { PersistentVolumeClaim } from 'kubernetes-models/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { describe, expect, it } from 'vitest';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { resolveRenderK8sOptions } from '../../src/config/scale-options.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { renderK8s } from '../../src/shards/k8s-manifests.ts';

// The rendered objects, validated offline against the Kubernetes OpenAPI schemas
// (kubernetes-models), and read back the way each pod will read its flags.
const NOW = new Date('2026-11-30T12:00:00Z');
const render = (extra: string[] = []) =>
  renderK8s(
    resolveRenderK8sOptions(
      [
        'render',
        'k8s',
        '--shards',
        '4',
        '--image',
        'reg.example/streamlab:1',
        '--run-id',
        'ttft-eu',
        '--key-env',
        'AZURE_OPENAI_API_KEY,APIM_KEY',
        ...extra,
        '--',
        '--endpoint',
        'https://apim.example.net',
        '--subscription-key-env',
        'APIM_KEY',
        '--rate',
        '200',
        '--duration',
        '5m',
      ],
      NOW,
    ),
  );

describe('Kubernetes Indexed Job for a sharded bench', () => {
  it('renders objects that validate against the Kubernetes schemas', () => {
    const [claim, job, merge] = render().items;
    expect(() => new PersistentVolumeClaim(claim as never).validate()).not.toThrow();
    expect(() => new Job(job as never).validate()).not.toThrow();
    expect(() => new Job(merge as never).validate()).not.toThrow();
    // A broken object does fail validation (the check is real).
    expect(() =>
      new Job({ ...(job as object), spec: { ...(job as any).spec, completions: 'four' } } as never).validate(),
    ).toThrow();
  });

  it('one pod per shard, indexed, not retried, results on a shared volume, keys by reference only', () => {
    const job = render().items[1] as any;
    expect(job.spec).toMatchObject({
      completionMode: 'Indexed',
      completions: 4,
      parallelism: 4,
      backoffLimitPerIndex: 0,
    });
    const pod = job.spec.template.spec;
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    const container = pod.containers[0];
    expect(container.env).toEqual([
      {
        name: 'AZURE_OPENAI_API_KEY',
        valueFrom: { secretKeyRef: { name: 'streamlab-keys', key: 'AZURE_OPENAI_API_KEY' } },
      },
      { name: 'APIM_KEY', valueFrom: { secretKeyRef: { name: 'streamlab-keys', key: 'APIM_KEY' } } },
    ]);
    expect(JSON.stringify(render())).not.toMatch(/"value":/);
    expect((render().items[0] as any).spec.accessModes).toEqual(['ReadWriteMany']);
    // Each pod's flags resolve to its own shard, from the index Kubernetes sets.
    const [command, ...args] = container.args as string[];
    expect(command).toBe('bench');
    const shard2 = resolveBenchOptions(args, { JOB_COMPLETION_INDEX: '2' });
    expect(shard2).toMatchObject({ shard: { index: 2, count: 4 }, runId: 'ttft-eu', out: '/results' });
    expect(shard2.startAt?.toISOString()).toBe('2026-11-30T12:03:00.000Z');
  });

  it('refuses what cannot work, naming the flag', () => {
    const refused = (argv: string[], flag: string) => {
      try {
        resolveRenderK8sOptions(argv, NOW);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptionError);
        expect((error as Error).message).toContain(`"${flag}"`);
      }
    };
    refused(['render', 'k8s', '--image', 'x'], '--shards');
    refused(['render', 'k8s', '--shards', '2'], '--image');
    refused(['render', 'nomad', '--shards', '2', '--image', 'x'], 'ENGINE');
    refused(['render', 'k8s', '--shards', '2', '--image', 'x', '--run-id', 'Has_Caps'], '--run-id');
    refused(['render', 'k8s', '--shards', '2', '--image', 'x', '--', '--shard', '0/2'], '--shard');
  });
});
