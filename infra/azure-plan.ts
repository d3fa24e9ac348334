import { randomBytes } from 'node:crypto';
import type { AzureDeployFlags } from '../src/config/lab-options.ts';
import { provisionedBackends, type BackendEntry } from '../src/protocol/index.ts';

export const DEPLOY_STEP_IDS = [
  'resource-group',
  'apim-service',
  'openai-account',
  'model-deployment',
  'backend-accounts',
  'apim-role',
  'caller-role',
  'apim-backend',
  'apim-api',
  'apim-policy',
  'apim-subscription',
] as const;
export type DeployStepId = (typeof DEPLOY_STEP_IDS)[number];

/** What one finished step left behind: its ARM id and whatever later steps read from it. */
export interface StepRecord {
  completedAt: string;
  resourceId?: string;
  outputs?: Record<string, string>;
}

/**
 * Everything the lab created or will create on Azure, recorded in `.lab/state.json` under
 * `azure`. Names are fixed when the record is made, so a re-run after a failure reuses them
 * and creates nothing twice; `steps` says which steps already finished.
 */
export interface AzureLabRecord {
  subscriptionId: string;
  location: string;
  labId: string;
  resourceGroup: string;
  openaiAccount: string;
  apimService: string;
  apiId: string;
  backendId: string;
  apimSubscription: string;
  model: { name: string; version: string; sku: string; capacityK: number; deployment: string };
  apimSku: string;
  localAuth: boolean;
  /** `manual`: the deploy makes no role assignment and prints the `az role assignment create` lines for someone who can (absent in older states: `assign`). */
  roles?: 'assign' | 'manual';
  publisherEmail: string;
  /** `--edge-url`: an edge the user runs in front of APIM (the `edge` path, outermost in the chain), and the variable holding its key. */
  edge?: { url: string; keyEnv: string | undefined };
  /** With `--backends FILE`: the APIM backends to create, and the account that plays each one the file leaves to the lab. */
  backends?: AzureBackendsPlan;
  steps: Partial<Record<DeployStepId, StepRecord>>;
}

export interface AzureBackendsPlan {
  file: string;
  /** The file's backends as written (ARM backend resource bodies). */
  entries: BackendEntry[];
  /** Backend name → Azure OpenAI account, for every single backend without a url: the first is the lab's own account, the others are created beside it. */
  accounts: Record<string, string>;
}

/** The tag that marks a resource group as this lab's; cleanup deletes nothing without it. */
export const LAB_TAG = 'apim-streaming-lab';
/** "Cognitive Services OpenAI User": call the data plane (chat, completions) with Entra ID. */
export const OPENAI_USER_ROLE_ID = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd';
export const ARM_SCOPE = 'https://management.azure.com/.default';
/** The backend id the lab's policies name (infra/policies/*.xml), shared with the local gateway. */
export const LAB_BACKEND_ID = 'openai-backend';
export const LAB_API_ID = 'azure-openai';
export const RESOURCE_PROVIDERS = ['Microsoft.CognitiveServices', 'Microsoft.ApiManagement'] as const;

/** `sl` and 7 random lower-case letters or digits: the id goes into DNS names (APIM, Azure OpenAI). */
export function newLabId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(7);
  return `sl${[...bytes].map((b) => alphabet[b % alphabet.length]).join('')}`;
}

/** A fresh record: the names every step will use, from the lab id. */
export function planAzureLab(request: AzureDeployFlags): AzureLabRecord {
  const labId = request.labId ?? newLabId();
  return {
    subscriptionId: request.subscriptionId,
    location: request.location,
    labId,
    resourceGroup: `rg-streamlab-${labId}`,
    openaiAccount: `aoai-streamlab-${labId}`,
    apimService: `apim-streamlab-${labId}`,
    apiId: LAB_API_ID,
    backendId: LAB_BACKEND_ID,
    apimSubscription: 'streamlab',
    model: {
      name: request.model,
      version: request.modelVersion,
      sku: request.modelSku,
      capacityK: request.capacityK,
      deployment: request.model,
    },
    apimSku: request.apimSku,
    localAuth: request.localAuth,
    roles: request.roles,
    publisherEmail: request.publisherEmail,
    ...(request.backends ? { backends: planBackends(request.backends, `aoai-streamlab-${labId}`) } : {}),
    steps: {},
  };
}

/** Which account plays each backend the file leaves to the lab: the lab's own first, then `<account>-b2`, `-b3`, … */
function planBackends(backends: NonNullable<AzureDeployFlags['backends']>, account: string): AzureBackendsPlan {
  const names = provisionedBackends(backends.table);
  return {
    file: backends.file,
    entries: backends.table.entries,
    accounts: Object.fromEntries(names.map((name, i) => [name, i === 0 ? account : `${account}-b${i + 1}`])),
  };
}

/** The Azure OpenAI accounts the lab creates besides its own (one per extra backend). */
export function extraAccounts(record: AzureLabRecord): Array<{ backend: string; account: string }> {
  return Object.entries(record.backends?.accounts ?? {})
    .filter(([, account]) => account !== record.openaiAccount)
    .map(([backend, account]) => ({ backend, account }));
}

export function isConsumptionSku(sku: string): boolean {
  return sku.toLowerCase() === 'consumption';
}

export function armIdOf(
  record: AzureLabRecord,
  kind: 'resource-group' | 'openai-account' | 'apim-service',
  account = record.openaiAccount,
): string {
  const rg = `/subscriptions/${record.subscriptionId}/resourceGroups/${record.resourceGroup}`;
  if (kind === 'resource-group') return rg;
  if (kind === 'openai-account') return `${rg}/providers/Microsoft.CognitiveServices/accounts/${account}`;
  return `${rg}/providers/Microsoft.ApiManagement/service/${record.apimService}`;
}
