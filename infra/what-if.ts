import type { ArmConnection } from './arm-context.ts';
import { createArmClients } from './arm-context.ts';
import { ifFound } from './arm-errors.ts';
import { DEPLOY_STEP_IDS, isConsumptionSku, LAB_TAG, type AzureLabRecord, type DeployStepId } from './azure-plan.ts';
import { DEPLOY_STEPS } from './deploy-steps.ts';
import { checkPermissions, preflightVerdicts, type PreflightVerdict } from './preflight.ts';

/** What `lab:deploy --target azure --what-if` reports: nothing is created, registered or written. */
export interface WhatIf {
  /** True when every preflight check passed: a deploy would go ahead. */
  wouldGo: boolean;
  /** The steps a deploy would run, each with its estimated time. */
  plan: Array<{ id: DeployStepId; title: string; estimate: string }>;
  verdicts: PreflightVerdict[];
  /** The whole deploy, longest chain (the APIM service). */
  estimate: string;
}

const CLASSIC_TIERS = new Set(['developer', 'basic', 'standard', 'premium']);

/**
 * How long a step takes on Azure. Classic APIM tiers: tens of minutes (workshops quote 45–75
 * min for Developer, azure.github.io/apim-lab); the v2 tiers: minutes (Microsoft gives no
 * figure); the rest are seconds to a minute or two. docs/azure.md has the table.
 */
export function stepEstimate(id: DeployStepId, record: AzureLabRecord): string {
  if (id === 'apim-service') {
    const sku = record.apimSku.toLowerCase();
    if (CLASSIC_TIERS.has(sku)) return '30–75 min (classic tier)';
    if (isConsumptionSku(sku)) return 'a few minutes';
    return '5–15 min (v2 tier; no Microsoft figure)';
  }
  if (id === 'openai-account' || id === 'model-deployment') return 'about 1 min';
  if (id === 'backend-accounts') return record.backends ? 'about 2 min per extra account' : 'seconds';
  return 'seconds';
}

/** The plan and preflight's verdicts, read-only: providers are read, not registered; permissions are read when the resource group exists. */
export async function whatIfAzure(
  connection: ArmConnection,
  record: AzureLabRecord,
  signal?: AbortSignal,
): Promise<WhatIf> {
  const clients = createArmClients(connection, signal);
  const done = new Set(DEPLOY_STEP_IDS.filter((id) => record.steps[id] !== undefined));
  const { caller, verdicts } = await preflightVerdicts({
    credential: connection.credential,
    clients,
    record,
    done,
    pollIntervalMs: 0,
    registrationPolls: 0,
    onNote: () => {},
    readOnly: true,
  });
  const group = await ifFound(clients.resources.resourceGroups.get(record.resourceGroup, { abortSignal: signal }));
  if (group !== undefined && group.tags?.[LAB_TAG] === record.labId) {
    const problem = await checkPermissions({ clients, record }, record.roles ?? 'assign', caller);
    verdicts.push(problem !== undefined ? { check: 'permissions', problem } : { check: 'permissions' });
  } else if (group === undefined) {
    verdicts.push({
      check: 'permissions',
      note: `your permissions are read on resource group ${record.resourceGroup}, which does not exist yet: a deploy creates it empty and tagged first, and refuses there, before anything billable, if a permission is missing`,
    });
  }
  const plan = DEPLOY_STEPS.filter((s) => !done.has(s.id)).map((s) => ({
    id: s.id,
    title: s.title,
    estimate: stepEstimate(s.id, record),
  }));
  const apim = plan.find((p) => p.id === 'apim-service');
  return {
    wouldGo: verdicts.every((v) => v.problem === undefined),
    plan,
    verdicts: verdicts.sort((a, b) => a.check.localeCompare(b.check)),
    estimate: apim
      ? `${apim.estimate.replace(/ \(.*\)$/, '')}, set by the API Management service; the other steps run beside it`
      : plan.length > 0
        ? 'a few minutes'
        : 'nothing left to do',
  };
}
