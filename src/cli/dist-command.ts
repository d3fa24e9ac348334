import { writeFileAtomic } from '../files.ts';
import {
  distActionOf,
  resolveCleanupAcaOptions,
  resolveRenderK8sOptions,
  resolveRunAcaOptions,
  RUN_ACA_DEFAULTS,
} from '../config/dist-options.ts';
import { summaryToTable } from '../report/summary-markdown.ts';
import { renderK8s } from '../shards/k8s-manifests.ts';
import { withInterrupt } from './interrupt.ts';
import { DEFAULT_LAB_DEPS, type LabCommandDeps } from './lab-commands.ts';

const loadAcaRun = () => import('../lab/aca-run.ts');

export const DIST_USAGE = `Usage: npm run dist -- render k8s | run aca | cleanup aca [options] -- <bench flags>

npm run dist -- render k8s --shards N --image IMAGE [options] -- <bench flags>

Renders a sharded bench as Kubernetes objects (JSON that kubectl apply -f takes): a
ReadWriteMany volume claim for the results, an Indexed Job with one pod per shard (the index
from JOB_COMPLETION_INDEX, a common --start-at, a failed shard not retried), and a suspended
merge Job to resume once the shards are done. Keys come from a Secret, by reference only.
  --shards N                  pods, one shard each
  --image IMAGE               the image built from the Dockerfile
  --namespace NS              (default default)
  --run-id ID                 names the objects and the results folder (default streamlab-<time>)
  --start-at TIME             when every shard starts, read as the bench reads it: ISO 8601 or
                              epoch milliseconds, in the future (default: 3 minutes after rendering)
  --secret NAME               the Secret holding the keys (default streamlab-keys)
  --key-env A,B               environment variables each pod reads from the Secret, by the same
                              key name (default AZURE_OPENAI_API_KEY); the variables the bench flags
                              name with --api-key-env / --subscription-key-env are always added
                              (a named --api-key-env replaces the default)
  --storage-class NAME        (default azurefile-csi, ReadWriteMany on AKS)  --storage 5Gi
  --out FILE                  write the manifests there (default: stdout)

npm run dist -- run aca --shards N --image IMAGE [options] -- <bench flags>

Runs the shards as Azure Container Apps job executions, end to end through ARM (the lab's
credential: az login, azd, or AZURE_* variables): a tagged resource group; per region a
storage account with an Azure Files share for the results, an environment that mounts it and
a manual-trigger job; one execution per shard with its SHARD_INDEX and a common start; then
it waits, downloads OUT/<run-id>/shard-<i>/, merges, and deletes what it created. A failed
shard keeps everything: the same command re-runs only the failed shards. Recorded in the
state file under "dist".
  --shards N                  executions, one shard each
  --image IMAGE               the image built from the Dockerfile (in a registry ACA can pull)
  --regions A,B               one environment per region; shard i runs in region i mod R
                              (default eastus2; --location is the same for one region)
  --subscription ID           (default AZURE_SUBSCRIPTION_ID)
  --key-env A,B               environment variables whose values become the jobs' Container
                              Apps secrets, read by every shard under the same name
                              (default AZURE_OPENAI_API_KEY); never arguments, never printed; the
                              variables named by --api-key-env / --subscription-key-env are added
  --run-id ID                 the results folder (default streamlab-<time>)
  --start-delay 90s           from starting the executions to the common start (default ${RUN_ACA_DEFAULTS.startDelayMs / 1000}s)
  --cpu 1 --memory 2Gi        per execution (Consumption sizes)
  --replica-timeout S         seconds before ACA stops an execution (default ${RUN_ACA_DEFAULTS.replicaTimeoutS})
  --out DIR                   where OUT/<run-id>/ is merged (default ${RUN_ACA_DEFAULTS.out})
  --state FILE                the lab state file (default .lab/state.json)
  --registry-username USER    pull a private image (required for *.azurecr.io) as USER; the
                              password is read from ACA_REGISTRY_PASSWORD (--registry-password-env
                              NAME for another variable) and held as a job secret
  --keep                      leave the environments, jobs and storage (cleanup aca later)

npm run dist -- cleanup aca [--state FILE]
  Deletes what the recorded run created (its resource group, only if still tagged with the
  run's id); a second run does nothing.

Everything after -- is passed to npm run bench on every shard (not --shard, --run-id, --start-at, --out).
See docs/scale-out.md.`;

/** A word for a printed POSIX shell command: as is when it is only [A-Za-z0-9_./-] (and not empty), else in single quotes (a quote inside as '\''). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `streamlab dist render k8s | run aca | cleanup aca …`. */
/** What `dist` reaches Azure with, and how often it polls the executions (tests inject a short interval instead of reading one from the environment). */
export type DistDeps = Pick<LabCommandDeps, 'connectAzure'> & { acaPollMs?: number };

export async function distCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  deps: DistDeps = DEFAULT_LAB_DEPS,
): Promise<number> {
  const action = distActionOf(argv);
  if (action === 'help') {
    process.stdout.write(`${DIST_USAGE}\n`);
    return 0;
  }
  if (action === 'run-aca') return runAcaCommand(argv.slice(2), env, deps);
  if (action === 'cleanup-aca') return cleanupAcaCommand(argv.slice(2), deps);
  const options = resolveRenderK8sOptions(argv, new Date(), env);
  if (options.help) {
    process.stdout.write(`${DIST_USAGE}\n`);
    return 0;
  }
  const text = `${JSON.stringify(renderK8s(options), null, 2)}\n`;
  if (options.out) writeFileAtomic(options.out, text);
  else process.stdout.write(text);
  const file = shellQuote(options.out ?? 'streamlab.json');
  const ns = shellQuote(options.namespace);
  process.stderr.write(
    [
      `rendered ${options.shards} shards of run ${options.runId}, starting at ${options.startAt.toISOString()}${options.out ? ` into ${file}` : ''}. Next:`,
      `  kubectl -n ${ns} create secret generic ${shellQuote(options.secret)} ${options.keyEnv.map((k) => `--from-literal=${k}="$${k}"`).join(' ')}`,
      `  kubectl apply -f ${file}`,
      `  kubectl -n ${ns} wait --for=condition=complete --timeout=1h ${shellQuote(`job/${options.runId}`)}`,
      `  kubectl -n ${ns} patch job ${shellQuote(`${options.runId}-merge`)} -p '{"spec":{"suspend":false}}'`,
      '',
    ].join('\n'),
  );
  return 0;
}

async function runAcaCommand(argv: readonly string[], env: NodeJS.ProcessEnv, deps: DistDeps): Promise<number> {
  const options = resolveRunAcaOptions(argv, env);
  if (options.help) {
    process.stdout.write(`${DIST_USAGE}\n`);
    return 0;
  }
  const { runAca } = await loadAcaRun();
  const outcome = await withInterrupt(
    'the executions keep running on Azure; run the same command again to keep waiting, or npm run dist -- cleanup aca',
    (signal) =>
      runAca({
        options,
        env,
        connect: deps.connectAzure,
        signal,
        onLine: (line) => process.stderr.write(`${line}\n`),
        pollMs: deps.acaPollMs ?? 10_000,
      }),
  );
  if (outcome.kind === 'interrupted') return 130;
  if (outcome.kind === 'failed-shards') {
    for (const f of outcome.failed) process.stderr.write(`shard ${f.shard}: execution ${f.execution} ${f.status}\n`);
    process.stderr.write(
      `${outcome.failed.length} shard(s) did not succeed; what they wrote is in ${outcome.dir}/. Everything on Azure is kept: run the same command again to re-run only those shards and merge, or npm run dist -- cleanup aca to tear it down.\n`,
    );
    return 1;
  }
  process.stdout.write(`${summaryToTable(outcome.summary)}\n`);
  process.stderr.write(
    `merged ${outcome.shards} shards into ${outcome.dir}/ (samples.jsonl, summary.json|csv|md, report.html)${outcome.tornDown ? '; everything the run created on Azure was deleted' : '; kept on Azure (--keep): npm run dist -- cleanup aca'}\n`,
  );
  return 0;
}

async function cleanupAcaCommand(argv: readonly string[], deps: Pick<LabCommandDeps, 'connectAzure'>): Promise<number> {
  const options = resolveCleanupAcaOptions(argv);
  if (options.help) {
    process.stdout.write(`${DIST_USAGE}\n`);
    return 0;
  }
  const { cleanupAca } = await loadAcaRun();
  const outcome = await withInterrupt(
    'stopping after the operation under way; run dist cleanup aca again to finish',
    (signal) => cleanupAca(options.stateFile, deps.connectAzure, (line) => process.stderr.write(`${line}\n`), signal),
  );
  process.stdout.write(
    outcome.kind === 'nothing'
      ? `Nothing to clean up: ${options.stateFile} records no dist run.\n`
      : `Cleaned up: ${outcome.line}; removed the run from ${options.stateFile}.\n`,
  );
  return 0;
}
