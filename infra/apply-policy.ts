import { createArmClients, type ArmClients, type ArmConnection } from './arm-context.ts';
import type { AzureLabRecord } from './azure-plan.ts';

/** Puts `policyXml` (rawxml) on the lab's API: the deploy's `apim-policy` step, and a guided lab switching policies. */
export async function putApiPolicy(
  clients: ArmClients,
  record: AzureLabRecord,
  policyXml: string,
): Promise<{ id?: string }> {
  return clients.apim.apiPolicy.createOrUpdate(
    record.resourceGroup,
    record.apimService,
    record.apiId,
    'policy',
    { value: policyXml, format: 'rawxml' },
    { ifMatch: '*', abortSignal: clients.signal },
  );
}

/** Replaces the lab API's policy, with clients of its own (a guided lab on Azure). */
export async function applyApiPolicy(
  connection: ArmConnection,
  record: AzureLabRecord,
  policyXml: string,
  signal?: AbortSignal,
): Promise<void> {
  await putApiPolicy(createArmClients(connection, signal), record, policyXml);
}
