import type { TokenCredential } from '@azure/identity';
import {
  ARM_SCOPE,
  armIdOf,
  extraAccounts,
  LAB_TAG,
  RESOURCE_PROVIDERS,
  type AzureLabRecord,
  type DeployStepId,
} from './azure-plan.ts';
import type { ArmClients } from './arm-context.ts';
import { describeArmFailure, ifFound } from './arm-errors.ts';
import type { Caller } from './deploy-steps.ts';
import {
  manualRoleLines,
  missingActions,
  requiredActions,
  ROLE_ASSIGNMENT_ROLES,
  type PermissionEntry,
} from './permissions.ts';

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
  /** What exists after the refusal: nothing, or the empty tagged resource group (created to read permissions on it). */
  readonly left: string;
  constructor(problems: string[], left = 'nothing was created') {
    super(
      `Preflight found ${problems.length} problem${problems.length === 1 ? '' : 's'}; ${left}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'PreflightError';
    this.problems = problems;
    this.left = left;
  }
}

/** One preflight check's verdict, for --what-if: `problem` says what is wrong and the fix; `note` is said either way. */
export interface PreflightVerdict {
  check: string;
  problem?: string;
  note?: string;
}

/**
 * Everything that would fail half-way through a deploy, checked before anything is
 * created: the credential, the resource providers (registered if they are not), the model's
 * availability, lifecycle and quota in the region, the APIM tier and the Azure OpenAI SKU in
 * the region, the global names (APIM, Azure OpenAI subdomain), names held by soft-deleted
 * services, and a resource group of the same name that is not this lab's. Collects every
 * problem and throws them together. The caller's permissions need the resource group to
 * exist: `checkPermissions` runs once it does (deploy.ts).
 */
export async function runPreflight(options: PreflightOptions): Promise<Caller> {
  const { caller, verdicts } = await preflightVerdicts(options);
  const problems = verdicts.flatMap((v) => (v.problem !== undefined ? [v.problem] : []));
  for (const v of verdicts) if (v.note !== undefined && v.problem === undefined) options.onNote(v.note);
  if (problems.length > 0) throw new PreflightError(problems);
  return caller;
}

/** Every read-only check's verdict (nothing is registered when `options.readOnly`). */
export async function preflightVerdicts(
  options: PreflightOptions & { readOnly?: boolean },
): Promise<{ caller: Caller; verdicts: PreflightVerdict[] }> {
  const caller = await checkCredential(options.credential);
  const verdicts: PreflightVerdict[] = [];
  const checks: Array<Promise<void>> = [];
  const guard = (check: string, run: () => Promise<string | undefined | { problem?: string; note?: string }>): void => {
    checks.push(
      run().then(
        (result) =>
          void verdicts.push(
            typeof result === 'object'
              ? { check, ...result }
              : result !== undefined
                ? { check, problem: result }
                : { check },
          ),
        (error: unknown) => void verdicts.push({ check, problem: `${check}: ${describeArmFailure(error)}` }),
      ),
    );
  };
  for (const ns of RESOURCE_PROVIDERS)
    guard(`provider ${ns}`, () =>
      options.readOnly
        ? checkProviderRegistered(options, ns)
        : ensureProviderRegistered(options, ns).then(() => undefined),
    );
  const { done } = options;
  if (!done.has('resource-group')) guard('resource group', () => checkResourceGroup(options));
  if (!done.has('model-deployment')) guard('model', () => checkModelAndQuota(options));
  if (!done.has('apim-service')) guard('API Management tier in the region', () => checkApimSku(options));
  if (!done.has('apim-service')) guard('API Management name', () => checkApimName(options));
  if (!done.has('openai-account')) guard('Azure OpenAI in the region', () => checkOpenAiSku(options));
  if (!done.has('openai-account'))
    guard('Azure OpenAI name', () => checkOpenAiName(options, options.record.openaiAccount));
  if (!done.has('backend-accounts'))
    for (const { account } of extraAccounts(options.record))
      guard(`Azure OpenAI name ${account}`, () => checkOpenAiName(options, account));
  await Promise.all(checks);
  return { caller, verdicts };
}

/**
 * The caller's effective permissions on the lab's resource group (Permissions – List For
 * Resource Group): a problem naming each missing action and the fix, or undefined. Role
 * assignments are the usual gap (Contributor's notActions hold Microsoft.Authorization/*\/Write):
 * the fix names the roles that carry it and the way round (`--roles manual`, or keys).
 */
export async function checkPermissions(
  { clients, record }: Pick<PreflightOptions, 'clients' | 'record'>,
  roles: 'assign' | 'manual',
  caller: Caller,
): Promise<string | undefined> {
  const permissions: PermissionEntry[] = [];
  for await (const p of clients.authorization.permissions.listForResourceGroup(record.resourceGroup, {
    abortSignal: clients.signal,
  }))
    permissions.push(p);
  const missing = missingActions(permissions, requiredActions(record, roles));
  if (missing.length === 0) return undefined;
  const who =
    caller.principalId !== undefined
      ? `your identity (${caller.principalType === 'ServicePrincipal' ? 'service principal' : 'user'} ${caller.principalId})`
      : 'your identity';
  const list = missing.map((m) => `${m.action} (to ${m.why})`).join('; ');
  const onlyRoles = missing.every((m) => m.action.startsWith('Microsoft.Authorization/'));
  if (!onlyRoles)
    return `permissions: ${who} lacks on resource group ${record.resourceGroup}: ${list}. Fix: ask for Contributor${roles === 'assign' ? ' and Role Based Access Control Administrator' : ''} on the subscription or on ${record.resourceGroup}`;
  const lines = manualRoleLines(record, {
    apim: undefined,
    caller: caller.principalId,
    callerType: caller.principalType,
  });
  return (
    `permissions: ${who} cannot assign roles on resource group ${record.resourceGroup}: ${list}. ` +
    `Fix: ask for ${ROLE_ASSIGNMENT_ROLES.join(', or ')} on ${record.resourceGroup}; or deploy with --roles manual, and have someone who holds one of them run, once the deploy has printed the APIM identity:\n      ${lines.join('\n      ')}`
  );
}

export async function checkCredential(credential: TokenCredential): Promise<Caller> {
  let token;
  try {
    token = await credential.getToken(ARM_SCOPE);
  } catch (error) {
    throw new PreflightError([
      `credential: ${(error as Error).message.split('\n')[0]}. Fix: sign in with az login (or azd auth login), or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET`,
    ]);
  }
  if (!token) throw new PreflightError(['credential: no token for Azure Resource Manager. Fix: sign in with az login']);
  return callerFromToken(token.token);
}

/** The object id and kind of the signed-in principal, from the token's claims (not verified: only used to name it). */
export function callerFromToken(token: string): Caller {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      oid?: string;
      idtyp?: string;
    };
    return {
      principalId: typeof payload.oid === 'string' ? payload.oid : undefined,
      principalType: payload.idtyp === 'app' ? 'ServicePrincipal' : 'User',
    };
  } catch {
    return { principalId: undefined, principalType: 'User' };
  }
}

/** Registers a resource provider when it is not, and waits for it (what a registration needs of the options). */
export async function ensureProviderRegistered(
  options: Pick<PreflightOptions, 'clients' | 'pollIntervalMs' | 'registrationPolls' | 'onNote'>,
  namespace: string,
): Promise<void> {
  const { resources, signal } = options.clients;
  let provider = await resources.providers.get(namespace, { abortSignal: signal });
  if (provider.registrationState === 'Registered') return;
  options.onNote(`registering resource provider ${namespace} (was ${provider.registrationState ?? 'unknown'})`);
  provider = await resources.providers.register(namespace, { abortSignal: signal });
  for (let poll = 0; provider.registrationState !== 'Registered'; poll += 1) {
    if (poll >= options.registrationPolls)
      throw Object.assign(
        new Error(
          `still ${provider.registrationState ?? 'unknown'} after ${poll} checks; run lab:deploy again in a few minutes`,
        ),
        { code: 'RegistrationPending' },
      );
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalMs));
    provider = await resources.providers.get(namespace, { abortSignal: signal });
  }
}

/** Read-only: a provider that is not registered is a problem with its fix (a deploy registers it). */
async function checkProviderRegistered(
  options: Pick<PreflightOptions, 'clients'>,
  namespace: string,
): Promise<{ note?: string }> {
  const provider = await options.clients.resources.providers.get(namespace, { abortSignal: options.clients.signal });
  if (provider.registrationState === 'Registered') return {};
  return {
    note: `provider ${namespace} is ${provider.registrationState ?? 'not registered'}: the deploy registers it (a minute or two)`,
  };
}

async function checkResourceGroup({ clients, record }: PreflightOptions): Promise<string | undefined> {
  const group = await ifFound(
    clients.resources.resourceGroups.get(record.resourceGroup, { abortSignal: clients.signal }),
  );
  if (group === undefined) return undefined;
  if (group.tags?.[LAB_TAG] === record.labId) return undefined;
  return `resource group ${record.resourceGroup} already exists and is not this lab's (tag ${LAB_TAG}=${group.tags?.[LAB_TAG] ?? 'absent'}). Fix: pick another --lab-id`;
}

/** Lifecycle states that refuse a new deployment (Microsoft's KnownModelLifecycleStatus: Deprecating takes new deployments only from accounts that have one). */
const RETIRED = new Set(['deprecated', 'deprecating']);
/** A model that retires within this many days deploys, with a note saying when. */
const RETIRES_SOON_DAYS = 30;

async function checkModelAndQuota({
  clients,
  record,
}: PreflightOptions): Promise<string | { problem?: string; note?: string } | undefined> {
  const { model, location } = record;
  const versions: string[] = [];
  const current: string[] = [];
  /** Other models the region offers that take new deployments, for the fix. */
  const others: string[] = [];
  let usageName: string | undefined;
  let refusal: string | undefined;
  let note: string | undefined;
  const now = Date.now();
  for await (const entry of clients.openai.models.list(location, { abortSignal: clients.signal })) {
    const m = entry.model;
    if (m === undefined) continue;
    const retiresAt = m.deprecation?.inference !== undefined ? Date.parse(String(m.deprecation.inference)) : NaN;
    const retired = RETIRED.has((m.lifecycleStatus ?? '').toLowerCase()) || retiresAt <= now;
    if (m.name !== model.name) {
      if (
        !retired &&
        (m.lifecycleStatus ?? '').toLowerCase() !== 'preview' &&
        m.skus?.some((s) => s.name === model.sku)
      )
        others.push(`--model ${m.name} --model-version ${m.version}`);
      continue;
    }
    const skus = (m.skus ?? []).map((s) => s.name ?? '?');
    versions.push(`${m.version ?? '?'} (${skus.join(', ')}${retired ? `; ${m.lifecycleStatus ?? 'retired'}` : ''})`);
    if (!retired) current.push(m.version ?? '?');
    if (m.version !== model.version) continue;
    const sku = m.skus?.find((s) => s.name === model.sku);
    if (sku === undefined) continue;
    const skuRetiresAt = sku.deprecationDate !== undefined ? new Date(sku.deprecationDate).getTime() : NaN;
    if (retired || skuRetiresAt <= now) {
      const since =
        Number.isFinite(retiresAt) && retiresAt <= now
          ? ` since ${new Date(retiresAt).toISOString().slice(0, 10)}`
          : Number.isFinite(skuRetiresAt) && skuRetiresAt <= now
            ? ` (SKU ${model.sku} since ${new Date(skuRetiresAt).toISOString().slice(0, 10)})`
            : '';
      refusal = `model ${model.name} ${model.version} is ${m.lifecycleStatus ?? 'retired'}${since} in ${location}: Azure refuses new deployments of it (ServiceModelDeprecated)`;
      continue;
    }
    usageName = sku.usageName;
    const soonest = Math.min(
      Number.isFinite(retiresAt) ? retiresAt : Infinity,
      Number.isFinite(skuRetiresAt) ? skuRetiresAt : Infinity,
    );
    if (soonest - now < RETIRES_SOON_DAYS * 86_400_000)
      note = `model ${model.name} ${model.version} retires on ${new Date(soonest).toISOString().slice(0, 10)}: the lab works until then`;
  }
  const offered =
    versions.length > 0 ? `offered here: ${versions.join('; ')}` : `${model.name} is not offered in ${location}`;
  if (refusal !== undefined)
    return `${refusal} (${offered}). Fix: ${current.length > 0 ? `pass --model-version ${current.at(-1)}` : others.length > 0 ? `pass a current model, e.g. ${others.slice(0, 3).join(' or ')}` : `pass another --model, --model-sku or --location`}`;
  if (usageName === undefined) {
    return `model ${model.name} ${model.version} with SKU ${model.sku} is not available in ${location} (${offered}). Fix: pass --model-version, --model-sku or --location`;
  }
  for await (const usage of clients.openai.usages.list(location, { abortSignal: clients.signal })) {
    if (usage.name?.value !== usageName) continue;
    const headroom = (usage.limit ?? 0) - (usage.currentValue ?? 0);
    // Every account the lab creates deploys the model at the same capacity, from the same regional quota.
    const accounts = 1 + extraAccounts(record).length;
    if (headroom >= model.capacityK * accounts) return note !== undefined ? { note } : undefined;
    return `quota ${usageName} in ${location} has ${headroom}K tokens per minute free, the deployment${accounts > 1 ? `s ask for ${accounts} × ${model.capacityK}K` : ` asks for ${model.capacityK}K`}. Fix: lower --capacity, or free or request quota`;
  }
  return note !== undefined ? { note } : undefined;
}

const region = (name: string): string => name.toLowerCase().replace(/\s/g, '');

/** The APIM tier in the region (ApiManagementSkus – List): offered there, and not restricted for this subscription. */
async function checkApimSku({ clients, record }: PreflightOptions): Promise<string | undefined> {
  const where = region(record.location);
  const elsewhere: string[] = [];
  let listed = false;
  for await (const sku of clients.apim.apiManagementSkus.list({ abortSignal: clients.signal })) {
    if (
      (sku.resourceType ?? '').toLowerCase() !== 'service' ||
      sku.name?.toLowerCase() !== record.apimSku.toLowerCase()
    )
      continue;
    listed = true;
    const locations = (sku.locations ?? []).map(region);
    const restriction = (sku.restrictions ?? []).find(
      (r) => r.type === 'Location' && (r.values ?? []).map(region).includes(where),
    );
    if (locations.includes(where) && restriction === undefined) return undefined;
    if (restriction !== undefined)
      return `API Management ${record.apimSku} is restricted in ${record.location} for this subscription (${restriction.reasonCode ?? 'restricted'}). Fix: pass another --location or --apim-sku, or ask Azure support to lift the restriction`;
    elsewhere.push(...(sku.locations ?? []));
  }
  if (!listed)
    return `API Management offers no ${record.apimSku} tier to this subscription. Fix: pass another --apim-sku`;
  return `API Management ${record.apimSku} is not offered in ${record.location}${elsewhere.length > 0 ? ` (it is in ${elsewhere.slice(0, 8).join(', ')}${elsewhere.length > 8 ? ', …' : ''})` : ''}. Fix: pass --location with one of those regions, or another --apim-sku`;
}

/** Azure OpenAI (kind OpenAI, SKU S0) in the region for this subscription (CheckSkuAvailability). */
async function checkOpenAiSku({ clients, record }: PreflightOptions): Promise<string | undefined> {
  const result = await clients.openai.checkSkuAvailability(
    record.location,
    ['S0'],
    'OpenAI',
    'Microsoft.CognitiveServices/accounts',
    { abortSignal: clients.signal },
  );
  const s0 = result.value?.find((v) => v.skuName === 'S0');
  if (s0 === undefined || s0.skuAvailable !== false) return undefined;
  return `Azure OpenAI (S0) is not available in ${record.location} for this subscription (${s0.reason ?? 'unavailable'}${s0.message ? `: ${s0.message}` : ''}). Fix: pass another --location, or ask for Azure OpenAI access on this subscription`;
}

async function checkApimName({ clients, record }: PreflightOptions): Promise<string | undefined> {
  const expectedId = armIdOf(record, 'apim-service').toLowerCase();
  for await (const deleted of clients.apim.deletedServices.listBySubscription({ abortSignal: clients.signal })) {
    if (deleted.name?.toLowerCase() !== record.apimService.toLowerCase()) continue;
    const location = (deleted.location ?? record.location).toLowerCase().replace(/\s/g, '');
    const owner =
      deleted.serviceId?.toLowerCase() === expectedId
        ? 'by an earlier lab with this id'
        : `(it was ${deleted.serviceId ?? 'another service'})`;
    return `API Management name ${record.apimService} is held by a soft-deleted service ${owner}, until ${deleted.scheduledPurgeDate?.toISOString() ?? '48 h after deletion'}. Fix: az apim deletedservice purge --service-name ${record.apimService} --location ${location}, or pick another --lab-id`;
  }
  const availability = await clients.apim.apiManagementService.checkNameAvailability(
    { name: record.apimService },
    { abortSignal: clients.signal },
  );
  // Taken by this lab's own service, left by a run that failed before recording it: resumed, not a conflict.
  if (
    availability.nameAvailable === false &&
    (await ifFound(
      clients.apim.apiManagementService.get(record.resourceGroup, record.apimService, { abortSignal: clients.signal }),
    )) !== undefined
  )
    return undefined;
  if (availability.nameAvailable === false)
    return `API Management name ${record.apimService} is not available (${availability.reason ?? '?'}: ${availability.message ?? ''}). Fix: pick another --lab-id`;
  return undefined;
}

async function checkOpenAiName({ clients, record }: PreflightOptions, account: string): Promise<string | undefined> {
  for await (const deleted of clients.openai.deletedAccounts.list({ abortSignal: clients.signal })) {
    if (deleted.name?.toLowerCase() !== account.toLowerCase()) continue;
    // Location and resource group are read from the id; the location field may be a display name.
    const match = /\/locations\/([^/]+)\/resourceGroups\/([^/]+)\/deletedAccounts\//i.exec(deleted.id ?? '');
    const where = match
      ? `--location ${match[1]} --resource-group ${match[2]}`
      : `--location ${record.location} --resource-group ${record.resourceGroup}`;
    return `Azure OpenAI name ${account} is held by a soft-deleted account. Fix: az cognitiveservices account purge --name ${account} ${where}, or pick another --lab-id`;
  }
  const domain = await clients.openai.checkDomainAvailability(account, 'Microsoft.CognitiveServices/accounts', {
    kind: 'OpenAI',
    abortSignal: clients.signal,
  });
  if (
    domain.isSubdomainAvailable === false &&
    (await ifFound(clients.openai.accounts.get(record.resourceGroup, account, { abortSignal: clients.signal }))) !==
      undefined
  )
    return undefined;
  if (domain.isSubdomainAvailable === false)
    return `Azure OpenAI subdomain ${account} is taken (${domain.reason ?? '?'}). Fix: pick another --lab-id`;
  return undefined;
}
