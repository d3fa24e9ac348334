import type { TokenCredential } from '@azure/identity';
import { ARM_SCOPE, armIdOf, extraAccounts, LAB_TAG, RESOURCE_PROVIDERS, type AzureLabRecord, type DeployStepId } from './azure-plan.ts';
import type { ArmClients } from './arm-context.ts';
import { describeArmFailure, ifFound } from './arm-errors.ts';
import type { Caller } from './deploy-steps.ts';

export interface PreflightOptions {
  credential: TokenCredential;
  clients: ArmClients;
  record: AzureLabRecord;
  /** Steps an earlier run finished: their names are ours already, not to be checked. */
  done: ReadonlySet<DeployStepId>;
  /** How long to wait between provider registration checks (ms). */
  pollIntervalMs: number;
  /** How many checks before giving up on a registration. */
  registrationPolls: number;
  onNote(note: string): void;
}

export class PreflightError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Preflight found ${problems.length} problem${problems.length === 1 ? '' : 's'}; nothing was created:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'PreflightError';
    this.problems = problems;
  }
}

/**
 * Everything that would fail half-way through a deploy, checked before anything is
 * created: the credential, the resource providers (registered if they are not), the model's
 * availability and quota in the region, the global names (APIM, Azure OpenAI subdomain),
 * names held by soft-deleted services, and a resource group of the same name that is not
 * this lab's. Collects every problem and throws them together.
 */
export async function runPreflight(options: PreflightOptions): Promise<Caller> {
  const caller = await checkCredential(options.credential);
  const problems: string[] = [];
  const checks: Array<Promise<void>> = RESOURCE_PROVIDERS.map((ns) => ensureProviderRegistered(options, ns).catch((error: unknown) => void problems.push(`provider ${ns}: ${describeArmFailure(error)}`)));
  const guard = (what: string, check: () => Promise<string | undefined>): void => {
    checks.push(check().then((problem) => void (problem && problems.push(problem)), (error: unknown) => void problems.push(`${what}: ${describeArmFailure(error)}`)));
  };
  const { done } = options;
  if (!done.has('resource-group')) guard('resource group', () => checkResourceGroup(options));
  if (!done.has('model-deployment')) guard('model', () => checkModelAndQuota(options));
  if (!done.has('apim-service')) guard('API Management name', () => checkApimName(options));
  if (!done.has('openai-account')) guard('Azure OpenAI name', () => checkOpenAiName(options, options.record.openaiAccount));
  if (!done.has('backend-accounts')) for (const { account } of extraAccounts(options.record)) guard(`Azure OpenAI name ${account}`, () => checkOpenAiName(options, account));
  await Promise.all(checks);
  if (problems.length > 0) throw new PreflightError(problems);
  return caller;
}

export async function checkCredential(credential: TokenCredential): Promise<Caller> {
  let token;
  try {
    token = await credential.getToken(ARM_SCOPE);
  } catch (error) {
    throw new PreflightError([`credential: ${(error as Error).message.split('\n')[0]}. Fix: sign in with az login (or azd auth login), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET`]);
  }
  if (!token) throw new PreflightError(['credential: no token for Azure Resource Manager. Fix: sign in with az login']);
  return callerFromToken(token.token);
}

/** The object id and kind of the signed-in principal, from the token's claims (not verified: only used to name it). */
export function callerFromToken(token: string): Caller {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { oid?: string; idtyp?: string };
    return { principalId: typeof payload.oid === 'string' ? payload.oid : undefined, principalType: payload.idtyp === 'app' ? 'ServicePrincipal' : 'User' };
  } catch {
    return { principalId: undefined, principalType: 'User' };
  }
}

/** Registers a resource provider when it is not, and waits for it (what a registration needs of the options). */
export async function ensureProviderRegistered(options: Pick<PreflightOptions, 'clients' | 'pollIntervalMs' | 'registrationPolls' | 'onNote'>, namespace: string): Promise<void> {
  const { resources, signal } = options.clients;
  let provider = await resources.providers.get(namespace, { abortSignal: signal });
  if (provider.registrationState === 'Registered') return;
  options.onNote(`registering resource provider ${namespace} (was ${provider.registrationState ?? 'unknown'})`);
  provider = await resources.providers.register(namespace, { abortSignal: signal });
  for (let poll = 0; provider.registrationState !== 'Registered'; poll += 1) {
    if (poll >= options.registrationPolls) throw Object.assign(new Error(`still ${provider.registrationState ?? 'unknown'} after ${poll} checks; run lab:deploy again in a few minutes`), { code: 'RegistrationPending' });
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs));
    provider = await resources.providers.get(namespace, { abortSignal: signal });
  }
}

async function checkResourceGroup({ clients, record }: PreflightOptions): Promise<string | undefined> {
  const group = await ifFound(clients.resources.resourceGroups.get(record.resourceGroup, { abortSignal: clients.signal }));
  if (group === undefined) return undefined;
  if (group.tags?.[LAB_TAG] === record.labId) return undefined;
  return `resource group ${record.resourceGroup} already exists and is not this lab's (tag ${LAB_TAG}=${group.tags?.[LAB_TAG] ?? 'absent'}). Fix: pick another --lab-id`;
}

async function checkModelAndQuota({ clients, record }: PreflightOptions): Promise<string | undefined> {
  const { model, location } = record;
  const versions: string[] = [];
  let usageName: string | undefined;
  for await (const entry of clients.openai.models.list(location, { abortSignal: clients.signal })) {
    if (entry.model?.name !== model.name) continue;
    const skus = (entry.model.skus ?? []).map((s) => s.name ?? '?');
    versions.push(`${entry.model.version ?? '?'} (${skus.join(', ')})`);
    if (entry.model.version === model.version) usageName ??= entry.model.skus?.find((s) => s.name === model.sku)?.usageName;
  }
  if (usageName === undefined) {
    const offered = versions.length > 0 ? `offered here: ${versions.join('; ')}` : `${model.name} is not offered in ${location}`;
    return `model ${model.name} ${model.version} with SKU ${model.sku} is not available in ${location} (${offered}). Fix: pass --model-version, --model-sku or --location`;
  }
  for await (const usage of clients.openai.usages.list(location, { abortSignal: clients.signal })) {
    if (usage.name?.value !== usageName) continue;
    const headroom = (usage.limit ?? 0) - (usage.currentValue ?? 0);
    // Every account the lab creates deploys the model at the same capacity, from the same regional quota.
    const accounts = 1 + extraAccounts(record).length;
    if (headroom >= model.capacityK * accounts) return undefined;
    return `quota ${usageName} in ${location} has ${headroom}K tokens per minute free, the deployment${accounts > 1 ? `s ask for ${accounts} × ${model.capacityK}K` : ` asks for ${model.capacityK}K`}. Fix: lower --capacity, or free or request quota`;
  }
  return undefined;
}

async function checkApimName({ clients, record }: PreflightOptions): Promise<string | undefined> {
  const expectedId = armIdOf(record, 'apim-service').toLowerCase();
  for await (const deleted of clients.apim.deletedServices.listBySubscription({ abortSignal: clients.signal })) {
    if (deleted.name?.toLowerCase() !== record.apimService.toLowerCase()) continue;
    const location = (deleted.location ?? record.location).toLowerCase().replace(/\s/g, '');
    const owner = deleted.serviceId?.toLowerCase() === expectedId ? 'by an earlier lab with this id' : `(it was ${deleted.serviceId ?? 'another service'})`;
    return `API Management name ${record.apimService} is held by a soft-deleted service ${owner}, until ${deleted.scheduledPurgeDate?.toISOString() ?? '48 h after deletion'}. Fix: az apim deletedservice purge --service-name ${record.apimService} --location ${location}, or pick another --lab-id`;
  }
  const availability = await clients.apim.apiManagementService.checkNameAvailability({ name: record.apimService }, { abortSignal: clients.signal });
  // Taken by this lab's own service, left by a run that failed before recording it: resumed, not a conflict.
  if (availability.nameAvailable === false && (await ifFound(clients.apim.apiManagementService.get(record.resourceGroup, record.apimService, { abortSignal: clients.signal }))) !== undefined) return undefined;
  if (availability.nameAvailable === false) return `API Management name ${record.apimService} is not available (${availability.reason ?? '?'}: ${availability.message ?? ''}). Fix: pick another --lab-id`;
  return undefined;
}

async function checkOpenAiName({ clients, record }: PreflightOptions, account: string): Promise<string | undefined> {
  for await (const deleted of clients.openai.deletedAccounts.list({ abortSignal: clients.signal })) {
    if (deleted.name?.toLowerCase() !== account.toLowerCase()) continue;
    // Location and resource group are read from the id; the location field may be a display name.
    const match = /\/locations\/([^/]+)\/resourceGroups\/([^/]+)\/deletedAccounts\//i.exec(deleted.id ?? '');
    const where = match ? `--location ${match[1]} --resource-group ${match[2]}` : `--location ${record.location} --resource-group ${record.resourceGroup}`;
    return `Azure OpenAI name ${account} is held by a soft-deleted account. Fix: az cognitiveservices account purge --name ${account} ${where}, or pick another --lab-id`;
  }
  const domain = await clients.openai.checkDomainAvailability(account, 'Microsoft.CognitiveServices/accounts', { kind: 'OpenAI', abortSignal: clients.signal });
  if (domain.isSubdomainAvailable === false && (await ifFound(clients.openai.accounts.get(record.resourceGroup, account, { abortSignal: clients.signal }))) !== undefined) return undefined;
  if (domain.isSubdomainAvailable === false) return `Azure OpenAI subdomain ${account} is taken (${domain.reason ?? '?'}). Fix: pick another --lab-id`;
  return undefined;
}
