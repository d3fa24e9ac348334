import { DEPLOY_STEP_IDS, LAB_TAG, type AzureLabRecord, type DeployStepId } from './azure-plan.ts';
import { createArmClients, type ArmConnection } from './arm-context.ts';
import { describeArmFailure } from './arm-errors.ts';
import { DEPLOY_STEPS } from './deploy-steps.ts';
import { checkPermissions, PreflightError, runPreflight } from './preflight.ts';
import { runSteps, type StepEvent } from './step-runner.ts';

export interface AzureDeployInput {
  connection: ArmConnection;
  /** A fresh plan, or the record of an earlier run to continue. */
  record: AzureLabRecord;
  policyXml: string;
  /** Keys an earlier run stored (kept: the steps that made them will not run again). */
  secrets: Record<string, string>;
  signal?: AbortSignal;
  onEvent(event: StepEvent): void;
  onNote(note: string): void;
  /** Writes the state: called once preflight passes, then after every finished step. */
  persist(record: AzureLabRecord, secrets: Record<string, string>): void;
  /** Provider registration checks before giving up (default 60, 5 s apart in production). */
  registrationPolls?: number;
}

export interface AzureDeployOutcome {
  record: AzureLabRecord;
  secrets: Record<string, string>;
  failures: Array<{ id: DeployStepId; message: string }>;
  /** Steps that did not run (a failed step they need, or an interrupt). */
  notRun: DeployStepId[];
}

export function isDeployComplete(record: AzureLabRecord): boolean {
  return DEPLOY_STEP_IDS.every((id) => record.steps[id] !== undefined);
}

/**
 * Stands the lab up on Azure: preflight (throws PreflightError before anything exists),
 * then every step not already recorded, concurrently where they are independent. The record
 * is persisted after each step, so a failed or interrupted deploy continues where it stopped.
 * Step failures are returned, not thrown.
 */
export async function deployAzure(input: AzureDeployInput): Promise<AzureDeployOutcome> {
  const { record } = input;
  const secrets = { ...input.secrets };
  const clients = createArmClients(input.connection, input.signal);
  const done = new Set(DEPLOY_STEP_IDS.filter((id) => record.steps[id] !== undefined));
  const caller = await runPreflight({
    credential: input.connection.credential,
    clients,
    record,
    done,
    pollIntervalMs: input.connection.pollIntervalMs ?? 5_000,
    registrationPolls: input.registrationPolls ?? 60,
    onNote: input.onNote,
  });
  input.persist(record, secrets);
  const hooks = {
    onDone(
      id: DeployStepId,
      result: { record: AzureLabRecord['steps'][DeployStepId]; secrets?: Record<string, string> },
    ) {
      record.steps[id] = result.record;
      Object.assign(secrets, result.secrets);
      input.persist(record, secrets);
    },
    onEvent: input.onEvent,
    describeError: describeArmFailure,
    signal: input.signal,
  };
  const context = { clients, record, policyXml: input.policyXml, caller };
  // Permissions are read on the resource group, so it must exist: create it empty and tagged
  // (nothing billable) and record it, then check, before any APIM service or account exists.
  let steps = DEPLOY_STEPS;
  if (!done.has('resource-group')) {
    const failures = await runSteps(
      DEPLOY_STEPS.filter((s) => s.id === 'resource-group'),
      done,
      context,
      hooks,
    );
    if (failures.length > 0) return outcomeOf(record, secrets, failures);
    done.add('resource-group');
    steps = DEPLOY_STEPS.filter((s) => s.id !== 'resource-group');
  }
  if (!done.has('apim-service') || !done.has('openai-account')) {
    const problem = await checkPermissions({ clients, record }, record.roles ?? 'assign', caller);
    if (problem !== undefined) {
      throw new PreflightError(
        [problem],
        `only the empty resource group ${record.resourceGroup} exists (tagged ${LAB_TAG}=${record.labId}, recorded in the state; npm run lab:cleanup removes it)`,
      );
    }
  }
  return outcomeOf(record, secrets, await runSteps(steps, done, context, hooks));
}

function outcomeOf(
  record: AzureLabRecord,
  secrets: Record<string, string>,
  failures: Array<{ id: DeployStepId; error: unknown }>,
): AzureDeployOutcome {
  return {
    record,
    secrets,
    failures: failures.map((f) => ({ id: f.id, message: describeArmFailure(f.error) })),
    notRun: DEPLOY_STEP_IDS.filter((id) => record.steps[id] === undefined && !failures.some((f) => f.id === id)),
  };
}
