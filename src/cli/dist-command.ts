import { writeFileSync } from 'node:fs';
import { resolveRenderK8sOptions } from '../config/dist-options.ts';
import { renderK8s } from '../shards/k8s-manifests.ts';

export const DIST_USAGE = `Usage: npm run dist -- render k8s --shards N --image IMAGE [options] -- <bench flags>

Renders a sharded bench as Kubernetes objects (JSON that kubectl apply -f takes): a
ReadWriteMany volume claim for the results, an Indexed Job with one pod per shard (the index
from JOB_COMPLETION_INDEX, a common --start-at, a failed shard not retried), and a suspended
merge Job to resume once the shards are done. Keys come from a Secret, by reference only.
  --shards N                  pods, one shard each
  --image IMAGE               the image built from the Dockerfile
  --namespace NS              (default default)
  --run-id ID                 names the objects and the results folder (default streamlab-<time>)
  --start-at TIME             when every shard starts (default: 3 minutes after rendering)
  --secret NAME               the Secret holding the keys (default streamlab-keys)
  --key-env A,B               environment variables each pod reads from the Secret, by the same
                              key name (default AZURE_OPENAI_API_KEY)
  --storage-class NAME        (default azurefile-csi, ReadWriteMany on AKS)  --storage 5Gi
  --out FILE                  write the manifests there (default: stdout)
Everything after -- is passed to npm run bench on every shard (not --shard, --run-id, --start-at, --out).
See docs/scale-out.md.`;

/** `streamlab dist render k8s …`. */
export async function distCommand(argv: readonly string[]): Promise<number> {
  const options = resolveRenderK8sOptions(argv);
  if (options.help) {
    process.stdout.write(`${DIST_USAGE}\n`);
    return 0;
  }
  const text = `${JSON.stringify(renderK8s(options), null, 2)}\n`;
  if (options.out) writeFileSync(options.out, text);
  else process.stdout.write(text);
  const file = options.out ?? 'streamlab.json';
  process.stderr.write(
    [
      `rendered ${options.shards} shards of run ${options.runId}, starting at ${options.startAt.toISOString()}${options.out ? ` into ${options.out}` : ''}. Next:`,
      `  kubectl -n ${options.namespace} create secret generic ${options.secret} ${options.keyEnv.map((k) => `--from-literal=${k}="$${k}"`).join(' ')}`,
      `  kubectl apply -f ${file}`,
      `  kubectl -n ${options.namespace} wait --for=condition=complete --timeout=1h job/${options.runId}`,
      `  kubectl -n ${options.namespace} patch job ${options.runId}-merge -p '{"spec":{"suspend":false}}'`,
      '',
    ].join('\n'),
  );
  return 0;
}
