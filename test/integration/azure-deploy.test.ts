import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readBackendsFlag, type AzureDeployFlags } from '../../src/config/lab-options.ts';
import {
  cleanupAzureLab,
  deployAzureLab,
  type ArmConnection,
  type AzureDeployOutcome,
  type StepEvent,
} from '../../src/lab/azure-lab.ts';
import { readLabState } from '../../src/lab/state.ts';
import { DEPLOY_STEP_IDS } from '../../infra/azure-plan.ts';
import {
  FAKE_CALLER_OID,
  FAKE_SUBSCRIPTION,
  FakeArm,
  fakeCredential,
  type FakeArmOptions,
} from '../helpers/fake-arm.ts';

const POLICY_FILE = new URL('../../infra/policies/streaming.xml', import.meta.url).pathname;
const POLICY_XML = readFileSync(POLICY_FILE, 'utf8');
const APIM_KEY = 'fake-apim-primary-key-0123456789';
const LAB_ID = 'sltest1';

const FLAGS: AzureDeployFlags = {
  subscriptionId: FAKE_SUBSCRIPTION,
  location: 'eastus2',
  labId: LAB_ID,
  model: 'gpt-4o-mini',
  modelVersion: '2024-07-18',
  modelSku: 'GlobalStandard',
  capacityK: 10,
  apimSku: 'BasicV2',
  forceConsumption: false,
  publisherEmail: 'noreply@example.com',
  localAuth: false,
  roles: 'assign',
  whatIf: false,
};

let arm: FakeArm;
let dir: string;
let stateFile: string;

function connectWith(
  options: { maxRetries?: number; pollIntervalMs?: number } = {},
): (subscriptionId: string) => Promise<ArmConnection> {
  return async (subscriptionId) => ({
    credential: fakeCredential(),
    subscriptionId,
    clientOptions: { retryOptions: { maxRetries: options.maxRetries ?? 0 } },
    pollIntervalMs: options.pollIntervalMs ?? 0,
  });
}

interface Run {
  outcome: AzureDeployOutcome;
  events: StepEvent[];
  notes: string[];
}

async function deploy(flags: Partial<AzureDeployFlags> = {}, connect = connectWith()): Promise<Run> {
  const events: StepEvent[] = [];
  const notes: string[] = [];
  const outcome = await deployAzureLab({
    stateFile,
    flags: { ...FLAGS, ...flags },
    policyFile: POLICY_FILE,
    policyXml: POLICY_XML,
    connect,
    onEvent: (e) => events.push(e),
    onNote: (n) => notes.push(n),
  });
  return { outcome, events, notes };
}

async function cleanup(
  options: { keepSoftDeleted?: boolean; dryRun?: boolean } = {},
): Promise<{ actions: string[]; plan?: string[] }> {
  const actions: string[] = [];
  const outcome = await cleanupAzureLab(
    readLabState(stateFile)!.azure!,
    {
      stateFile,
      dryRun: options.dryRun ?? false,
      yes: true,
      keepSoftDeleted: options.keepSoftDeleted ?? false,
      help: false,
    },
    { connect: connectWith(), confirm: async () => false, onAction: (a) => actions.push(a) },
  );
  return outcome.kind === 'dry-run' ? { actions, plan: outcome.plan } : { actions };
}

const FAILOVER_BACKENDS = readBackendsFlag(new URL('../../labs/failover/backends.json', import.meta.url).pathname);

const rgPath = `/subscriptions/${FAKE_SUBSCRIPTION}/resourcegroups/rg-streamlab-${LAB_ID}`;
const apimPath = `${rgPath}/providers/microsoft.apimanagement/service/apim-streamlab-${LAB_ID}`;
const accountPath = `${rgPath}/providers/microsoft.cognitiveservices/accounts/aoai-streamlab-${LAB_ID}`;

/** One fault per step: the request that creates what the step creates. */
const STEP_FAULTS: Record<(typeof DEPLOY_STEP_IDS)[number], { method: string; path: RegExp }> = {
  'resource-group': { method: 'PUT', path: /\/resourcegroups\/[^/]+$/ },
  'apim-service': { method: 'PUT', path: /\/service\/[^/]+$/ },
  'openai-account': { method: 'PUT', path: /\/accounts\/[^/]+$/ },
  'model-deployment': { method: 'PUT', path: /\/deployments\/[^/]+$/ },
  // Without --backends the step creates nothing: a fault on an account it would create never fires.
  'backend-accounts': { method: 'PUT', path: /\/accounts\/[^/]+-b\d+$/ },
  'apim-role': { method: 'PUT', path: /roleassignments\/[^/]+$/ },
  'caller-role': { method: 'PUT', path: /roleassignments\/[^/]+$/ },
  'apim-backend': { method: 'PUT', path: /\/backends\/[^/]+$/ },
  'apim-api': { method: 'PUT', path: /\/apis\/[^/]+$/ },
  'apim-policy': { method: 'PUT', path: /\/policies\/policy$/ },
  'apim-subscription': { method: 'PUT', path: /\/subscriptions\/[^/]+\/resourcegroups\/.+\/subscriptions\/[^/]+$/ },
};

beforeEach(() => {
  arm = new FakeArm().listen();
  dir = mkdtempSync(join(tmpdir(), 'azure-lab-'));
  stateFile = join(dir, '.lab', 'state.json');
});

afterEach(() => {
  arm.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Azure deploy against a fake ARM, driven by the real SDK clients', () => {
  it('deploys everything, records it in a 0600 state, then cleanup deletes and purges and a second cleanup finds nothing', async () => {
    const { outcome, events } = await deploy();
    expect(outcome.kind).toBe('deployed');
    const state = readLabState(stateFile)!;
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);
    expect(state.target).toBe('azure');
    expect(state.paths['direct']).toEqual({
      baseUrl: `https://aoai-streamlab-${LAB_ID}.openai.azure.com`,
      apiStyle: 'azure',
      auth: { kind: 'entra' },
    });
    expect(state.paths['gateway']).toEqual({
      baseUrl: `https://apim-streamlab-${LAB_ID}.azure-api.net`,
      apiStyle: 'azure',
      auth: { kind: 'subscription-key', envName: 'LAB_GATEWAY_SUBSCRIPTION_KEY' },
    });
    expect(state.secrets).toEqual({ LAB_GATEWAY_SUBSCRIPTION_KEY: APIM_KEY });
    expect(Object.keys(state.azure!.steps).sort()).toEqual([...DEPLOY_STEP_IDS].sort());
    for (const id of DEPLOY_STEP_IDS)
      expect(events.filter((e) => e.id === id).map((e) => e.status)).toEqual(['pending', 'running', 'done']);
    expect([...arm.creations.values()].every((n) => n === 1)).toBe(true);

    // What went over the wire is what the lab promises.
    const body = (path: string) => arm.resources.get(path)!.body as Record<string, any>;
    expect(body(rgPath).tags).toEqual({ 'apim-streaming-lab': LAB_ID });
    expect(body(apimPath)).toMatchObject({
      sku: { name: 'BasicV2', capacity: 1 },
      identity: { type: 'SystemAssigned' },
      tags: { 'apim-streaming-lab': LAB_ID },
    });
    expect(body(accountPath)).toMatchObject({
      kind: 'OpenAI',
      properties: { customSubDomainName: `aoai-streamlab-${LAB_ID}`, disableLocalAuth: true },
    });
    expect(body(`${accountPath}/deployments/gpt-4o-mini`)).toMatchObject({
      sku: { name: 'GlobalStandard', capacity: 10 },
      properties: { model: { format: 'OpenAI', name: 'gpt-4o-mini', version: '2024-07-18' } },
    });
    expect(body(`${apimPath}/apis/azure-openai`).properties).toMatchObject({
      path: 'openai',
      subscriptionRequired: true,
      subscriptionKeyParameterNames: { header: 'api-key' },
      serviceUrl: `https://aoai-streamlab-${LAB_ID}.openai.azure.com/openai`,
    });
    expect(body(`${apimPath}/backends/openai-backend`).properties).toMatchObject({
      url: `https://aoai-streamlab-${LAB_ID}.openai.azure.com/openai`,
      protocol: 'http',
    });
    expect(body(`${apimPath}/apis/azure-openai/policies/policy`).properties).toEqual({
      value: POLICY_XML,
      format: 'rawxml',
    });
    expect([...arm.resources.keys()].filter((k) => k.includes('/operations/wildcard-')).length).toBe(5);
    expect(body(`${apimPath}/subscriptions/streamlab`).properties).toMatchObject({
      scope: '/apis/azure-openai',
      state: 'active',
    });
    const roles = [...arm.resources.values()]
      .filter((r) => r.kind === 'role-assignment')
      .map((r) => r.body['properties'] as Record<string, string>);
    expect(roles.map((r) => [r.principalId, r.principalType]).sort()).toEqual([
      [FAKE_CALLER_OID, 'User'],
      [`apim-principal-apim-streamlab-${LAB_ID}`, 'ServicePrincipal'],
    ]);
    expect(
      roles.every((r) => r.roleDefinitionId!.endsWith('/roleDefinitions/5e0bd9bd-7b93-4f28-af87-19fc36ad61bd')),
    ).toBe(true);

    const record = readLabState(stateFile)!.azure!;
    const { actions } = await cleanup();
    expect(actions.join('\n')).toMatch(
      /deleted resource group rg-streamlab-sltest1[\s\S]*purged soft-deleted API Management[\s\S]*purged soft-deleted Azure OpenAI/,
    );
    expect(arm.resourceGroup(`rg-streamlab-${LAB_ID}`)).toBeUndefined();
    expect(arm.deletedServices.size + arm.deletedAccounts.size).toBe(0);
    expect(readLabState(stateFile)).toBeUndefined();
    // A second cleanup of the same record (a run killed after its deletes, say) finds nothing and deletes nothing.
    const writes = arm.writes().length;
    const second: string[] = [];
    const again2 = await cleanupAzureLab(
      record,
      { stateFile, dryRun: false, yes: true, keepSoftDeleted: false, help: false },
      { connect: connectWith(), confirm: async () => false, onAction: (a) => second.push(a) },
    );
    expect(again2.kind).toBe('cleaned');
    expect(second).toEqual([
      `resource group rg-streamlab-${LAB_ID} is already gone`,
      `API Management apim-streamlab-${LAB_ID}: not soft-deleted (never created, or already purged)`,
      `Azure OpenAI aoai-streamlab-${LAB_ID}: not soft-deleted (never created, or already purged)`,
    ]);
    expect(arm.writes().length).toBe(writes);

    // The name is free again: a new deploy with the same id goes through preflight.
    const again = await deploy();
    expect(again.outcome.kind).toBe('deployed');
  });

  it('--backends: the pool, its circuit breakers and a second account go to ARM as the file says; the APIM identity may call both accounts; cleanup purges both', async () => {
    const { outcome } = await deploy({ backends: FAILOVER_BACKENDS });
    expect(outcome.kind).toBe('deployed');
    const body = (path: string) => arm.resources.get(path)!.body as Record<string, any>;
    const secondPath = `${rgPath}/providers/microsoft.cognitiveservices/accounts/aoai-streamlab-${LAB_ID}-b2`;
    // ptu is the lab's own account; payg gets a second one, with the same model deployment.
    expect(body(secondPath)).toMatchObject({
      kind: 'OpenAI',
      tags: { 'apim-streaming-lab': LAB_ID },
      properties: { customSubDomainName: `aoai-streamlab-${LAB_ID}-b2`, disableLocalAuth: true },
    });
    expect(body(`${secondPath}/deployments/gpt-4o-mini`)).toMatchObject({
      sku: { name: 'GlobalStandard', capacity: 10 },
      properties: { model: { name: 'gpt-4o-mini', version: '2024-07-18' } },
    });
    // The request bodies of the backend resources: the shapes of shared/notes/apim-ai-gateway.md.
    const breaker = {
      rules: [
        {
          name: 'breakerRule',
          failureCondition: { count: 1, interval: 'PT1M', statusCodeRanges: [{ min: 429, max: 429 }] },
          tripDuration: 'PT1M',
          acceptRetryAfter: true,
        },
      ],
    };
    expect(body(`${apimPath}/backends/ptu`).properties).toEqual({
      url: `https://aoai-streamlab-${LAB_ID}.openai.azure.com/openai`,
      protocol: 'http',
      type: 'Single',
      title: 'primary: provisioned throughput',
      description: 'ptu (apim-streaming-lab)',
      circuitBreaker: breaker,
    });
    expect(body(`${apimPath}/backends/payg`).properties).toMatchObject({
      url: `https://aoai-streamlab-${LAB_ID}-b2.openai.azure.com/openai`,
      protocol: 'http',
      type: 'Single',
      circuitBreaker: breaker,
    });
    expect(body(`${apimPath}/backends/openai-backend`).properties).toEqual({
      type: 'Pool',
      description: 'PTU first; pay-as-you-go only while the PTU backend is tripped',
      pool: {
        services: [
          { id: '/backends/ptu', priority: 1, weight: 1 },
          { id: '/backends/payg', priority: 2, weight: 1 },
        ],
      },
    });
    // The pool was created after the backends it names.
    const puts = arm.log
      .filter((r) => r.method === 'PUT' && /\/backends\//.test(r.path))
      .map((r) => r.path.split('/').pop());
    expect(puts).toEqual(['ptu', 'payg', 'openai-backend']);
    const grants = [...arm.resources.values()].filter(
      (r) =>
        r.kind === 'role-assignment' &&
        (r.body['properties'] as Record<string, string>).principalId === `apim-principal-apim-streamlab-${LAB_ID}`,
    );
    expect(
      grants.map((r) => r.id.toLowerCase().split('/providers/microsoft.authorization')[0]!.split('/').pop()).sort(),
    ).toEqual([`aoai-streamlab-${LAB_ID}`, `aoai-streamlab-${LAB_ID}-b2`]);

    const { actions } = await cleanup();
    expect(actions.join('\n')).toMatch(
      /purged soft-deleted Azure OpenAI aoai-streamlab-sltest1\n[\s\S]*purged soft-deleted Azure OpenAI aoai-streamlab-sltest1-b2/,
    );
    expect(arm.deletedServices.size + arm.deletedAccounts.size).toBe(0);
    expect([...arm.resources.values()].filter((r) => r.kind === 'role-assignment')).toEqual([]);
    // Twice: nothing left, nothing refused.
    expect(readLabState(stateFile)).toBeUndefined();
  });

  it('a re-run of a finished deploy changes nothing', async () => {
    await deploy();
    const writes = arm.writes().length;
    const { outcome } = await deploy();
    expect(outcome.kind).toBe('already-up');
    expect(arm.writes().length).toBe(writes);
  });

  for (const step of DEPLOY_STEP_IDS) {
    it(`a failure at "${step}" is recorded; the re-run finishes the rest and creates nothing twice`, async () => {
      const fault = STEP_FAULTS[step];
      // caller-role and apim-role share a route: fail the one whose body names the right principal by failing both, then checking the failed set.
      arm.inject(
        fault.method,
        fault.path,
        { status: 400, code: 'InjectedFailure', message: `injected at ${step}` },
        step.endsWith('-role') ? 2 : 1,
      );
      // The backend accounts exist only with a backends file.
      const first = await deploy(step === 'backend-accounts' ? { backends: FAILOVER_BACKENDS } : {});
      expect(first.outcome.kind).toBe('incomplete');
      if (first.outcome.kind !== 'incomplete') return;
      expect(first.outcome.failures.map((f) => f.id)).toContain(step);
      expect(first.outcome.failures.every((f) => f.message.startsWith('InjectedFailure (HTTP 400): injected at'))).toBe(
        true,
      );
      const recorded = readLabState(stateFile)!;
      expect(recorded.azure!.steps[step]).toBeUndefined();
      expect(statSync(stateFile).mode & 0o777).toBe(0o600);
      const doneBefore = Object.keys(recorded.azure!.steps);

      const second = await deploy({ labId: undefined });
      expect(second.outcome.kind).toBe('deployed');
      expect(second.notes.join('\n')).toMatch(/continuing lab sltest1/);
      // Steps finished by the first run were not sent again; nothing was created twice.
      for (const id of doneBefore)
        expect(second.events.filter((e) => e.id === id).map((e) => e.status)).toEqual(['resumed']);
      expect([...arm.creations.entries()].filter(([, n]) => n !== 1)).toEqual([]);
      expect(arm.log.filter((r) => r.method === 'PUT' && r.path.toLowerCase() === rgPath).length).toBe(
        step === 'resource-group' ? 2 : 1,
      );
      expect(Object.keys(readLabState(stateFile)!.azure!.steps).length).toBe(DEPLOY_STEP_IDS.length);
    });
  }

  it('a long-running operation that ends Failed is reported with its code, and the re-run converges', async () => {
    arm.inject('PUT', /\/service\/[^/]+$/, {
      lroFailure: { code: 'ActivationFailed', message: 'The service could not be activated' },
    });
    const first = await deploy();
    expect(first.outcome.kind).toBe('incomplete');
    if (first.outcome.kind === 'incomplete')
      expect(first.outcome.failures).toEqual([
        { id: 'apim-service', message: expect.stringMatching(/^ActivationFailed: The service could not be activated/) },
      ]);
    // The Azure OpenAI chain went on while APIM failed.
    expect(readLabState(stateFile)!.azure!.steps['model-deployment']).toBeDefined();
    expect(readLabState(stateFile)!.paths['direct']).toBeDefined();
    expect(readLabState(stateFile)!.paths['gateway']).toBeUndefined();
    const second = await deploy();
    expect(second.outcome.kind).toBe('deployed');
    expect([...arm.creations.values()].every((n) => n === 1)).toBe(true);
  });

  it('throttling (429 with Retry-After) is retried by the SDK and the deploy completes', async () => {
    arm.inject('PUT', /\/service\/[^/]+$/, {
      status: 429,
      code: 'TooManyRequests',
      message: 'throttled',
      headers: { 'retry-after': '0' },
    });
    arm.inject('GET', /\/providers\/microsoft\.apimanagement$/, {
      status: 429,
      code: 'TooManyRequests',
      message: 'throttled',
      headers: { 'retry-after': '0' },
    });
    const { outcome } = await deploy({}, connectWith({ maxRetries: 2 }));
    expect(outcome.kind).toBe('deployed');
    expect(arm.log.filter((r) => r.status === 429).length).toBe(2);
  });

  it('a role already granted under another assignment name (409 RoleAssignmentExists) counts as granted', async () => {
    const first = await deploy();
    expect(first.outcome.kind).toBe('deployed');
    // Rename the caller's assignment, as if granted by hand: the deterministic name now conflicts.
    const [key, assignment] = [...arm.resources.entries()].find(
      ([, r]) =>
        r.kind === 'role-assignment' &&
        (r.body['properties'] as Record<string, string>)['principalId'] === FAKE_CALLER_OID,
    )!;
    arm.resources.delete(key);
    arm.resources.set(key.replace(/[^/]+$/, 'aaaaaaaa-0000-4000-8000-000000000000'), assignment);
    const state = readLabState(stateFile)!;
    delete state.azure!.steps['caller-role'];
    const { writeLabState } = await import('../../src/lab/state.ts');
    writeLabState(stateFile, state);
    const second = await deploy();
    expect(second.outcome.kind).toBe('deployed');
    expect(arm.log.some((r) => r.status === 409)).toBe(true);
    expect(readLabState(stateFile)!.azure!.steps['caller-role']!.outputs!['note']).toMatch(/already granted/);
  });
});

describe('Azure preflight', () => {
  it('reports soft-deleted services holding both names, with the purge commands, and creates nothing', async () => {
    await deploy();
    await cleanup({ keepSoftDeleted: true });
    expect(arm.deletedServices.size).toBe(1);
    expect(arm.deletedAccounts.size).toBe(1);
    const writes = arm.writes().length;
    const error = await deploy().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/Preflight found 2 problems; nothing was created/);
    expect(error?.message).toMatch(
      /soft-deleted service by an earlier lab with this id[\s\S]*az apim deletedservice purge --service-name apim-streamlab-sltest1 --location eastus2/,
    );
    expect(error?.message).toMatch(
      /az cognitiveservices account purge --name aoai-streamlab-sltest1 --location eastus2 --resource-group rg-streamlab-sltest1/,
    );
    expect(arm.writes().length).toBe(writes);
    expect(readLabState(stateFile)).toBeUndefined();
  });

  it('a credential that cannot sign in stops the deploy before any request, saying how to sign in', async () => {
    const failing = async (subscriptionId: string): Promise<ArmConnection> => ({
      subscriptionId,
      credential: {
        getToken: async () => {
          throw new Error('AzureCliCredential: Please run az login to set up an account');
        },
      },
    });
    const error = await deploy({}, failing).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/credential: AzureCliCredential: Please run az login.*Fix: sign in with az login/);
    expect(arm.log).toEqual([]);
    expect(readLabState(stateFile)).toBeUndefined();
  });

  it('refuses a model the region lacks and a quota too small, naming the flags that fix it', async () => {
    arm.quotaLimitK.set('OpenAI.GlobalStandard.gpt-4o-mini', 5);
    const quota = await deploy().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(quota?.message).toMatch(
      /quota OpenAI\.GlobalStandard\.gpt-4o-mini in eastus2 has 5K tokens per minute free, the deployment asks for 10K\. Fix: lower --capacity/,
    );
    const version = await deploy({ modelVersion: '2099-01-01' }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(version?.message).toMatch(
      /gpt-4o-mini 2099-01-01 with SKU GlobalStandard is not available in eastus2 \(offered here: 2024-07-18 \(GlobalStandard, Standard\)\)/,
    );
    expect(arm.writes()).toEqual([]);
  });

  it('registers a resource provider that is not registered, then deploys', async () => {
    arm.providers.set('Microsoft.ApiManagement'.toLowerCase(), 'NotRegistered');
    const { outcome, notes } = await deploy({}, connectWith({ pollIntervalMs: 10 }));
    expect(outcome.kind).toBe('deployed');
    expect(notes.join('\n')).toMatch(/registering resource provider Microsoft.ApiManagement/);
    expect(arm.writes()[0]).toMatch(/^POST .*\/providers\/Microsoft.ApiManagement\/register$/);
  });

  it("refuses a resource group of the same name that is not this lab's", async () => {
    arm.seedResourceGroup(`rg-streamlab-${LAB_ID}`, { owner: 'someone else' });
    const error = await deploy().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(
      /resource group rg-streamlab-sltest1 already exists and is not this lab's \(tag apim-streaming-lab=absent\)/,
    );
  });
});

describe('Azure cleanup', () => {
  it('refuses a resource group whose tag does not match the recorded lab id, and deletes nothing', async () => {
    await deploy();
    (arm.resourceGroup(`rg-streamlab-${LAB_ID}`)!.body['tags'] as Record<string, string>)['apim-streaming-lab'] =
      'someoneelse';
    const writes = arm.writes().length;
    const error = await cleanup().then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(error?.code).toBe('E_REFUSED');
    expect(error?.message).toMatch(/its tag apim-streaming-lab is "someoneelse", not this lab's id "sltest1"/);
    expect(arm.writes().length).toBe(writes);
    expect(readLabState(stateFile)).toBeDefined();
  });

  it('--dry-run prints the plan and touches nothing; --keep-soft-deleted leaves the services to purge', async () => {
    await deploy();
    const writes = arm.writes().length;
    const requests = arm.log.length;
    const { plan } = await cleanup({ dryRun: true });
    expect(plan!.join('\n')).toMatch(
      /delete resource group rg-streamlab-sltest1[\s\S]*purge soft-deleted API Management apim-streamlab-sltest1[\s\S]*purge soft-deleted Azure OpenAI/,
    );
    expect(arm.log.length).toBe(requests);
    expect(arm.writes().length).toBe(writes);
    const { actions } = await cleanup({ keepSoftDeleted: true });
    expect(actions.at(-1)).toMatch(/kept soft-deleted services; purge later with: az apim deletedservice purge/);
    expect([...arm.deletedServices.keys()]).toEqual([`apim-streamlab-${LAB_ID}`]);
    expect([...arm.deletedAccounts.keys()]).toEqual([`aoai-streamlab-${LAB_ID}`]);
  });

  it('a cleanup that failed half-way continues when run again', async () => {
    await deploy();
    arm.inject('DELETE', /\/deletedservices\/[^/]+$/, {
      status: 400,
      code: 'InjectedFailure',
      message: 'purge failed',
    });
    const error = await cleanup().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(/InjectedFailure[\s\S]*run npm run lab:cleanup again/);
    expect(readLabState(stateFile)).toBeDefined();
    const { actions } = await cleanup();
    expect(actions[0]).toMatch(/resource group rg-streamlab-sltest1 is already gone/);
    expect(arm.deletedServices.size + arm.deletedAccounts.size).toBe(0);
    expect(readLabState(stateFile)).toBeUndefined();
  });
});

describe('Azure deploy timing', () => {
  it('with realistic relative delays, wall time follows the longest chain (APIM), not the sum of the steps', async () => {
    const createMs: FakeArmOptions['createMs'] = { apim: 900, account: 300, deployment: 400 };
    arm.close();
    arm = new FakeArm({ createMs, latencyMs: 5 }).listen();
    const started = performance.now();
    const { outcome, events } = await deploy({}, connectWith({ pollIntervalMs: 20 }));
    const wallMs = performance.now() - started;
    expect(outcome.kind).toBe('deployed');
    const took = new Map(events.filter((e) => e.status === 'done').map((e) => [e.id, e.elapsedMs]));
    const sumMs = [...took.values()].reduce((a, b) => a + b, 0);
    const apimChainMs = ['resource-group', 'apim-service', 'apim-api', 'apim-policy'].reduce(
      (a, id) => a + took.get(id)!,
      0,
    );
    console.log(
      `azure deploy (fake ARM): wall ${wallMs.toFixed(0)} ms, APIM chain ${apimChainMs.toFixed(0)} ms, sum of steps ${sumMs.toFixed(0)} ms`,
    );
    expect(took.get('apim-service')!).toBeGreaterThanOrEqual(900);
    expect(sumMs).toBeGreaterThan(900 + 300 + 400);
    // Preflight and the first token add a few round trips before the chain starts.
    expect(wallMs).toBeLessThan(apimChainMs + 400);
    expect(wallMs).toBeLessThan(sumMs * 0.75);
  });
});
