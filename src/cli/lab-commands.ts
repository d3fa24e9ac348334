import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { parsePolicyForLint } from '../compliance/index.ts';
import { shownDefault } from '../config/help-defaults.ts';
import {
  AZURE_DEFAULTS,
  APIM_SKUS,
  CLEANUP_DEFAULTS,
  DEPLOY_DEFAULTS,
  LAB_KEY_ENV,
  MODEL_SKUS,
  resolveCleanupOptions,
  resolveDeployOptions,
  type AzureDeployFlags,
  type DeployOptions,
} from '../config/lab-options.ts';
// The Azure SDKs take about a second to load: only commands that reach Azure import them.
import type { ArmConnection, AzureDeployOutcome } from '../lab/azure-lab.ts';
const loadAzureLab = () => import('../lab/azure-lab.ts');
import { cleanupLocal, deployLocal, recoverUnreadableState, resolvePolicyFile } from '../lab/local-lab.ts';
import { readLabState, UnreadableStateError, type LabState } from '../lab/state.ts';
import { withInterrupt } from './interrupt.ts';
import { createTaskList } from './task-list.ts';

/** What the lab commands reach outside the process; tests replace them. */
export interface LabCommandDeps {
  connectAzure(subscriptionId: string): Promise<ArmConnection>;
  /** Asks before an Azure cleanup deletes anything (a TTY prompt by default). */
  confirm(plan: string[]): Promise<boolean>;
}

export const DEFAULT_LAB_DEPS: LabCommandDeps = {
  connectAzure: async (subscriptionId) => (await loadAzureLab()).defaultArmConnection(subscriptionId),
  confirm: confirmOnTerminal,
};

const D = DEPLOY_DEFAULTS;
const A = AZURE_DEFAULTS;
const d = shownDefault;

export const DEPLOY_USAGE = `Usage: npm run lab:deploy -- [options]

Starts the lab and records it in the state file that bench, lab:verify and lab:cleanup read.
  --target local              local: the Azure OpenAI mock and the APIM-like gateway as
                              background processes on free loopback ports ${d(D.target)}
  --policy streaming|buffered|FILE   gateway policy: infra/policies/<name>.xml or your own
                              APIM policy XML ${d(D.policy)}
  --state FILE                state file ${d(D.stateFile)}; written with mode 0600
  --seed N                    the mock's run seed ${d(D.seed)}
  --ttft-ms MS --itl-ms MS --output-tokens N   the mock's timing (default: per model)
  --edge nginx[:buffered]     an edge in front of the gateway (the path "edge"): Debian's nginx
                              as a typical ingress, streaming-safe, or buffered to show the failure
  --edge-url URL              an edge you already run (Application Gateway, Front Door, an
                              ingress) in front of the gateway; --edge-key-env NAME for its key
                              (default: the gateway's subscription key variable)
  --backends FILE             APIM backends (a JSON array of ARM backend resources: pools,
                              circuit breakers): one mock per backend without a url, and the
                              gateway routes them (labs/failover/backends.json is an example)

Running it again while the lab is up says so and changes nothing.

Azure (--target azure): API Management in front of Azure OpenAI, with the ARM SDKs.
Signs in with DefaultAzureCredential (az login, azd auth login, or AZURE_* variables).
  --subscription ID           subscription (default: AZURE_SUBSCRIPTION_ID)
  --location REGION           region for everything ${d(A.location)}
  --lab-id ID                 names the resources (default: random, sl + 7 characters)
  --model NAME                ${d(A.model)}
  --model-version V           ${d(A.modelVersion)}
  --model-sku SKU             ${MODEL_SKUS.join(', ')} ${d(A.modelSku)}
  --capacity K                deployment capacity, thousands of tokens per minute ${d(A.capacityK)}
  --apim-sku SKU              ${APIM_SKUS.join(', ')} ${d(A.apimSku)};
                              Consumption is refused for streaming unless --force-consumption
  --publisher-email ADDRESS   APIM's publisher address ${d(A.publisherEmail)}
  --local-auth                keep keys enabled on the Azure OpenAI account (default: keyless)
  --roles assign|manual       assign the data-plane roles (needs Role Based Access Control
                              Administrator, User Access Administrator or Owner), or make none
                              and print the az role assignment lines for someone who can
                              ${d(A.roles)}
  --what-if                   print the plan, preflight's verdicts and the estimated time;
                              create nothing (exit 0: a deploy would go; 1: why not)
  --policy streaming|buffered|FILE   the API policy ${d(D.policy)}
  --backends FILE             the same backends file: each backend without a url gets its own
                              Azure OpenAI account (the first is the lab's), and the backends,
                              pools and circuit breakers are created in APIM
Preflight checks credential, providers, the model (offered, not retired) and quota, the
APIM tier and Azure OpenAI in the region, names and soft-deleted services, then creates the
empty tagged resource group and reads your permissions on it, before any APIM service or
Azure OpenAI account exists. A failed deploy continues where it stopped when run again.`;

export const CLEANUP_USAGE = `Usage: npm run lab:cleanup -- [options]

Local lab: stops exactly the processes the lab recorded (checking each is still the one it
started), removes the state file and the lab's logs.
Azure lab: deletes the resource group only if its tag matches the recorded lab id, then
purges the soft-deleted API Management service and Azure OpenAI account, then removes the
state. Asks first on a terminal. A sharded run on Container Apps recorded in the same state
(npm run scale -- run aca --keep) is torn down first.
A second run does nothing.
  --state FILE                state file ${d(CLEANUP_DEFAULTS.stateFile)}
  --dry-run                   print what would be done; change nothing
  --yes                       do not ask for confirmation
  --keep-soft-deleted         Azure: do not purge (names stay reserved for 48 h)`;

/** Where everything is, for people (stdout). Keys are named, never printed. */
export function describeLab(state: LabState, stateFile: string): string {
  const processes = new Map((state.processes ?? []).map((p) => [p.role, p]));
  const line = (label: string, role: string, what: string): string => {
    const url = state.paths[label]?.baseUrl ?? '–';
    const p = processes.get(role);
    return `  ${label.padEnd(8)} ${url.padEnd(24)} ${what}${p ? ` (pid ${p.pid}, log ${p.logFile})` : ''}`;
  };
  return [
    `local lab up since ${state.createdAt ?? '?'}, policy ${state.policyFile ?? '?'}`,
    line('direct', 'mock', `Azure OpenAI mock; key: ${LAB_KEY_ENV.direct}`),
    line('gateway', 'gateway', `APIM stand-in; subscription key: ${LAB_KEY_ENV.gateway}`),
    ...(state.paths['edge']
      ? [
          line(
            'edge',
            'edge',
            `edge in front of the gateway${processes.has('edge') ? ' (Debian nginx, config in the lab folder)' : ''}; key: ${'envName' in state.paths['edge'].auth ? state.paths['edge'].auth.envName : '–'}`,
          ),
        ]
      : []),
    ...Object.keys(state.backends?.started ?? {}).map((name) =>
      line(
        `backend-${name}`,
        `mock:${name}`,
        `mock playing backend "${name}" of ${state.backends!.file}; faults: PUT /_mock/faults`,
      ),
    ),
    `  state    ${stateFile} (mode 0600; holds the keys)`,
    `next: npm run bench | npm run lab:verify | npm run lab:cleanup`,
  ].join('\n');
}

/** `streamlab deploy`: 0 deployed or already up, 2 bad usage, 1 failed, 130 interrupted. */
export async function deployCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  deps: LabCommandDeps = DEFAULT_LAB_DEPS,
): Promise<number> {
  const options = resolveDeployOptions(argv, env);
  if (options.help) {
    process.stdout.write(`${DEPLOY_USAGE}\n`);
    return 0;
  }
  if (options.azure !== undefined) return deployAzureCommand(options, options.azure, deps);
  return withInterrupt('stopping what was started', async (signal) => {
    const outcome = await deployLocal(
      {
        stateFile: options.stateFile,
        policy: options.policy,
        seed: options.seed,
        mockArgs: options.mockArgs,
        backends: options.backendsFile !== undefined ? { file: options.backendsFile } : undefined,
        edge: options.edge,
      },
      signal,
    );
    if (outcome.kind === 'already-up') {
      process.stdout.write(
        `A lab is already up; nothing changed (to change its policy: npm run lab:cleanup, then lab:deploy).\n${describeLab(outcome.state, options.stateFile)}\n`,
      );
      return 0;
    }
    if (outcome.staleNote) process.stderr.write(`${outcome.staleNote}\n`);
    if (outcome.ignored.length > 0)
      process.stderr.write(`gateway: not implemented locally, ignored: ${outcome.ignored.join('; ')}\n`);
    process.stdout.write(`${describeLab(outcome.state, options.stateFile)}\n`);
    return 0;
  });
}

/** For people: where the Azure lab is and how each path authenticates. Keys are named, never printed. */
export function describeAzureLab(state: LabState, stateFile: string): string {
  const azure = state.azure!;
  const auth = (label: string): string => {
    const a = state.paths[label]?.auth;
    if (a === undefined) return 'not ready';
    return a.kind === 'entra'
      ? 'Entra ID (your az login; role Cognitive Services OpenAI User)'
      : `${a.kind}: ${'envName' in a ? a.envName : ''}`;
  };
  return [
    `Azure lab ${azure.labId} in ${azure.location} (subscription ${azure.subscriptionId}), resource group ${azure.resourceGroup}`,
    `  direct   ${(state.paths['direct']?.baseUrl ?? '–').padEnd(48)} ${auth('direct')}`,
    `  gateway  ${(state.paths['gateway']?.baseUrl ?? '–').padEnd(48)} ${auth('gateway')}`,
    ...(state.paths['edge'] ? [`  edge     ${state.paths['edge'].baseUrl.padEnd(48)} ${auth('edge')}`] : []),
    `  model    ${azure.model.deployment}: ${azure.model.name} ${azure.model.version}, ${azure.model.sku} ${azure.model.capacityK}K TPM; APIM ${azure.apimSku}`,
    `  state    ${stateFile} (mode 0600; holds the subscription key)`,
    `Role assignments can take up to 10 minutes to apply: early 401s from either path are expected.`,
    `next: npm run bench | npm run lab:verify | npm run lab:cleanup`,
  ].join('\n');
}

function readAzurePolicy(policy: string): { policyFile: string; policyXml: string } {
  const policyFile = resolvePolicyFile(policy);
  const policyXml = readFileSync(policyFile, 'utf8');
  parsePolicyForLint(policyXml, policyFile);
  return { policyFile, policyXml };
}

async function deployAzureCommand(
  options: DeployOptions,
  flags: AzureDeployFlags,
  deps: LabCommandDeps,
): Promise<number> {
  const { policyFile, policyXml } = readAzurePolicy(options.policy);
  if (flags.apimSku === 'Consumption')
    process.stderr.write(
      'warning: Consumption tier forced; streams longer than 30 s will be cut and SSE is not supported there.\n',
    );
  if (flags.whatIf) return whatIfCommand(options, flags, deps);
  const { deployAzureLab, pendingRoleLines } = await loadAzureLab();
  const tasks = createTaskList();
  const startedAt = performance.now();
  let outcome: AzureDeployOutcome;
  let interrupted = false;
  try {
    outcome = await withInterrupt('finishing the steps under way; run lab:deploy again to continue', async (signal) => {
      const result = await deployAzureLab({
        stateFile: options.stateFile,
        flags,
        policyFile,
        policyXml,
        connect: deps.connectAzure,
        signal,
        onEvent: tasks.onEvent,
        onNote: tasks.onNote,
        edge: options.edge?.kind === 'url' ? { url: options.edge.url, keyEnv: options.edge.keyEnv } : undefined,
      });
      interrupted = signal.aborted;
      return result;
    });
  } finally {
    tasks.stop();
  }
  const took = `${Math.round((performance.now() - startedAt) / 1000)} s`;
  if (outcome.kind === 'already-up') {
    process.stdout.write(
      `The Azure lab is already deployed; nothing changed.\n${describeAzureLab(outcome.state, options.stateFile)}\n`,
    );
    return 0;
  }
  if (outcome.kind === 'incomplete') {
    for (const failure of outcome.failures) process.stderr.write(`failed: ${failure.id}: ${failure.message}\n`);
    if (outcome.notRun.length > 0) process.stderr.write(`not run: ${outcome.notRun.join(', ')}\n`);
    process.stderr.write(
      `The deploy stopped after ${took}; what finished is recorded in ${options.stateFile}. Run npm run lab:deploy -- --target azure again to continue, or npm run lab:cleanup to remove it.\n`,
    );
    return interrupted ? 130 : 1;
  }
  process.stdout.write(
    `${outcome.resumed ? 'Continued and finished' : 'Deployed'} in ${took}.\n${describeAzureLab(outcome.state, options.stateFile)}\n`,
  );
  const roleLines = pendingRoleLines(outcome.state.azure!, undefined);
  if (roleLines.length > 0) {
    process.stdout.write(
      `\nDeployed with --roles manual: no role was assigned. Until someone with Role Based Access Control Administrator, User Access Administrator or Owner on ${outcome.state.azure!.resourceGroup} runs these, the gateway${outcome.state.azure!.localAuth ? '' : ' and the direct path'} get 401 from Azure OpenAI:\n${roleLines.map((l) => `  ${l}`).join('\n')}\n`,
    );
  }
  return 0;
}

/** `--what-if`: the plan and preflight's verdicts; exit 0 when a deploy would go, 1 with the reasons when not. */
async function whatIfCommand(options: DeployOptions, flags: AzureDeployFlags, deps: LabCommandDeps): Promise<number> {
  const { whatIfAzureLab } = await loadAzureLab();
  const result = await withInterrupt('stopping the checks', (signal) =>
    whatIfAzureLab({ stateFile: options.stateFile, flags, connect: deps.connectAzure, signal }),
  );
  const r = result.record;
  const width = Math.max(...result.plan.map((p) => p.title.length));
  const lines = [
    `What-if: nothing was created. Lab ${r.labId} in ${r.location} (subscription ${r.subscriptionId}), resource group ${r.resourceGroup}; APIM ${r.apimSku}, model ${r.model.name} ${r.model.version} ${r.model.sku} ${r.model.capacityK}K TPM.`,
    '',
    'Plan:',
    ...result.plan.map((p) => `  ${p.title.padEnd(width)}  ${p.estimate}`),
    `Estimated time: ${result.estimate}.`,
    '',
    'Preflight:',
    ...result.verdicts.map(
      (v) =>
        `  ${v.problem !== undefined ? 'FAIL' : 'ok  '}  ${v.check}${v.problem !== undefined ? `: ${v.problem}` : v.note !== undefined ? `: ${v.note}` : ''}`,
    ),
    '',
    result.wouldGo
      ? 'A deploy would go ahead: npm run lab:deploy -- --target azure (with the same flags, without --what-if).'
      : `A deploy would be refused (${result.verdicts.filter((v) => v.problem !== undefined).length} problem(s) above), before anything billable is created.`,
  ];
  (result.wouldGo ? process.stdout : process.stderr).write(`${lines.join('\n')}\n`);
  return result.wouldGo ? 0 : 1;
}

/** Asks on a terminal; elsewhere (CI, a pipe) there is nobody to ask, so it goes ahead. */
async function confirmOnTerminal(plan: string[]): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return true;
  process.stderr.write(`lab:cleanup will:\n${plan.map((p) => `  - ${p}`).join('\n')}\n`);
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await prompt.question('Go ahead? [y/N] ')).trim());
  } finally {
    prompt.close();
  }
}

/** lab:cleanup on a state file it cannot read: stops what the file still names, moves it aside, says what is left and how to remove it. */
async function recoverCommand(stateFile: string, reason: string, dryRun: boolean): Promise<number> {
  if (dryRun) {
    process.stdout.write(
      `Dry run; nothing changed. ${stateFile} cannot be read (${reason}): lab:cleanup would stop the processes it still names (each only if it is still the process the lab started) and move the file aside.\n`,
    );
    return 0;
  }
  const outcome = await recoverUnreadableState(stateFile, reason);
  const lines = [
    `Recovered from an unreadable lab state (${outcome.reason}): ${outcome.stopped.length > 0 ? `stopped ${outcome.stopped.join(', ')}` : 'no process it names is still running'}; moved it to ${outcome.movedTo}.`,
    ...outcome.azureGroups.map(
      (group) =>
        `It names Azure resource group ${group}, left alone (only a readable state can be checked against the group's tag). If it is this lab's: az group show --name ${group} --query tags, then az group delete --name ${group}, and purge its soft-deleted APIM and Azure OpenAI (az apim deletedservice list, az cognitiveservices account list-deleted).`,
    ),
    'npm run lab:deploy now starts a new lab.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}

/** `streamlab cleanup`: 0 cleaned or nothing to do, 1 refused or failed. */
export async function cleanupCommand(
  argv: readonly string[],
  deps: LabCommandDeps = DEFAULT_LAB_DEPS,
): Promise<number> {
  const options = resolveCleanupOptions(argv);
  if (options.help) {
    process.stdout.write(`${CLEANUP_USAGE}\n`);
    return 0;
  }
  let state: LabState | undefined;
  try {
    state = readLabState(options.stateFile);
  } catch (error) {
    if (!(error instanceof UnreadableStateError)) throw error;
    return recoverCommand(options.stateFile, error.reason, options.dryRun);
  }
  if (state?.scale !== undefined && !options.dryRun) {
    // A sharded run on Container Apps recorded in the same state goes first (tag-checked, as the lab).
    const { cleanupAca } = await import('../lab/aca-run.ts');
    const outcome = await withInterrupt(
      'stopping after the operation under way; run lab:cleanup again to finish',
      (signal) =>
        cleanupAca(options.stateFile, deps.connectAzure, (line) => process.stderr.write(`  ${line}\n`), signal),
    );
    if (outcome.kind === 'cleaned') process.stdout.write(`Cleaned up the scale run: ${outcome.line}.\n`);
    state = readLabState(options.stateFile);
    if (state === undefined) return 0;
  }
  if (state?.azure !== undefined) {
    const record = state.azure;
    const { cleanupAzureLab } = await loadAzureLab();
    const outcome = await withInterrupt(
      'stopping after the operation under way; run lab:cleanup again to finish',
      (signal) =>
        cleanupAzureLab(record, options, {
          connect: deps.connectAzure,
          confirm: deps.confirm,
          onAction: (line) => process.stderr.write(`  ${line}\n`),
          signal,
        }),
    );
    if (outcome.kind === 'dry-run') {
      process.stdout.write(
        `Dry run; nothing changed. lab:cleanup would:\n${outcome.plan.map((p) => `  - ${p}`).join('\n')}\n`,
      );
      return 0;
    }
    process.stdout.write(
      `Cleaned up Azure lab ${record.labId}:\n${outcome.actions.map((a) => `  - ${a}`).join('\n')}\nremoved ${options.stateFile}.\n`,
    );
    return 0;
  }
  if (options.dryRun) {
    if (state === undefined) process.stdout.write(`Dry run: no lab state at ${options.stateFile}; nothing to do.\n`);
    else
      process.stdout.write(
        `Dry run; nothing changed. lab:cleanup would stop ${(state.processes ?? []).map((p) => `${p.role} (pid ${p.pid})`).join(', ') || 'no process'} and remove ${options.stateFile}.\n`,
      );
    return 0;
  }
  const outcome = await cleanupLocal(options.stateFile);
  if (outcome.kind === 'nothing') {
    process.stdout.write(`Nothing to clean up: no lab state at ${options.stateFile}.\n`);
    return 0;
  }
  for (const note of outcome.notOurs) process.stderr.write(`not signalled: ${note}\n`);
  process.stdout.write(
    `Cleaned up: ${outcome.stopped.length > 0 ? `stopped ${outcome.stopped.join(', ')}` : 'no process was running'}; removed ${options.stateFile}.\n`,
  );
  return 0;
}
