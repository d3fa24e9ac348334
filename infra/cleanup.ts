import { armIdOf, extraAccounts, LAB_TAG, type AzureLabRecord } from './azure-plan.ts';
import { createArmClients, untilDone, type ArmClients, type ArmConnection } from './arm-context.ts';
import { ifFound } from './arm-errors.ts';

export interface CleanupOptions {
  keepSoftDeleted: boolean;
}

/** What cleanup will do, in order, for `--dry-run` and the confirmation prompt. */
export function planAzureCleanup(record: AzureLabRecord, options: CleanupOptions): string[] {
  const plan = [
    `check that resource group ${record.resourceGroup} (subscription ${record.subscriptionId}) carries the tag ${LAB_TAG}=${record.labId}, else stop`,
    ...roleAssignments(record).map((r) => `delete role assignment ${r.name} (${r.step})`),
    `delete resource group ${record.resourceGroup} and everything in it: API Management ${record.apimService}, Azure OpenAI ${accountsOf(record).join(', ')} with deployment ${record.model.deployment}`,
  ];
  if (options.keepSoftDeleted) {
    plan.push(
      `keep the soft-deleted services (names held for 48 h): API Management ${record.apimService}, Azure OpenAI ${accountsOf(record).join(', ')}`,
    );
  } else {
    plan.push(
      `purge soft-deleted API Management ${record.apimService} (${record.location})`,
      ...accountsOf(record).map((account) => `purge soft-deleted Azure OpenAI ${account} (${record.location})`),
    );
  }
  return plan;
}

export class CleanupRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CleanupRefusedError';
  }
}

export interface CleanupReport {
  /** What was done, one line each, in order. */
  actions: string[];
}

/** The lab's Azure OpenAI accounts: its own, and one per extra backend (--backends). */
function accountsOf(record: AzureLabRecord): string[] {
  return [record.openaiAccount, ...extraAccounts(record).map((e) => e.account)];
}

function roleAssignments(record: AzureLabRecord): Array<{ step: string; scope: string; name: string }> {
  const found: Array<{ step: string; scope: string; name: string }> = [];
  for (const step of ['apim-role', 'caller-role'] as const) {
    const outputs = record.steps[step]?.outputs;
    if (outputs?.['scope'] !== undefined && outputs['name'] !== undefined)
      found.push({ step, scope: outputs['scope'], name: outputs['name'] });
  }
  const backends = record.steps['backend-accounts']?.outputs ?? {};
  for (const { backend } of extraAccounts(record)) {
    const scope = backends[`roleScope.${backend}`];
    const name = backends[`roleName.${backend}`];
    if (scope !== undefined && name !== undefined) found.push({ step: `backend-accounts (${backend})`, scope, name });
  }
  return found;
}

/**
 * Removes what the record says this lab created: refuses unless the resource group still
 * carries this lab's tag, deletes the role assignments it made and the resource group, then
 * purges the soft-deleted APIM service and Azure OpenAI account (names reserved 48 h, and
 * provisioned deployments bill until purged). Whatever is already gone is skipped, so it can
 * run again after a failure, or twice.
 */
export async function cleanupAzure(
  connection: ArmConnection,
  record: AzureLabRecord,
  options: CleanupOptions,
  onAction: (line: string) => void,
  signal?: AbortSignal,
): Promise<CleanupReport> {
  const clients = createArmClients(connection, signal);
  const actions: string[] = [];
  const act = (line: string): void => {
    actions.push(line);
    onAction(line);
  };
  const groupExists = await checkLabGroup(clients, record);
  if (groupExists) {
    for (const assignment of roleAssignments(record)) {
      await ifFound(
        clients.authorization.roleAssignments.delete(assignment.scope, assignment.name, { abortSignal: signal }),
      );
      act(`deleted role assignment ${assignment.name} (${assignment.step})`);
    }
    await clients.resources.resourceGroups.delete(record.resourceGroup, clients.lro);
    act(`deleted resource group ${record.resourceGroup}`);
  } else {
    act(`resource group ${record.resourceGroup} is already gone`);
  }
  if (options.keepSoftDeleted) {
    act(
      `kept soft-deleted services; purge later with: az apim deletedservice purge --service-name ${record.apimService} --location ${record.location}; ${accountsOf(
        record,
      )
        .map(
          (account) =>
            `az cognitiveservices account purge --name ${account} --resource-group ${record.resourceGroup} --location ${record.location}`,
        )
        .join('; ')}`,
    );
    return { actions };
  }
  const [apim, ...openai] = await Promise.all([
    purgeApim(clients, record),
    ...accountsOf(record).map((account) => purgeOpenAi(clients, record, account)),
  ]);
  act(apim);
  for (const line of openai) act(line);
  return { actions };
}

async function checkLabGroup(clients: ArmClients, record: AzureLabRecord): Promise<boolean> {
  const group = await ifFound(
    clients.resources.resourceGroups.get(record.resourceGroup, { abortSignal: clients.signal }),
  );
  if (group === undefined) return false;
  const tag = group.tags?.[LAB_TAG];
  if (tag !== record.labId) {
    throw new CleanupRefusedError(
      `Refused to delete resource group "${record.resourceGroup}": its tag ${LAB_TAG} is ${tag === undefined ? 'absent' : `"${tag}"`}, not this lab's id "${record.labId}", so it is not (or no longer) the group this lab created. Nothing was deleted and the state is kept.`,
    );
  }
  return true;
}

async function purgeApim(clients: ArmClients, record: AzureLabRecord): Promise<string> {
  const deleted = await ifFound(
    clients.apim.deletedServices.getByName(record.apimService, record.location, { abortSignal: clients.signal }),
  );
  if (deleted === undefined)
    return `API Management ${record.apimService}: not soft-deleted (never created, or already purged)`;
  // The name is this lab's, but purge only the service this lab's resource group held.
  if (
    deleted.serviceId !== undefined &&
    deleted.serviceId.toLowerCase() !== armIdOf(record, 'apim-service').toLowerCase()
  ) {
    return `API Management ${record.apimService}: the soft-deleted service is ${deleted.serviceId}, not this lab's; left alone`;
  }
  await untilDone(
    clients.apim.deletedServices.beginPurge(record.apimService, record.location, clients.lro),
    clients.signal,
  );
  return `purged soft-deleted API Management ${record.apimService}`;
}

async function purgeOpenAi(clients: ArmClients, record: AzureLabRecord, account: string): Promise<string> {
  const deleted = await ifFound(
    clients.openai.deletedAccounts.get(record.location, record.resourceGroup, account, { abortSignal: clients.signal }),
  );
  if (deleted === undefined) return `Azure OpenAI ${account}: not soft-deleted (never created, or already purged)`;
  await untilDone(
    clients.openai.deletedAccounts.beginPurge(record.location, record.resourceGroup, account, clients.lro),
    clients.signal,
  );
  return `purged soft-deleted Azure OpenAI ${account}`;
}
