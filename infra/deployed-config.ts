import type { AzureLabRecord } from './azure-plan.ts';
import { createArmClients, type ArmConnection } from './arm-context.ts';
import { ifFound } from './arm-errors.ts';

/** The deployed configuration that decides whether APIM streams, as ARM returns it. */
export interface DeployedConfig {
  /** Where it came from, for the lint's evidence. */
  source: string;
  /** The API's policy as raw XML; undefined when the API has none. */
  policyXml: string | undefined;
  /** API-level and service-level (global) diagnostics, each `{ name, loggerId, frontend, backend, … }`. */
  diagnostics: Array<Record<string, unknown>>;
  sku: string | undefined;
}

/**
 * Reads the API policy (`format=rawxml`: the default `xml` returns it escaped), the API's
 * and the service's diagnostics, and the tier, so the verifier's static lint checks what is
 * really deployed rather than the file the lab meant to deploy.
 */
export async function readDeployedConfig(
  connection: ArmConnection,
  record: AzureLabRecord,
  signal?: AbortSignal,
): Promise<DeployedConfig> {
  const { apim } = createArmClients(connection, signal);
  const { resourceGroup: rg, apimService: service, apiId } = record;
  // The operation is declared isXML, so the SDK runs ARM's JSON answer through its XML
  // mapper and returns `value: undefined` (Azure/azure-sdk-for-js#31566). Read the JSON body.
  let raw: string | undefined;
  const policy = await ifFound(
    apim.apiPolicy.get(rg, service, apiId, 'policy', {
      format: 'rawxml',
      abortSignal: signal,
      onResponse: (response) => void (raw = response.bodyAsText ?? undefined),
    }),
  );
  const policyXml = policy === undefined ? undefined : (policy.value ?? policyValueFromJson(raw));
  const diagnostics: Array<Record<string, unknown>> = [];
  for await (const d of apim.apiDiagnostic.listByService(rg, service, apiId, { abortSignal: signal }))
    diagnostics.push({ ...d, name: `api/${d.name ?? '?'}` });
  for await (const d of apim.diagnostic.listByService(rg, service, { abortSignal: signal }))
    diagnostics.push({ ...d, name: `service/${d.name ?? '?'}` });
  const sku = (await apim.apiManagementService.get(rg, service, { abortSignal: signal })).sku?.name;
  return { source: `azure:${service}/apis/${apiId}`, policyXml, diagnostics, sku };
}

function policyValueFromJson(body: string | undefined): string | undefined {
  if (body === undefined) return undefined;
  try {
    const value = (JSON.parse(body) as { properties?: { value?: unknown } }).properties?.value;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
