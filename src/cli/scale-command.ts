import { writeFileAtomic } from '../files.ts';
import { durationText, shownDefault } from '../config/help-defaults.ts';
import {
  CLEANUP_ACA_DEFAULTS,
  RENDER_K8S_DEFAULTS,
  resolveCleanupAcaOptions,
  resolveRenderK8sOptions,
  resolveRunAcaOptions,
  RUN_ACA_DEFAULTS,
  RUN_ID_PREFIX,
  scaleActionOf,
} from '../config/scale-options.ts';
import { summaryToTable } from '../report/summary-markdown.ts';
import { renderK8s } from '../shards/k8s-manifests.ts';
import { withInterrupt } from './interrupt.ts';
import { DEFAULT_LAB_DEPS, type LabCommandDeps } from './lab-commands.ts';

const loadAcaRun = () => import('../lab/aca-run.ts');

const K8S = RENDER_K8S_DEFAULTS;
const ACA = RUN_ACA_DEFAULTS;

export const RENDER_K8S_USAGE = `npm run scale -- render k8s --shards N --image IMAGE [options] -- <bench flags>

Renders a sharded bench as Kubernetes objects (JSON that kubectl apply -f takes): a
ReadWriteMany volume claim for the results, an Indexed Job with one pod per shard (the index
from JOB_COMPLETION_INDEX, a common --start-at, a failed shard not retried), and a suspended
merge Job to resume once the shards are done. Keys come from a Secret, by reference only.
  --shards N                  pods, one shard each
  --image IMAGE               the image built from the Dockerfile
  --namespace NS              ${shownDefault(K8S.namespace)}
  --run-id ID                 names the objects and the results folder ${shownDefault(`${RUN_ID_PREFIX}<time>`)}
  --start-at TIME             when every shard starts, read as the bench reads it: ISO 8601 or
                              epoch milliseconds, in the future ${shownDefault(`${durationText(K8S.startDelayMs)} after rendering`)}
  --secret NAME               the Secret holding the keys ${shownDefault(K8S.secret)}
  --key-env A,B               environment variables each pod reads from the Secret, by the same
                              key name ${shownDefault(K8S.keyEnv)}; the variables the bench flags
                              name with --api-key-env / --subscription-key-env are always added
                              (a named --api-key-env is used instead of ${K8S.keyEnv.join(',')})
  --storage-class NAME        a ReadWriteMany class on AKS ${shownDefault(K8S.storageClass)}
  --storage SIZE              the results volume ${shownDefault(K8S.storage)}
  --out FILE                  write the manifests there (default: stdout)`;

export const RUN_ACA_USAGE = `npm run scale -- run aca --shards N --image IMAGE [options] -- <bench flags>

Runs the shards as Azure Container Apps job executions, end to end through ARM (the lab's
credential: az login, azd, or AZURE_* variables): a tagged resource group; per region a
storage account with an Azure Files share for the results, an environment that mounts it and
a manual-trigger job; one execution per shard with its SHARD_INDEX and a common start; then
it waits, downloads OUT/<run-id>/shard-<i>/, merges, and deletes what it created. A failed
shard keeps everything: the same command re-runs only the failed shards. Recorded in the
state file under "scale".
  --shards N                  executions, one shard each
  --image IMAGE               the image built from the Dockerfile (in a registry ACA can pull)
  --regions A,B               one environment per region; shard i runs in region i mod R
                              ${shownDefault(ACA.regions)}; --location is the same for one region
  --subscription ID           (default: AZURE_SUBSCRIPTION_ID)
  --key-env A,B               environment variables whose values become the jobs' Container
                              Apps secrets, read by every shard under the same name
                              ${shownDefault(ACA.keyEnv)}; never arguments, never printed; the
                              variables named by --api-key-env / --subscription-key-env are added
  --run-id ID                 the results folder ${shownDefault(`${RUN_ID_PREFIX}<time>`)}
  --start-delay D             from starting the executions to the common start ${shownDefault(durationText(ACA.startDelayMs))}
  --cpu N                     per execution, a Consumption size ${shownDefault(ACA.cpu)}
  --memory SIZE               per execution ${shownDefault(ACA.memory)}
  --replica-timeout S         seconds before ACA stops an execution ${shownDefault(ACA.replicaTimeoutS)}
  --out DIR                   where OUT/<run-id>/ is merged ${shownDefault(ACA.out)}
  --state FILE                the lab state file ${shownDefault(ACA.stateFile)}
  --registry-username USER    pull a private image (required for *.azurecr.io) as USER; the
                              password is held as a job secret
  --registry-password-env NAME   the variable holding that password ${shownDefault(ACA.registryPasswordEnv)}
  --keep                      leave the environments, jobs and storage (cleanup aca later)`;

export const CLEANUP_ACA_USAGE = `npm run scale -- cleanup aca [--state FILE]
  Deletes what the recorded run created (its resource group, only if still tagged with the
  run's id); a second run does nothing.
  --state FILE                the lab state file ${shownDefault(CLEANUP_ACA_DEFAULTS.stateFile)}`;

export const SCALE_USAGE = `Usage: npm run scale -- render k8s | run aca | cleanup aca [options] -- <bench flags>

${RENDER_K8S_USAGE}

${RUN_ACA_USAGE}

${CLEANUP_ACA_USAGE}

Everything after -- is passed to npm run bench on every shard (not --shard, --run-id, --start-at, --out).
The command was called dist until this release: npm run dist still runs it, with a notice.
See docs/scale-out.md.`;

/** The one line the old name prints on stderr before running the command (for one release). */
export const DIST_DEPRECATION =
  'note: "dist" is now "scale" (npm run scale -- …); the old name still works in this release only.';

/** A word for a printed POSIX shell command: as is when it is only [A-Za-z0-9_./-] (and not empty), else in single quotes (a quote inside as '\''). */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What `scale` reaches Azure with, and how often it polls the executions (tests inject a short interval instead of reading one from the environment). */
export type ScaleDeps = Pick<LabCommandDeps, 'connectAzure'> & { acaPollMs?: number };

/** `streamlab scale render k8s | run aca | cleanup aca …`. */
export async function scaleCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  deps: ScaleDeps = DEFAULT_LAB_DEPS,
): Promise<number> {
  const action = scaleActionOf(argv);
  if (action === 'help') {
    process.stdout.write(`${SCALE_USAGE}\n`);
    return 0;
  }
  if (action === 'run-aca') return runAcaCommand(argv.slice(2), env, deps);
  if (action === 'cleanup-aca') return cleanupAcaCommand(argv.slice(2), deps);
  const options = resolveRenderK8sOptions(argv, new Date(), env);
  if (options.help) {
    process.stdout.write(`${SCALE_USAGE}\n`);
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

async function runAcaCommand(argv: readonly string[], env: NodeJS.ProcessEnv, deps: ScaleDeps): Promise<number> {
  const options = resolveRunAcaOptions(argv, env);
  if (options.help) {
    process.stdout.write(`${SCALE_USAGE}\n`);
    return 0;
  }
  const { runAca } = await loadAcaRun();
  const outcome = await withInterrupt(
    'the executions keep running on Azure; run the same command again to keep waiting, or npm run scale -- cleanup aca',
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
      `${outcome.failed.length} shard(s) did not succeed; what they wrote is in ${outcome.dir}/. Everything on Azure is kept: run the same command again to re-run only those shards and merge, or npm run scale -- cleanup aca to tear it down.\n`,
    );
    return 1;
  }
  process.stdout.write(`${summaryToTable(outcome.summary)}\n`);
  process.stderr.write(
    `merged ${outcome.shards} shards into ${outcome.dir}/ (samples.jsonl, summary.json|csv|md, report.html)${outcome.tornDown ? '; everything the run created on Azure was deleted' : '; kept on Azure (--keep): npm run scale -- cleanup aca'}\n`,
  );
  return 0;
}

async function cleanupAcaCommand(argv: readonly string[], deps: Pick<LabCommandDeps, 'connectAzure'>): Promise<number> {
  const options = resolveCleanupAcaOptions(argv);
  if (options.help) {
    process.stdout.write(`${SCALE_USAGE}\n`);
    return 0;
  }
  const { cleanupAca } = await loadAcaRun();
  const outcome = await withInterrupt(
    'stopping after the operation under way; run scale cleanup aca again to finish',
    (signal) => cleanupAca(options.stateFile, deps.connectAzure, (line) => process.stderr.write(`${line}\n`), signal),
  );
  process.stdout.write(
    outcome.kind === 'nothing'
      ? `Nothing to clean up: ${options.stateFile} records no scale run.\n`
      : `Cleaned up: ${outcome.line}; removed the run from ${options.stateFile}.\n`,
  );
  return 0;
}
