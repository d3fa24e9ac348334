import { createArmClients, type ArmConnection } from './arm-context.ts';
import type { AzureLabRecord } from './azure-plan.ts';

/** Replaces the lab API's policy (rawxml), as the deploy's `apim-policy` step first set it. */
export async function applyApiPolicy(connection: ArmConnection, record: AzureLabRecord, policyXml: string, signal?: AbortSignal): Promise<void> {
  const clients = createArmClients(connection, signal);
  await clients.apim.apiPolicy.createOrUpdate(record.resourceGroup, record.apimService, record.apiId, 'policy', { value: policyXml, format: 'rawxml' }, { ifMatch: '*', ...(signal ? { abortSignal: signal } : {}) });
}
