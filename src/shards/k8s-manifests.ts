import type { RenderK8sOptions } from '../config/scale-options.ts';

/** Where the shared volume is mounted in every pod; shards write RESULTS/<run-id>/shard-<i>/. */
export const RESULTS_DIR = '/results';

/**
 * A sharded bench as Kubernetes objects (plain objects, so they serialise as JSON that
 * `kubectl apply -f` takes; tests validate them with a typed Kubernetes model library):
 * - a ReadWriteMany PersistentVolumeClaim the shards write into (Azure Files by default);
 * - an Indexed Job: `completions = parallelism = shards`, one pod per shard, the index in
 *   JOB_COMPLETION_INDEX (read by `--shards N`), `backoffLimitPerIndex: 0` (a failed shard is
 *   not silently re-run: the merge names it), `restartPolicy: Never`, a common `--start-at`;
 * - a merge Job to run once the first completes (`npm run merge` over the volume).
 * Keys reach the pods as Secret references, never as values.
 */
export function renderK8s(options: RenderK8sOptions): {
  apiVersion: 'v1';
  kind: 'List';
  items: Array<Record<string, unknown>>;
} {
  const name = options.runId;
  const labels = { 'app.kubernetes.io/name': 'streamlab', 'streamlab/run-id': name };
  const volume = { name: 'results', persistentVolumeClaim: { claimName: `${name}-results` } };
  const container = (containerName: string, args: string[], env: Array<Record<string, unknown>>) => ({
    name: containerName,
    image: options.image,
    args,
    env,
    volumeMounts: [{ name: 'results', mountPath: RESULTS_DIR }],
    resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilities: { drop: ['ALL'] },
    },
  });
  const podSpec = (containers: Array<Record<string, unknown>>) => ({
    restartPolicy: 'Never',
    securityContext: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 },
    volumes: [volume],
    containers,
  });
  const keys = options.keyEnv.map((envName) => ({
    name: envName,
    valueFrom: { secretKeyRef: { name: options.secret, key: envName } },
  }));
  const benchArgs = [
    'bench',
    ...options.benchArgs,
    '--shards',
    String(options.shards),
    '--run-id',
    name,
    '--start-at',
    options.startAt.toISOString(),
    '--out',
    RESULTS_DIR,
  ];
  return {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: `${name}-results`, namespace: options.namespace, labels },
        spec: {
          accessModes: ['ReadWriteMany'],
          storageClassName: options.storageClass,
          resources: { requests: { storage: options.storage } },
        },
      },
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name, namespace: options.namespace, labels },
        spec: {
          completionMode: 'Indexed',
          completions: options.shards,
          parallelism: options.shards,
          backoffLimitPerIndex: 0,
          maxFailedIndexes: options.shards,
          template: { metadata: { labels }, spec: podSpec([container('shard', benchArgs, keys)]) },
        },
      },
      {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name: `${name}-merge`,
          namespace: options.namespace,
          labels,
          annotations: {
            'streamlab/run-after': `job/${name} complete: kubectl wait --for=condition=complete job/${name}`,
          },
        },
        spec: {
          completions: 1,
          parallelism: 1,
          backoffLimit: 0,
          suspend: true,
          template: {
            metadata: { labels },
            spec: podSpec([container('merge', ['merge', `${RESULTS_DIR}/${name}`], [])]),
          },
        },
      },
    ],
  };
}
