import { TARGET_DEFAULTS } from '../config/target-flags.ts';
import { LAB_KEY_ENV, type AzureDeployFlags, type CleanupOptions } from '../config/lab-options.ts';
import { LabError } from '../errors.ts';
import type { ArmConnection } from '../../infra/arm-context.ts';
import { applyApiPolicy } from '../../infra/apply-policy.ts';
import { describeArmFailure } from '../../infra/arm-errors.ts';
import { planAzureLab, type AzureLabRecord } from '../../infra/azure-plan.ts';
import { CleanupRefusedError, cleanupAzure, planAzureCleanup } from '../../infra/cleanup.ts';
import { deployAzure, isDeployComplete } from '../../infra/deploy.ts';
import { readDeployedConfig, type DeployedConfig } from '../../infra/deployed-config.ts';
import { PreflightError } from '../../infra/preflight.ts';
import { manualRoleLines } from '../../infra/permissions.ts';
import { whatIfAzure, type WhatIf } from '../../infra/what-if.ts';
import type { StepEvent } from '../../infra/step-runner.ts';
import { readLabState, removeLabState, writeLabState, type LabPath, type LabState } from './state.ts';

export type { ArmConnection, StepEvent, DeployedConfig, WhatIf };
export { planAzureCleanup };

/** The real connection: DefaultAzureCredential (az login, azd, environment, managed identity). */
export async function defaultArmConnection(subscriptionId: string): Promise<ArmConnection> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  return { credential: new DefaultAzureCredential(), subscriptionId };
}

export interface AzureDeployInput {
  stateFile: string;
  flags: AzureDeployFlags;
  policyFile: string;
  policyXml: string;
  connect(subscriptionId: string): Promise<ArmConnection>;
  signal?: AbortSignal;
  onEvent(event: StepEvent): void;
  onNote(note: string): void;
  /** `--edge-url`: an edge the user runs in front of APIM, recorded as the outermost path. */
  edge?: { url: string; keyEnv: string | undefined } | undefined;
}

export type AzureDeployOutcome =
  | { kind: 'already-up'; state: LabState }
  | { kind: 'deployed'; state: LabState; resumed: boolean }
  | { kind: 'incomplete'; state: LabState; failures: Array<{ id: string; message: string }>; notRun: string[] };

/** The bench's and the verifier's view of an Azure lab: the paths that exist so far. */
export function azureLabState(
  record: AzureLabRecord,
  secrets: Record<string, string>,
  policyFile: string,
  createdAt: string,
): LabState {
  const paths: Record<string, LabPath> = {};
  const endpoint = record.steps['openai-account']?.outputs?.['endpoint'];
  if (endpoint !== undefined && record.steps['model-deployment'] !== undefined) {
    paths['direct'] = {
      baseUrl: endpoint.replace(/\/+$/, ''),
      apiStyle: 'azure',
      auth: record.localAuth ? { kind: 'api-key', envName: LAB_KEY_ENV.direct } : { kind: 'entra' },
    };
  }
  const gatewayUrl = record.steps['apim-service']?.outputs?.['gatewayUrl'];
  if (gatewayUrl !== undefined && isDeployComplete(record)) {
    paths['gateway'] = {
      baseUrl: gatewayUrl.replace(/\/+$/, ''),
      apiStyle: 'azure',
      auth: { kind: 'subscription-key', envName: LAB_KEY_ENV.gateway },
    };
    // The edge is in front of APIM: a path once the gateway is one.
    if (record.edge !== undefined)
      paths['edge'] = {
        baseUrl: record.edge.url.replace(/\/+$/, ''),
        apiStyle: 'azure',
        auth: { kind: 'subscription-key', envName: record.edge.keyEnv ?? LAB_KEY_ENV.gateway },
      };
  }
  const state: LabState = {
    schemaVersion: 1,
    target: 'azure',
    deployment: record.model.deployment,
    apiVersion: TARGET_DEFAULTS.apiVersion,
    paths,
    labId: record.labId,
    createdAt,
    policyFile,
    azure: record,
  };
  if (Object.keys(secrets).length > 0) state.secrets = secrets;
  return state;
}

/**
 * `lab:deploy --target azure`: a new lab, or the continuation of the one the state records
 * (same names, finished steps skipped). The state is written after preflight and after
 * every step, mode 0600; the subscription key lives only there.
 */
export async function deployAzureLab(input: AzureDeployInput): Promise<AzureDeployOutcome> {
  const existing = readLabState(input.stateFile);
  if (existing !== undefined && existing.target !== 'azure') {
    throw new LabError(
      'E_LAB_STATE',
      `Failed to deploy "azure": ${input.stateFile} records a ${existing.target} lab. Run npm run lab:cleanup first, or pass another --state.`,
    );
  }
  let record = existing?.azure;
  if (record !== undefined && record.subscriptionId !== input.flags.subscriptionId) {
    throw new LabError(
      'E_LAB_STATE',
      `Failed to deploy "azure": ${input.stateFile} records a lab in subscription ${record.subscriptionId}, not ${input.flags.subscriptionId}. Run npm run lab:cleanup first, or pass another --state.`,
    );
  }
  if (record !== undefined && isDeployComplete(record)) {
    if (input.edge === undefined) return { kind: 'already-up', state: existing! };
    // Adding (or changing) the edge of a lab that is up creates nothing on Azure.
    record.edge = input.edge;
    const state = azureLabState(
      record,
      existing!.secrets ?? {},
      existing!.policyFile ?? input.policyFile,
      existing!.createdAt ?? new Date().toISOString(),
    );
    writeLabState(input.stateFile, state);
    return { kind: 'already-up', state };
  }
  const resumed = record !== undefined;
  if (record !== undefined)
    input.onNote(
      `continuing lab ${record.labId} from ${input.stateFile}: ${Object.keys(record.steps).length} step(s) already done; its recorded names and settings are kept`,
    );
  record ??= planAzureLab(input.flags);
  if (input.edge !== undefined) record.edge = input.edge;
  const createdAt = existing?.createdAt ?? new Date().toISOString();
  const policyFile = existing?.policyFile ?? input.policyFile;
  const connection = await input.connect(record.subscriptionId);
  let outcome;
  try {
    outcome = await deployAzure({
      connection,
      record,
      policyXml: input.policyXml,
      secrets: existing?.secrets ?? {},
      signal: input.signal,
      onEvent: input.onEvent,
      onNote: input.onNote,
      persist: (r, secrets) => writeLabState(input.stateFile, azureLabState(r, secrets, policyFile, createdAt)),
    });
  } catch (error) {
    if (error instanceof PreflightError) throw new LabError('E_AZURE', `Failed to deploy "azure": ${error.message}`);
    throw new LabError('E_AZURE', `Failed to deploy "azure": ${describeArmFailure(error)}`);
  }
  const state = azureLabState(outcome.record, outcome.secrets, policyFile, createdAt);
  if (outcome.failures.length > 0 || outcome.notRun.length > 0)
    return { kind: 'incomplete', state, failures: outcome.failures, notRun: outcome.notRun };
  return { kind: 'deployed', state, resumed };
}

/**
 * `lab:deploy --target azure --what-if`: the plan for a new lab (or what is left of the one
 * the state records), preflight's verdicts and the estimated time. Creates, registers and
 * writes nothing.
 */
export async function whatIfAzureLab(
  input: Pick<AzureDeployInput, 'stateFile' | 'flags' | 'connect' | 'signal'>,
): Promise<WhatIf & { record: AzureLabRecord }> {
  const existing = readLabState(input.stateFile);
  const record =
    existing?.target === 'azure' && existing.azure?.subscriptionId === input.flags.subscriptionId
      ? existing.azure
      : planAzureLab(input.flags);
  try {
    return { ...(await whatIfAzure(await input.connect(record.subscriptionId), record, input.signal)), record };
  } catch (error) {
    if (error instanceof PreflightError)
      throw new LabError('E_AZURE', `Failed to check "azure": ${error.problems.join('; ')}`);
    throw new LabError('E_AZURE', `Failed to check "azure": ${describeArmFailure(error)}`);
  }
}

/** With `--roles manual`: the `az role assignment create` lines someone who can assign roles must run (empty otherwise). */
export function pendingRoleLines(record: AzureLabRecord, callerId: string | undefined): string[] {
  if (record.roles !== 'manual') return [];
  const caller = record.steps['caller-role']?.outputs?.['principalId'] ?? callerId;
  return manualRoleLines(record, {
    apim: record.steps['apim-service']?.outputs?.['principalId'],
    caller,
    callerType: 'User',
  });
}

export type AzureCleanupOutcome = { kind: 'dry-run'; plan: string[] } | { kind: 'cleaned'; actions: string[] };

/**
 * `lab:cleanup` for an Azure state. `confirm` is asked with the plan unless `--yes`; a refusal
 * (declined, or a resource group whose tag is not this lab's) keeps the state.
 */
export async function cleanupAzureLab(
  record: AzureLabRecord,
  options: CleanupOptions,
  deps: {
    connect(subscriptionId: string): Promise<ArmConnection>;
    confirm(plan: string[]): Promise<boolean>;
    onAction(line: string): void;
    signal?: AbortSignal;
  },
): Promise<AzureCleanupOutcome> {
  const plan = planAzureCleanup(record, { keepSoftDeleted: options.keepSoftDeleted });
  if (options.dryRun) return { kind: 'dry-run', plan };
  if (!options.yes && !(await deps.confirm(plan)))
    throw new LabError(
      'E_REFUSED',
      `Failed to clean up "${record.resourceGroup}": not confirmed. Nothing was deleted.`,
    );
  const connection = await deps.connect(record.subscriptionId);
  try {
    const report = await cleanupAzure(
      connection,
      record,
      { keepSoftDeleted: options.keepSoftDeleted },
      deps.onAction,
      deps.signal,
    );
    removeLabState(options.stateFile);
    return { kind: 'cleaned', actions: report.actions };
  } catch (error) {
    if (error instanceof CleanupRefusedError) throw new LabError('E_REFUSED', error.message);
    throw new LabError(
      'E_AZURE',
      `Failed to clean up "${record.resourceGroup}": ${describeArmFailure(error)} The state is kept: run npm run lab:cleanup again to continue.`,
    );
  }
}

/** A guided lab on Azure: puts `policyXml` on the lab's API (and later puts the deployed one back). */
export async function applyAzurePolicy(
  record: AzureLabRecord,
  policyXml: string,
  connect: (subscriptionId: string) => Promise<ArmConnection>,
  signal?: AbortSignal,
): Promise<void> {
  try {
    await applyApiPolicy(await connect(record.subscriptionId), record, policyXml, signal);
  } catch (error) {
    throw new LabError('E_AZURE', `Failed to apply a policy to "${record.apimService}": ${describeArmFailure(error)}`);
  }
}

/** The deployed policy, diagnostics and tier, for lab:verify's lint of an Azure lab. */
export async function readAzureConfig(
  record: AzureLabRecord,
  connect: (subscriptionId: string) => Promise<ArmConnection>,
  signal?: AbortSignal,
): Promise<DeployedConfig> {
  try {
    return await readDeployedConfig(await connect(record.subscriptionId), record, signal);
  } catch (error) {
    throw new LabError(
      'E_AZURE',
      `Failed to read the deployed configuration of "${record.apimService}": ${describeArmFailure(error)}`,
    );
  }
}
