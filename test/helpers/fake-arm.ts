import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { http, HttpResponse } from 'msw';
import { setupServer, type SetupServer } from 'msw/node';
import type { TokenCredential } from '@azure/identity';
import { schemaProblem } from './arm-schemas.ts';
import { policyProblems } from './fake-apim-policy.ts';

/**
 * A fake Azure Resource Manager: MSW handlers that keep state and speak ARM's protocol the way
 * the real service does (shared/notes/arm-provisioning.md §2), for the real `@azure/arm-*`
 * clients to drive. Long-running operations: APIM answers 201 with Azure-AsyncOperation and
 * Location, Azure OpenAI accounts 201 with provisioningState (body polling), deployments 201
 * with Azure-AsyncOperation, deletes and purges 202 with Location. Deleting a resource group
 * soft-deletes its APIM services and accounts; re-creating their names then conflicts
 * (ServiceAlreadyExistsInSoftDeletedState, FlagMustBeSetForRestore) until they are purged.
 * Faults are injected by request; every request is logged.
 */
export const FAKE_SUBSCRIPTION = '00000000-0000-4000-8000-00000000a11b';
export const FAKE_CALLER_OID = '11111111-2222-4333-8444-555555555555';
const ARM = 'https://management.azure.com';

/** The key the fake signs its tokens with: only tokens from fakeCredential or the fake's Entra endpoint pass its check. */
const TOKEN_KEY = randomBytes(32);
const MANAGEMENT_AUDIENCES = [
  'https://management.azure.com',
  'https://management.azure.com/',
  'https://management.core.windows.net/',
];

/** A JWT-shaped token signed (HS256) with the fake's key, as Entra issues for ARM (`aud` the management audience). */
export function fakeToken(claims: Record<string, unknown>): string {
  const head = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const body = Buffer.from(
    JSON.stringify({ aud: 'https://management.azure.com', exp: Math.floor(Date.now() / 1000) + 3600, ...claims }),
  ).toString('base64url');
  return `${head}.${body}.${createHmac('sha256', TOKEN_KEY).update(`${head}.${body}`).digest('base64url')}`;
}

/** A credential whose tokens name a user, as Entra's ARM tokens do; `claims` overrides them (another audience, an expired `exp`). */
export function fakeCredential(
  calls?: { count: number },
  claims: Record<string, unknown> = {},
  lifetimeMs = 3_600_000,
): TokenCredential {
  return {
    getToken: async () => {
      if (calls) calls.count += 1;
      const expiresOnTimestamp = Date.now() + lifetimeMs;
      return {
        token: fakeToken({
          oid: FAKE_CALLER_OID,
          tid: 'tenant',
          idtyp: 'user',
          exp: Math.floor(expiresOnTimestamp / 1000),
          ...claims,
        }),
        expiresOnTimestamp,
      };
    },
  };
}

/** A credential that hands out a token nobody issued (what a wrong tenant's or a forged token is to ARM). */
export function bogusCredential(): TokenCredential {
  const claims = Buffer.from(JSON.stringify({ oid: FAKE_CALLER_OID, aud: 'https://management.azure.com' })).toString(
    'base64url',
  );
  return {
    getToken: async () => ({ token: `eyJhbGciOiJub25lIn0.${claims}.`, expiresOnTimestamp: Date.now() + 3_600_000 }),
  };
}

/** ARM's answer to a request whose bearer token it does not accept, or undefined when it does (codes and messages as ARM sends them). */
function checkBearer(header: string | null): Response | undefined {
  if (header === null || !/^Bearer /i.test(header))
    return error(401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
  const [head = '', body = '', signature = ''] = header.slice(7).trim().split('.');
  const expected = createHmac('sha256', TOKEN_KEY).update(`${head}.${body}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return error(401, 'InvalidAuthenticationToken', 'The access token is invalid.');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { aud?: string; exp?: number };
  if (!MANAGEMENT_AUDIENCES.includes(String(claims.aud))) {
    return error(
      401,
      'InvalidAuthenticationTokenAudience',
      `The access token has been obtained for wrong audience or resource '${String(claims.aud)}'. It should exactly match with one of the allowed audiences '${MANAGEMENT_AUDIENCES.join("','")}'.`,
    );
  }
  if (typeof claims.exp === 'number' && claims.exp * 1000 < Date.now())
    return error(
      401,
      'ExpiredAuthenticationToken',
      'The access token expiry UTC time is earlier than current UTC time.',
    );
  return undefined;
}

/**
 * The api-versions the fake serves, per provider namespace: those the SDKs in package-lock
 * send, and a few older ones the published specs carry. Any other is refused as ARM does
 * (InvalidApiVersionParameter).
 */
export const SUPPORTED_API_VERSIONS: Record<string, readonly string[]> = {
  'microsoft.resources': ['2025-04-01', '2024-11-01', '2024-03-01', '2022-09-01', '2021-04-01'],
  'microsoft.cognitiveservices': ['2025-09-01', '2025-06-01', '2024-10-01', '2023-05-01'],
  'microsoft.apimanagement': ['2024-05-01', '2023-09-01-preview', '2023-05-01-preview', '2022-08-01', '2021-08-01'],
  'microsoft.authorization': ['2022-04-01', '2020-10-01', '2015-07-01'],
  'microsoft.storage': ['2025-08-01', '2025-01-01', '2024-01-01', '2023-05-01'],
  'microsoft.app': ['2026-07-01', '2026-01-01', '2025-07-01', '2025-01-01', '2024-03-01'],
};

/** The provider namespace whose api-version applies to a path under the subscription (`rest`, lower case). */
function namespaceOf(rest: string): string | undefined {
  if (rest.startsWith('/providers/fake.')) return undefined;
  // Provider registration and resource groups are Microsoft.Resources' own API.
  if (/^\/providers\/[^/]+(\/register)?$/.test(rest) || /^\/resourcegroups\/[^/]+$/.test(rest))
    return 'microsoft.resources';
  const all = [...rest.matchAll(/\/providers\/([^/]+)/g)];
  return all.at(-1)?.[1] ?? 'microsoft.resources';
}

/** Built-in role definitions the fake's caller can hold (Microsoft Learn: Azure built-in roles; Contributor's notActions trimmed to those that matter here). */
export const CALLER_ROLES = {
  owner: [{ actions: ['*'], notActions: [] }],
  contributor: [
    {
      actions: ['*'],
      notActions: [
        'Microsoft.Authorization/*/Delete',
        'Microsoft.Authorization/*/Write',
        'Microsoft.Authorization/elevateAccess/Action',
        'Microsoft.Blueprint/blueprintAssignments/write',
        'Microsoft.Blueprint/blueprintAssignments/delete',
        'Microsoft.Compute/galleries/share/action',
        'Microsoft.Purview/consents/write',
        'Microsoft.Purview/consents/delete',
      ],
    },
  ],
  'contributor+rbac-admin': [
    {
      actions: ['*'],
      notActions: [
        'Microsoft.Authorization/*/Delete',
        'Microsoft.Authorization/*/Write',
        'Microsoft.Authorization/elevateAccess/Action',
      ],
    },
    {
      actions: [
        'Microsoft.Authorization/roleAssignments/write',
        'Microsoft.Authorization/roleAssignments/delete',
        'Microsoft.Authorization/*/read',
        'Microsoft.Resources/subscriptions/read',
        'Microsoft.Resources/subscriptions/resourceGroups/read',
      ],
      notActions: [],
    },
  ],
  reader: [{ actions: ['*/read'], notActions: [] }],
} as const;
export type CallerRole = keyof typeof CALLER_ROLES;

export type FaultResponse =
  | { status: number; code: string; message?: string; headers?: Record<string, string> }
  | { lroFailure: { code: string; message: string } };

interface Fault {
  method: string;
  path: RegExp;
  response: FaultResponse;
  remaining: number;
}

interface Resource {
  id: string;
  kind: string;
  body: Record<string, unknown>;
  /** Date.now() after which the resource's create finishes. */
  readyAt: number;
  failure?: { code: string; message: string };
}

interface Operation {
  resourceKey?: string;
  readyAt: number;
  failure?: { code: string; message: string };
  onDone?: () => void;
}

export interface FakeArmOptions {
  /** How long each kind of create takes (ms), for the wall-time test; default 0 (done on the first poll). */
  createMs?: Partial<Record<'apim' | 'account' | 'deployment' | 'resource-group-delete' | 'purge', number>>;
  /**
   * APIM's activation by tier, as Azure takes it in minutes (classic tiers: tens of minutes; v2:
   * minutes), scaled to ms for a test: e.g. `{ classic: 3000, v2: 600 }`. Overrides `createMs.apim`.
   */
  apimActivationMs?: Partial<Record<'classic' | 'v2' | 'consumption', number>>;
  /** Added to every answer (ms): a round trip to ARM. */
  latencyMs?: number;
}

/** A model as ListLocationModels lists it (the fields preflight reads). */
export interface FakeModel {
  kind: string;
  skuName: string;
  model: {
    format: string;
    name: string;
    version: string;
    lifecycleStatus?: string;
    deprecation?: { inference?: string; fineTune?: string };
    skus: Array<{ name: string; usageName: string; deprecationDate?: string }>;
  };
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
}

/** The models a region offers (ListLocationModels example, trimmed): lifecycle and retirement dates as Azure lists them. */
const MODELS: readonly FakeModel[] = [
  {
    kind: 'OpenAI',
    skuName: 'S0',
    model: {
      format: 'OpenAI',
      name: 'gpt-4o-mini',
      version: '2024-07-18',
      lifecycleStatus: 'GenerallyAvailable',
      deprecation: { inference: '2027-03-31T00:00:00Z' },
      skus: [
        { name: 'GlobalStandard', usageName: 'OpenAI.GlobalStandard.gpt-4o-mini' },
        { name: 'Standard', usageName: 'OpenAI.Standard.gpt-4o-mini' },
      ],
    },
  },
  {
    kind: 'OpenAI',
    skuName: 'S0',
    model: {
      format: 'OpenAI',
      name: 'gpt-4o',
      version: '2024-11-20',
      lifecycleStatus: 'GenerallyAvailable',
      skus: [{ name: 'GlobalStandard', usageName: 'OpenAI.GlobalStandard.gpt-4o' }],
    },
  },
  {
    kind: 'OpenAI',
    skuName: 'S0',
    model: {
      format: 'OpenAI',
      name: 'gpt-35-turbo',
      version: '1106',
      lifecycleStatus: 'Deprecated',
      deprecation: { inference: '2025-11-14T00:00:00Z' },
      skus: [{ name: 'Standard', usageName: 'OpenAI.Standard.gpt-35-turbo' }],
    },
  },
];

/** The APIM tiers and the regions that offer them (ApiManagementSkus_List, trimmed; display names as Azure lists them). */
const APIM_SKU_REGIONS: Record<string, string[]> = {
  Developer: ['East US', 'East US 2', 'Sweden Central', 'West Europe', 'Australia East'],
  Basic: ['East US', 'East US 2', 'Sweden Central', 'West Europe', 'Australia East'],
  Standard: ['East US', 'East US 2', 'Sweden Central', 'West Europe', 'Australia East'],
  Premium: ['East US', 'East US 2', 'Sweden Central', 'West Europe', 'Australia East'],
  Consumption: ['East US', 'East US 2', 'West Europe'],
  BasicV2: ['East US 2', 'Sweden Central', 'West Europe', 'Australia East'],
  StandardV2: ['East US 2', 'Sweden Central', 'West Europe', 'Australia East'],
};

export class FakeArm {
  readonly subscriptionId = FAKE_SUBSCRIPTION;
  readonly log: LoggedRequest[] = [];
  /** How many times each resource (lower-cased id) was created, i.e. PUT while absent. */
  readonly creations = new Map<string, number>();
  readonly resources = new Map<string, Resource>();
  readonly deletedServices = new Map<string, { name: string; location: string; serviceId: string }>();
  readonly deletedAccounts = new Map<string, { name: string; location: string; resourceGroup: string }>();
  readonly providers = new Map<string, string>([
    ['microsoft.cognitiveservices', 'Registered'],
    ['microsoft.apimanagement', 'Registered'],
  ]);
  /** Quota left per usage name, in thousands of tokens per minute. */
  readonly quotaLimitK = new Map<string, number>([['OpenAI.GlobalStandard.gpt-4o-mini', 1000]]);
  readonly takenNames = new Set<string>();
  /** The API policy and diagnostics a deployed service returns (set by tests). */
  diagnostics: Array<Record<string, unknown>> = [];
  tokensIssued = 0;
  /** The role the signed-in caller holds on the subscription: what Permissions – List answers, and whether role assignment writes are refused (403 AuthorizationFailed). */
  callerRole: CallerRole = 'owner';
  /** The region's model list; tests retire a model by editing its lifecycleStatus or deprecation. */
  models: FakeModel[] = MODELS.map((m) => structuredClone(m));
  /** APIM tier → regions that offer it; tests take a region away. */
  apimSkuRegions: Record<string, string[]> = structuredClone(APIM_SKU_REGIONS);
  /** Azure OpenAI for this subscription: available, or refused as Azure refuses a subscription without access (and CheckSkuAvailability says so). */
  openaiAccess: 'granted' | 'SpecialFeatureOrQuotaIdRequired' = 'granted';
  /** An Azure Policy assignment that denies Azure OpenAI accounts with publicNetworkAccess Enabled (RequestDisallowedByPolicy). */
  denyPublicNetworkAccess = false;
  /** PUTs refused because the resource was still being created (409). */
  readonly conflicts: string[] = [];
  /** Policies refused at PUT, as APIM refuses them (why). */
  readonly policyRefusals: string[] = [];
  /** PUT bodies refused for not matching Microsoft's schema (path: why). */
  readonly schemaRefusals: string[] = [];
  /** Bearer tokens ARM refused (401), by code. */
  readonly refusedTokens: string[] = [];
  /** More resource providers (test/helpers/fake-aca.ts): asked first, for paths under the subscription; undefined passes on. */
  readonly extensions: Array<
    (
      request: Request,
      rest: string,
      body: Record<string, unknown>,
    ) => Response | undefined | Promise<Response | undefined>
  > = [];
  private readonly faults: Fault[] = [];
  private readonly operations = new Map<string, Operation>();
  private nextOperation = 1;
  private readonly options: FakeArmOptions;
  private readonly server: SetupServer;

  constructor(options: FakeArmOptions = {}) {
    this.options = options;
    this.server = setupServer(
      http.all(`${ARM}/*`, async ({ request }) => this.answer(request)),
      // Entra ID's token endpoint, for the one test that runs the real DefaultAzureCredential
      // (EnvironmentCredential with a client secret).
      http.post('https://login.microsoftonline.com/:tenant/oauth2/v2.0/token', () => {
        this.tokensIssued += 1;
        return HttpResponse.json({
          token_type: 'Bearer',
          expires_in: 3599,
          ext_expires_in: 3599,
          access_token: fakeToken({ oid: FAKE_CALLER_OID, idtyp: 'app' }),
        });
      }),
    );
  }

  listen(): this {
    this.server.listen({ onUnhandledFrame: 'error' });
    return this;
  }

  close(): void {
    this.server.close();
  }

  /** Adds request handlers to the fake's server (a data plane, such as Azure Files). */
  use(...handlers: Parameters<SetupServer['use']>): void {
    this.server.use(...handlers);
  }

  /** Makes the next `times` requests matching method and path fail (path: a regex on the lower-cased path). */
  inject(method: string, path: RegExp, response: FaultResponse, times = 1): void {
    this.faults.push({ method, path, response, remaining: times });
  }

  /** The requests that change something (PUT, DELETE, PATCH, POST …/register), as `METHOD path`; name checks and key listings are reads. */
  writes(): string[] {
    return this.log
      .filter(
        (r) => ['PUT', 'DELETE', 'PATCH'].includes(r.method) || (r.method === 'POST' && r.path.endsWith('/register')),
      )
      .map((r) => `${r.method} ${r.path}`);
  }

  resourceGroup(name: string): Resource | undefined {
    return this.resources.get(this.rgKey(name));
  }

  /** Counts a creation (a PUT while absent), as the built-in providers do. */
  countCreation(key: string): void {
    this.created(key);
  }

  /** Puts a resource group there, as if someone else had made it. */
  seedResourceGroup(name: string, tags: Record<string, string>): void {
    const id = `/subscriptions/${this.subscriptionId}/resourceGroups/${name}`;
    this.resources.set(this.rgKey(name), {
      id,
      kind: 'resource-group',
      body: { id, name, location: 'eastus2', tags, properties: { provisioningState: 'Succeeded' } },
      readyAt: 0,
    });
  }

  private rgKey(name: string): string {
    return `/subscriptions/${this.subscriptionId}/resourcegroups/${name}`.toLowerCase();
  }

  private async answer(request: Request): Promise<Response> {
    if (this.options.latencyMs) await new Promise((r) => setTimeout(r, this.options.latencyMs));
    const url = new URL(request.url);
    const path = url.pathname.toLowerCase();
    const response =
      checkBearer(request.headers.get('authorization')) ??
      this.checkApiVersion(url, path) ??
      (await this.route(request, url, path));
    if (response.status === 401)
      this.refusedTokens.push(((await response.clone().json()) as { error: { code: string } }).error.code);
    this.log.push({ method: request.method, path: url.pathname, status: response.status });
    return response;
  }

  /** An api-version the operation's provider does not serve is refused before anything else, as ARM does. */
  private checkApiVersion(url: URL, path: string): Response | undefined {
    const sub = `/subscriptions/${this.subscriptionId}`;
    if (!path.startsWith(sub)) return undefined;
    const namespace = namespaceOf(path.slice(sub.length));
    const supported = namespace === undefined ? undefined : SUPPORTED_API_VERSIONS[namespace];
    if (supported === undefined) return undefined;
    const given = url.searchParams.get('api-version');
    if (given === null)
      return error(
        400,
        'MissingApiVersionParameter',
        'The api-version query parameter (?api-version=) is required for all requests.',
      );
    if (!supported.includes(given))
      return error(
        400,
        'InvalidApiVersionParameter',
        `The api-version '${given}' is invalid. The supported versions are '${supported.join(',')}'.`,
      );
    return undefined;
  }

  private takeFault(method: string, path: string): FaultResponse | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && f.method === method && f.path.test(path));
    if (!fault) return undefined;
    fault.remaining -= 1;
    return fault.response;
  }

  private async route(request: Request, url: URL, path: string): Promise<Response> {
    const fault = this.takeFault(request.method, path);
    if (fault && 'status' in fault) return error(fault.status, fault.code, fault.message ?? fault.code, fault.headers);
    const lroFailure = fault && 'lroFailure' in fault ? fault.lroFailure : undefined;
    const body =
      request.method === 'PUT' || request.method === 'POST' || request.method === 'PATCH'
        ? ((await request.json().catch(() => ({}))) as Record<string, unknown>)
        : {};
    const sub = `/subscriptions/${this.subscriptionId}`;
    if (!path.startsWith(sub))
      return error(404, 'SubscriptionNotFound', `The subscription '${path.split('/')[2]}' could not be found.`);
    const rest = path.slice(sub.length);
    if (request.method === 'PUT') {
      // A provider the subscription has not registered takes no resources.
      const namespace = namespaceOf(rest);
      if (
        namespace !== undefined &&
        namespace !== 'microsoft.resources' &&
        namespace !== 'microsoft.authorization' &&
        this.providers.has(namespace) &&
        this.providers.get(namespace) !== 'Registered'
      ) {
        const display = namespace
          .replace(/(^|\.)(\w)/g, (m) => m.toUpperCase())
          .replace('Cognitiveservices', 'CognitiveServices')
          .replace('Apimanagement', 'ApiManagement');
        return error(
          409,
          'MissingSubscriptionRegistration',
          `The subscription is not registered to use namespace '${display}'. See https://aka.ms/rps-not-found for how to register subscriptions.`,
        );
      }
      // Every body is checked against Microsoft's published schema for its resource type before anything else.
      const problem = schemaProblem(rest, body);
      if (problem) {
        this.schemaRefusals.push(`${rest}: ${problem.message}`);
        return error(400, problem.code, problem.message);
      }
    }
    let m: RegExpExecArray | null;
    for (const extension of this.extensions) {
      const answered = await extension(request, rest, body);
      if (answered) return answered;
    }

    if ((m = /^\/providers\/fake\.operations\/operations\/(\d+)$/.exec(rest))) return this.pollOperation(m[1]!);
    if ((m = /^\/providers\/fake\.operations\/locations\/(\d+)$/.exec(rest))) return this.pollLocation(m[1]!);
    if ((m = /^\/providers\/([^/]+)\/register$/.exec(rest))) return this.registerProvider(m[1]!);
    if ((m = /^\/providers\/([^/.]+\.[^/]+)$/.exec(rest)))
      return json(200, { namespace: m[1], registrationState: this.providers.get(m[1]!) ?? 'NotRegistered' });
    if ((m = /^\/providers\/microsoft\.cognitiveservices\/locations\/[^/]+\/models$/.exec(rest)))
      return json(200, { value: this.models });
    if ((m = /^\/providers\/microsoft\.cognitiveservices\/locations\/([^/]+)\/checkskuavailability$/.exec(rest)))
      return this.checkSkuAvailability(body);
    if (rest === '/providers/microsoft.apimanagement/skus') return this.apimSkus();
    if ((m = /^\/providers\/microsoft\.cognitiveservices\/locations\/[^/]+\/usages$/.exec(rest))) return this.usages();
    if (rest === '/providers/microsoft.cognitiveservices/checkdomainavailability') {
      const name = String(body['subdomainName']).toLowerCase();
      return json(200, {
        subdomainName: name,
        type: body['type'],
        isSubdomainAvailable: !this.takenNames.has(name) && !this.deletedAccounts.has(name),
        reason: this.takenNames.has(name) ? 'Sub domain name is already in use.' : undefined,
      });
    }
    if (rest === '/providers/microsoft.cognitiveservices/deletedaccounts')
      return json(200, { value: [...this.deletedAccounts.values()].map((d) => this.deletedAccountBody(d)) });
    if (
      (m =
        /^\/providers\/microsoft\.cognitiveservices\/locations\/([^/]+)\/resourcegroups\/([^/]+)\/deletedaccounts\/([^/]+)$/.exec(
          rest,
        ))
    )
      return this.deletedAccount(request.method, m[3]!);
    if (rest === '/providers/microsoft.apimanagement/checknameavailability') {
      const name = String(body['name']).toLowerCase();
      const taken = this.takenNames.has(name) || this.deletedServices.has(name);
      return json(200, {
        nameAvailable: !taken,
        reason: taken ? 'AlreadyExists' : 'Valid',
        message: taken ? `${name} is already in use` : '',
      });
    }
    if (rest === '/providers/microsoft.apimanagement/deletedservices')
      return json(200, { value: [...this.deletedServices.values()].map((d) => this.deletedServiceBody(d)) });
    if ((m = /^\/providers\/microsoft\.apimanagement\/locations\/([^/]+)\/deletedservices\/([^/]+)$/.exec(rest)))
      return this.deletedService(request.method, m[2]!);
    if ((m = /^\/resourcegroups\/([^/]+)$/.exec(rest)))
      return this.resourceGroupRoute(request.method, url.pathname.split('/')[4]!, body);
    if ((m = /^\/resourcegroups\/([^/]+)\/providers\/microsoft\.authorization\/roleassignments\/([^/]+)$/.exec(rest)))
      return this.roleAssignment(request.method, url.pathname, body);
    if ((m = /^\/resourcegroups\/([^/]+)\/providers\/microsoft\.authorization\/permissions$/.exec(rest))) {
      if (!this.resources.has(this.rgKey(m[1]!)))
        return error(
          404,
          'ResourceGroupNotFound',
          `Resource group '${url.pathname.split('/')[4]}' could not be found.`,
        );
      return json(200, {
        value: CALLER_ROLES[this.callerRole].map((p) => ({
          actions: [...p.actions],
          notActions: [...p.notActions],
          dataActions: [],
          notDataActions: [],
        })),
      });
    }

    const rg = /^\/resourcegroups\/([^/]+)/.exec(rest)?.[1];
    if (rg !== undefined && !this.resources.has(this.rgKey(rg)))
      return error(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`);
    if (
      (m =
        /^\/resourcegroups\/[^/]+\/providers\/microsoft\.cognitiveservices\/accounts\/([^/]+)\/providers\/microsoft\.authorization\/roleassignments\/[^/]+$/.exec(
          rest,
        ))
    ) {
      return this.roleAssignment(request.method, url.pathname, body);
    }
    if ((m = /^\/resourcegroups\/[^/]+\/providers\/microsoft\.cognitiveservices\/accounts\/([^/]+)$/.exec(rest)))
      return this.account(request.method, url.pathname, m[1]!, body, lroFailure);
    if (
      (m = /^\/resourcegroups\/[^/]+\/providers\/microsoft\.cognitiveservices\/accounts\/([^/]+)\/listkeys$/.exec(rest))
    ) {
      const account = this.resources.get(path.replace(/\/listkeys$/, ''));
      if (
        account?.body['properties'] &&
        (account.body['properties'] as { disableLocalAuth?: boolean }).disableLocalAuth
      )
        return error(400, 'BadRequest', 'Failed to list key. disableLocalAuth is set to be true');
      return json(200, { key1: 'fake-openai-key-1-0123456789abcdef', key2: 'fake-openai-key-2-0123456789abcdef' });
    }
    if (
      (m =
        /^\/resourcegroups\/[^/]+\/providers\/microsoft\.cognitiveservices\/accounts\/([^/]+)\/deployments\/([^/]+)$/.exec(
          rest,
        ))
    )
      return this.deployment(request.method, url.pathname, body, lroFailure);
    if ((m = /^\/resourcegroups\/[^/]+\/providers\/microsoft\.apimanagement\/service\/([^/]+)$/.exec(rest)))
      return this.apimService(request.method, url.pathname, m[1]!, body, lroFailure);
    if ((m = /^(\/resourcegroups\/[^/]+\/providers\/microsoft\.apimanagement\/service\/[^/]+)\/(.+)$/.exec(rest)))
      return this.apimChild(request.method, url.pathname, sub + m[1]!, m[2]!, body);
    return error(404, 'NotFoundInFake', `The fake ARM has no route for ${request.method} ${url.pathname}`);
  }

  // --- long-running operations -----------------------------------------------------------

  private startOperation(operation: Operation): string {
    const id = String(this.nextOperation++);
    this.operations.set(id, operation);
    return id;
  }

  private pollOperation(id: string): Response {
    const operation = this.operations.get(id);
    if (!operation) return error(404, 'OperationNotFound', `operation ${id}`);
    if (Date.now() < operation.readyAt) return json(200, { id, status: 'InProgress' });
    if (operation.failure) {
      if (operation.resourceKey) setState(this.resources.get(operation.resourceKey), 'Failed');
      return json(200, { id, status: 'Failed', error: operation.failure });
    }
    operation.onDone?.();
    operation.onDone = undefined;
    return json(200, { id, status: 'Succeeded' });
  }

  /** Location polling: 202 while running, then 200 (deletes and purges). */
  private pollLocation(id: string): Response {
    const operation = this.operations.get(id);
    if (!operation) return error(404, 'OperationNotFound', `operation ${id}`);
    if (Date.now() < operation.readyAt)
      return new HttpResponse(null, {
        status: 202,
        headers: { location: `${ARM}/subscriptions/${this.subscriptionId}/providers/Fake.Operations/locations/${id}` },
      });
    operation.onDone?.();
    operation.onDone = undefined;
    return new HttpResponse(null, { status: 200 });
  }

  private accepted(operation: Operation): Response {
    const id = this.startOperation(operation);
    return new HttpResponse(null, {
      status: 202,
      headers: { location: `${ARM}/subscriptions/${this.subscriptionId}/providers/Fake.Operations/locations/${id}` },
    });
  }

  private apimReadyAt(sku: string): number {
    const tier = /v2$/i.test(sku) ? 'v2' : /^consumption$/i.test(sku) ? 'consumption' : 'classic';
    const ms = this.options.apimActivationMs?.[tier];
    return ms !== undefined ? Date.now() + ms : this.readyAt('apim');
  }

  private readyAt(kind: keyof NonNullable<FakeArmOptions['createMs']>): number {
    return Date.now() + (this.options.createMs?.[kind] ?? 0);
  }

  private created(key: string): void {
    this.creations.set(key, (this.creations.get(key) ?? 0) + 1);
  }

  // --- subscription-level ------------------------------------------------------------------

  private registerProvider(namespace: string): Response {
    // Registration takes a while on Azure: the first check after register still says Registering.
    this.providers.set(namespace, 'Registering');
    setTimeout(() => this.providers.set(namespace, 'Registered'), 5);
    return json(200, { namespace, registrationState: 'Registering' });
  }

  private checkSkuAvailability(body: Record<string, unknown>): Response {
    const skus = Array.isArray(body['skus']) ? (body['skus'] as string[]) : [];
    const available = this.openaiAccess === 'granted';
    return json(200, {
      value: skus.map((skuName) => ({
        kind: body['kind'],
        type: body['type'],
        skuName,
        skuAvailable: available,
        ...(available
          ? {}
          : {
              reason: 'SpecialFeatureOrQuotaIdRequired',
              message: "The subscription does not have QuotaId/Feature required by SKU 'S0' from kind 'OpenAI'.",
            }),
      })),
    });
  }

  private apimSkus(): Response {
    const value = Object.entries(this.apimSkuRegions).map(([name, locations]) => ({
      resourceType: 'service',
      name,
      tier: name,
      locations,
      restrictions: [],
    }));
    return json(200, { value });
  }

  private usages(): Response {
    const value = [...this.quotaLimitK].map(([name, limit]) => ({
      name: { value: name, localizedValue: name },
      limit,
      currentValue: this.usedQuota(name),
      unit: 'Count',
    }));
    return json(200, { value });
  }

  private usedQuota(usageName: string): number {
    let used = 0;
    for (const r of this.resources.values())
      if (
        r.kind === 'deployment' &&
        `OpenAI.${(r.body['sku'] as { name: string }).name}.${r.body['modelName']}` === usageName
      )
        used += (r.body['sku'] as { capacity: number }).capacity;
    return used;
  }

  // --- resource groups ---------------------------------------------------------------------

  private resourceGroupRoute(method: string, name: string, body: Record<string, unknown>): Response {
    const key = this.rgKey(name);
    const existing = this.resources.get(key);
    if (method === 'PUT') {
      const id = `/subscriptions/${this.subscriptionId}/resourceGroups/${name}`;
      const group: Resource = {
        id,
        kind: 'resource-group',
        body: {
          id,
          name,
          location: body['location'],
          tags: body['tags'] ?? {},
          properties: { provisioningState: 'Succeeded' },
        },
        readyAt: 0,
      };
      if (!existing) this.created(key);
      this.resources.set(key, group);
      return json(existing ? 200 : 201, group.body);
    }
    if (!existing)
      return method === 'HEAD'
        ? new HttpResponse(null, { status: 404 })
        : error(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`);
    if (method === 'HEAD') return new HttpResponse(null, { status: 204 });
    if (method === 'GET') return json(200, existing.body);
    if (method === 'DELETE') {
      return this.accepted({ readyAt: this.readyAt('resource-group-delete'), onDone: () => this.deleteGroup(key) });
    }
    return error(405, 'MethodNotAllowed', method);
  }

  /** Deleting a group soft-deletes its APIM services and Azure OpenAI accounts (48 h on Azure). */
  private deleteGroup(key: string): void {
    const group = this.resources.get(key);
    for (const [k, r] of [...this.resources]) {
      if (!k.startsWith(`${key}/`)) continue;
      this.resources.delete(k);
      const name = r.id.split('/').at(-1)!;
      if (r.kind === 'apim')
        this.deletedServices.set(name.toLowerCase(), { name, location: String(r.body['location']), serviceId: r.id });
      if (r.kind === 'account')
        this.deletedAccounts.set(name.toLowerCase(), {
          name,
          location: String(r.body['location']),
          resourceGroup: String(group?.body['name']),
        });
      if (r.kind === 'apim' || r.kind === 'account') this.takenNames.delete(name.toLowerCase());
    }
    this.resources.delete(key);
  }

  // --- Azure OpenAI ------------------------------------------------------------------------

  private account(
    method: string,
    pathname: string,
    name: string,
    body: Record<string, unknown>,
    lroFailure?: Operation['failure'],
  ): Response {
    const key = pathname.toLowerCase();
    const existing = this.resources.get(key);
    if (method === 'GET') {
      if (!existing)
        return error(
          404,
          'ResourceNotFound',
          `The Resource 'Microsoft.CognitiveServices/accounts/${name}' was not found.`,
        );
      if (Date.now() >= existing.readyAt) setState(existing, existing.failure ? 'Failed' : 'Succeeded');
      return json(200, existing.body);
    }
    if (method !== 'PUT') return error(405, 'MethodNotAllowed', method);
    const properties = (body['properties'] ?? {}) as Record<string, unknown>;
    if (this.deletedAccounts.has(name) && properties['restore'] !== true) {
      return error(
        409,
        'FlagMustBeSetForRestore',
        `An existing resource with ID '${pathname}' has been soft-deleted. To restore the resource, you must specify 'restore' to be 'true' in the property. If you don't want to restore existing resource, please purge it first.`,
      );
    }
    if (this.openaiAccess !== 'granted')
      return error(
        400,
        'SpecialFeatureOrQuotaIdRequired',
        "The subscription does not have QuotaId/Feature required by SKU 'S0' from kind 'OpenAI' or contains blocked QuotaId/Feature.",
      );
    if (this.denyPublicNetworkAccess && properties['publicNetworkAccess'] !== 'Disabled') {
      return error(
        403,
        'RequestDisallowedByPolicy',
        `Resource '${name}' was disallowed by policy. Policy identifiers: '[{"policyAssignment":{"name":"Deny public network access for Azure AI services","id":"/subscriptions/${this.subscriptionId}/providers/Microsoft.Authorization/policyAssignments/deny-ai-public"},"policyDefinition":{"name":"Azure AI Services resources should restrict network access"}}]'.`,
      );
    }
    if (!existing && this.takenNames.has(name))
      return error(
        409,
        'CustomDomainInUse',
        `Please pick a different name. The subdomain name '${name}' is not available as it's already used by a resource.`,
      );
    const subdomain = String(properties['customSubDomainName'] ?? name);
    const resource: Resource = {
      id: pathname,
      kind: 'account',
      body: {
        ...body,
        id: pathname,
        name: pathname.split('/').at(-1),
        properties: {
          ...properties,
          endpoint: `https://${subdomain}.openai.azure.com/`,
          provisioningState: 'Creating',
        },
      },
      readyAt: this.readyAt('account'),
      failure: lroFailure,
    };
    if (!existing) this.created(key);
    this.takenNames.add(name);
    this.resources.set(key, resource);
    return json(existing ? 200 : 201, resource.body);
  }

  private deployment(
    method: string,
    pathname: string,
    body: Record<string, unknown>,
    lroFailure?: Operation['failure'],
  ): Response {
    const key = pathname.toLowerCase();
    const existing = this.resources.get(key);
    if (method === 'GET')
      return existing ? json(200, existing.body) : error(404, 'DeploymentNotFound', `The deployment was not found.`);
    if (method !== 'PUT') return error(405, 'MethodNotAllowed', method);
    const account = this.resources.get(key.replace(/\/deployments\/[^/]+$/, ''));
    if (!account || (account.body['properties'] as { provisioningState: string }).provisioningState !== 'Succeeded')
      return error(
        409,
        'AccountProvisioningStateInvalid',
        'Call to Microsoft.CognitiveServices/accounts failed. Account is not in a succeeded state.',
      );
    const busy = [...this.resources.values()].some(
      (r) =>
        r.kind === 'deployment' &&
        r.id.toLowerCase() !== key &&
        r.id.toLowerCase().startsWith(key.replace(/[^/]+$/, '')) &&
        (r.body['properties'] as { provisioningState: string }).provisioningState === 'Creating',
    );
    if (busy)
      return error(
        409,
        'RequestConflict',
        'Another operation is being performed on the parent resource. Please try again later.',
      );
    const model = ((body['properties'] as { model?: { name?: string } } | undefined)?.model ?? {}) as {
      name?: string;
      version?: string;
      format?: string;
    };
    const listed = this.models.find((m) => m.model.name === model.name && m.model.version === model.version);
    const retiredAt =
      listed?.model.deprecation?.inference !== undefined ? Date.parse(listed.model.deprecation.inference) : NaN;
    if (listed && (listed.model.lifecycleStatus === 'Deprecated' || retiredAt <= Date.now())) {
      const since = new Date(Number.isFinite(retiredAt) ? retiredAt : 0);
      const stamp = `${String(since.getUTCMonth() + 1).padStart(2, '0')}/${String(since.getUTCDate()).padStart(2, '0')}/${since.getUTCFullYear()} 00:00:00`;
      return error(
        400,
        'ServiceModelDeprecated',
        `The model 'Format:${model.format ?? 'OpenAI'},Name:${model.name},Version:${model.version}' has been deprecated since ${stamp}.`,
      );
    }
    if (listed?.model.lifecycleStatus === 'Deprecating')
      return error(
        400,
        'ServiceModelDeprecating',
        `The model 'Format:${model.format ?? 'OpenAI'},Name:${model.name},Version:${model.version}' is in deprecating state and cannot be used for new deployments.`,
      );
    // The region's quota for this model and SKU, as usages reports it, bounds a new deployment.
    const sku = (body['sku'] ?? {}) as { name?: string; capacity?: number };
    const usageName = `OpenAI.${sku.name}.${model.name}`;
    const limit = this.quotaLimitK.get(usageName);
    const asked =
      (sku.capacity ?? 0) - (existing ? ((existing.body['sku'] as { capacity?: number }).capacity ?? 0) : 0);
    if (limit !== undefined && asked > limit - this.usedQuota(usageName)) {
      return error(
        400,
        'InsufficientQuota',
        `This operation require ${asked} new capacity in quota Tokens Per Minute (thousands) - ${model.name} - ${sku.name}, which is bigger than the current available capacity ${limit - this.usedQuota(usageName)}. The current quota usage is ${this.usedQuota(usageName)} and the quota limit is ${limit} for quota Tokens Per Minute (thousands) - ${model.name} - ${sku.name}.`,
      );
    }
    const resource: Resource = {
      id: pathname,
      kind: 'deployment',
      body: {
        ...body,
        id: pathname,
        name: pathname.split('/').at(-1),
        modelName: model.name,
        properties: { ...(body['properties'] as object), provisioningState: 'Creating' },
      },
      readyAt: this.readyAt('deployment'),
      failure: lroFailure,
    };
    if (!existing) this.created(key);
    this.resources.set(key, resource);
    const operation = this.startOperation({
      resourceKey: key,
      readyAt: resource.readyAt,
      failure: lroFailure,
      onDone: () => setState(resource, 'Succeeded'),
    });
    return json(existing ? 200 : 201, resource.body, {
      'azure-asyncoperation': `${ARM}/subscriptions/${this.subscriptionId}/providers/Fake.Operations/operations/${operation}`,
    });
  }

  private deletedAccountBody(d: { name: string; location: string; resourceGroup: string }): Record<string, unknown> {
    return {
      id: `/subscriptions/${this.subscriptionId}/providers/Microsoft.CognitiveServices/locations/${d.location}/resourceGroups/${d.resourceGroup}/deletedAccounts/${d.name}`,
      name: d.name,
      location: d.location,
      kind: 'OpenAI',
      properties: { deletionDate: new Date().toISOString() },
    };
  }

  private deletedAccount(method: string, name: string): Response {
    const deleted = this.deletedAccounts.get(name);
    if (!deleted) return error(404, 'ResourceNotFound', `The deleted account '${name}' was not found.`);
    if (method === 'GET') return json(200, this.deletedAccountBody(deleted));
    if (method === 'DELETE')
      return this.accepted({ readyAt: this.readyAt('purge'), onDone: () => this.deletedAccounts.delete(name) });
    return error(405, 'MethodNotAllowed', method);
  }

  // --- API Management ------------------------------------------------------------------------

  private apimService(
    method: string,
    pathname: string,
    name: string,
    body: Record<string, unknown>,
    lroFailure?: Operation['failure'],
  ): Response {
    const key = pathname.toLowerCase();
    const existing = this.resources.get(key);
    // Activation ends on Azure's clock, whether or not anyone polls the operation.
    if (existing && Date.now() >= existing.readyAt && !existing.failure) setState(existing, 'Succeeded');
    if (method === 'GET')
      return existing ? json(200, existing.body) : error(404, 'ResourceNotFound', `Api service ${name} was not found.`);
    if (method !== 'PUT') return error(405, 'MethodNotAllowed', method);
    const properties = (body['properties'] ?? {}) as Record<string, unknown>;
    if (this.deletedServices.has(name) && properties['restore'] !== true) {
      return error(
        409,
        'ServiceAlreadyExistsInSoftDeletedState',
        `Api service ${name} was soft-deleted. In order to create the new service with the same name, you have to either undelete the service or purge it.`,
      );
    }
    // A service still activating takes no other operation (ARM's generic 409: Microsoft documents no more specific code).
    const state = existing
      ? (existing.body['properties'] as { provisioningState?: string }).provisioningState
      : undefined;
    if (existing && Date.now() < existing.readyAt && state !== 'Succeeded' && state !== 'Failed') {
      this.conflicts.push(pathname);
      return error(
        409,
        'Conflict',
        `The API Management service ${name} is activating; another operation can start once it has finished.`,
      );
    }
    const missing = ['publisherEmail', 'publisherName'].filter(
      (field) => typeof properties[field] !== 'string' || (properties[field] as string).trim() === '',
    );
    if (missing.length > 0) {
      return json(400, {
        error: {
          code: 'ValidationError',
          message: 'One or more fields contain incorrect values:',
          details: missing.map((target) => ({
            code: 'ValidationError',
            target,
            message: `Missing or empty ${target}.`,
          })),
        },
      });
    }
    const serviceName = pathname.split('/').at(-1)!;
    const resource: Resource = {
      id: pathname,
      kind: 'apim',
      body: {
        ...body,
        id: pathname,
        name: serviceName,
        identity: { type: 'SystemAssigned', principalId: `apim-principal-${serviceName}`, tenantId: 'tenant' },
        properties: {
          ...properties,
          gatewayUrl: `https://${serviceName}.azure-api.net`,
          provisioningState: 'Created',
          targetProvisioningState: 'Activating',
        },
      },
      readyAt: this.apimReadyAt(String((body['sku'] as { name?: string } | undefined)?.name ?? '')),
      failure: lroFailure,
    };
    if (!existing) this.created(key);
    this.takenNames.add(name);
    this.resources.set(key, resource);
    const operation = this.startOperation({
      resourceKey: key,
      readyAt: resource.readyAt,
      failure: lroFailure,
      onDone: () => setState(resource, 'Succeeded'),
    });
    const poll = `${ARM}/subscriptions/${this.subscriptionId}/providers/Fake.Operations/operations/${operation}`;
    return json(existing ? 200 : 201, resource.body, { 'azure-asyncoperation': poll, location: poll });
  }

  private deletedServiceBody(d: { name: string; location: string; serviceId: string }): Record<string, unknown> {
    // Real records carry the location as a display name ("East US 2").
    return {
      id: `/subscriptions/${this.subscriptionId}/providers/Microsoft.ApiManagement/locations/${d.location}/deletedservices/${d.name}`,
      name: d.name,
      location: d.location,
      properties: {
        serviceId: d.serviceId,
        scheduledPurgeDate: new Date(Date.now() + 48 * 3_600_000).toISOString(),
        deletionDate: new Date().toISOString(),
      },
    };
  }

  private deletedService(method: string, name: string): Response {
    const deleted = this.deletedServices.get(name);
    if (!deleted) return error(404, 'ResourceNotFound', `Deleted service ${name} was not found.`);
    if (method === 'GET') return json(200, this.deletedServiceBody(deleted));
    if (method === 'DELETE')
      return this.accepted({ readyAt: this.readyAt('purge'), onDone: () => this.deletedServices.delete(name) });
    return error(405, 'MethodNotAllowed', method);
  }

  /** Backends, APIs, operations, policies, subscriptions, diagnostics: synchronous PUTs with an ETag. */
  private apimChild(
    method: string,
    pathname: string,
    serviceKey: string,
    child: string,
    body: Record<string, unknown>,
  ): Response {
    const service = this.resources.get(serviceKey);
    if (!service || (service.body['properties'] as { provisioningState: string }).provisioningState !== 'Succeeded')
      return error(404, 'ResourceNotFound', `Api service was not found or is not active.`);
    const key = pathname.toLowerCase();
    if (/^apis\/[^/]+\/diagnostics$/.test(child) || child === 'diagnostics') {
      const scope = child === 'diagnostics' ? 'service' : 'api';
      return json(200, {
        value: this.diagnostics
          .filter((d) => d['scope'] === scope)
          .map((d) => ({ id: `${pathname}/${String(d['name'])}`, name: d['name'], properties: d['properties'] })),
      });
    }
    if (/^subscriptions\/[^/]+\/listsecrets$/.test(child)) {
      if (!this.resources.has(key.replace(/\/listsecrets$/, '')))
        return error(404, 'ResourceNotFound', 'Subscription not found.');
      return json(
        200,
        { primaryKey: 'fake-apim-primary-key-0123456789', secondaryKey: 'fake-apim-secondary-key-0123456789' },
        { etag: '"1"' },
      );
    }
    const existing = this.resources.get(key);
    if (method === 'GET') {
      if (!existing) return error(404, 'ResourceNotFound', `${child} was not found.`);
      return json(200, existing.body, { etag: '"1"' });
    }
    if (method !== 'PUT') return error(405, 'MethodNotAllowed', method);
    const parent = /^(apis\/[^/]+)\/(operations|policies)\//.exec(child);
    if (parent && !this.resources.has(`${serviceKey}/${parent[1]}`))
      return error(404, 'ResourceNotFound', `API ${parent[1]} was not found.`);
    if (/(^|\/)policies\/[^/]+$/.test(child)) {
      // APIM validates a policy at PUT: well formed, known statements, references that exist.
      const value = String((body['properties'] as { value?: unknown } | undefined)?.value ?? '');
      const builtIn = new Set(['loggers/azuremonitor']);
      const problems = policyProblems(
        value,
        (kind, id) =>
          builtIn.has(`${kind.toLowerCase()}/${id.toLowerCase()}`) ||
          this.resources.has(`${serviceKey}/${kind.toLowerCase()}/${id.toLowerCase()}`),
      );
      if (problems.length > 0) {
        this.policyRefusals.push(...problems.map((p) => p.message));
        return json(400, {
          error: {
            code: 'ValidationError',
            message: 'One or more fields contain incorrect values:',
            details: problems.map((p) => ({ code: 'ValidationError', target: p.target, message: p.message })),
          },
        });
      }
    }
    const resource: Resource = {
      id: pathname,
      kind: child.split('/')[0]!,
      body: { id: pathname, name: pathname.split('/').at(-1), properties: body['properties'] ?? {} },
      readyAt: 0,
    };
    if (!existing) this.created(key);
    this.resources.set(key, resource);
    return json(existing ? 200 : 201, resource.body, { etag: '"1"' });
  }

  // --- role assignments --------------------------------------------------------------------

  private roleAssignment(method: string, pathname: string, body: Record<string, unknown>): Response {
    const key = pathname.toLowerCase();
    const existing = this.resources.get(key);
    if (method === 'GET')
      return existing
        ? json(200, existing.body)
        : error(404, 'RoleAssignmentNotFound', 'The role assignment was not found.');
    if (method === 'DELETE') {
      if (!existing) return new HttpResponse(null, { status: 204 });
      this.resources.delete(key);
      return json(200, existing.body);
    }
    if (!(['owner', 'contributor+rbac-admin'] as CallerRole[]).includes(this.callerRole)) {
      const scopePath = pathname.replace(/\/providers\/Microsoft\.Authorization\/roleAssignments\/[^/]+$/i, '');
      return error(
        403,
        'AuthorizationFailed',
        `The client '${FAKE_CALLER_OID}' with object id '${FAKE_CALLER_OID}' does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/${method === 'DELETE' ? 'delete' : 'write'}' over scope '${scopePath}/providers/Microsoft.Authorization/roleAssignments/${pathname.split('/').at(-1)}' or the scope is invalid. If access was recently granted, please refresh your credentials.`,
      );
    }
    const properties = (body['properties'] ?? {}) as { roleDefinitionId?: string; principalId?: string };
    const scope = key.replace(/\/providers\/microsoft\.authorization\/roleassignments\/[^/]+$/, '');
    const same = [...this.resources.entries()].find(([k, r]) => {
      if (r.kind !== 'role-assignment' || k === key) return false;
      const p = r.body['properties'] as typeof properties;
      return (
        k.startsWith(`${scope}/providers/microsoft.authorization/`) &&
        p.principalId === properties.principalId &&
        p.roleDefinitionId?.toLowerCase() === properties.roleDefinitionId?.toLowerCase()
      );
    });
    if (same) return error(409, 'RoleAssignmentExists', 'The role assignment already exists.');
    if (!existing) this.created(key);
    const resource: Resource = {
      id: pathname,
      kind: 'role-assignment',
      body: {
        id: pathname,
        name: pathname.split('/').at(-1),
        type: 'Microsoft.Authorization/roleAssignments',
        properties: { ...properties, scope },
      },
      readyAt: 0,
    };
    this.resources.set(key, resource);
    return json(existing ? 200 : 201, resource.body);
  }
}

function setState(resource: Resource | undefined, state: string): void {
  if (!resource) return;
  const properties = resource.body['properties'] as Record<string, unknown>;
  properties['provisioningState'] = state;
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return HttpResponse.json(body as Record<string, unknown>, { status, headers });
}

function error(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return json(status, { error: { code, message } }, headers);
}
