import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiManagementClient } from '@azure/arm-apimanagement';
import { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { ResourceManagementClient } from '@azure/arm-resources';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { schemaSources } from '../helpers/arm-schemas.ts';
import type { TokenCredential } from '@azure/identity';
import { cleanupCommand, deployCommand, type LabCommandDeps } from '../../src/cli/lab-commands.ts';
import { readLabState } from '../../src/lab/state.ts';
import { defineLab, runGuidedLab } from '../../src/lab/guided-lab.ts';
import { deployAzure } from '../../infra/deploy.ts';
import { deployAzureLab } from '../../src/lab/azure-lab.ts';
import { planAzureLab } from '../../infra/azure-plan.ts';
import { bogusCredential, FAKE_CALLER_OID, FAKE_SUBSCRIPTION, FakeArm, fakeCredential } from '../helpers/fake-arm.ts';
import { captureOutput, type CapturedOutput } from '../helpers/capture-output.ts';

// A first run on a real subscription, as issue 28 lists its refusals: each drives lab:deploy
// through the CLI command and the real ARM SDK clients against a fake ARM in that mode, and
// checks the exit code, what the user reads, which resources exist afterwards, and that the
// fixed re-run converges.
let arm: FakeArm;
let dir: string;
let stateFile: string;
let output: CapturedOutput;

const deps = (credential: TokenCredential = fakeCredential()): LabCommandDeps => ({
  connectAzure: async (subscriptionId) => ({
    credential,
    subscriptionId,
    clientOptions: { retryOptions: { maxRetries: 0 } },
    pollIntervalMs: 0,
  }),
  confirm: async () => true,
});
const env = { AZURE_SUBSCRIPTION_ID: FAKE_SUBSCRIPTION };
const deploy = (extra: string[] = [], credential?: TokenCredential): Promise<number> =>
  deployCommand(['--target', 'azure', '--state', stateFile, ...extra], env, deps(credential));

/** The billable resources: an APIM service or an Azure OpenAI account (or deployment), PUT at all. */
const billablePuts = (): string[] =>
  arm
    .writes()
    .filter((w) =>
      /^PUT .*\/(microsoft\.apimanagement\/service\/[^/]+|microsoft\.cognitiveservices\/accounts\/[^/]+(\/deployments\/[^/]+)?)$/i.test(
        w,
      ),
    );
const kinds = (): string[] => [...arm.resources.values()].map((r) => r.kind).sort();

beforeEach(() => {
  arm = new FakeArm().listen();
  dir = mkdtempSync(join(tmpdir(), 'azure-first-run-'));
  stateFile = join(dir, 'state.json');
  output = captureOutput();
});

afterEach(() => {
  vi.restoreAllMocks();
  arm.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a Contributor-only caller (no Microsoft.Authorization/roleAssignments/write)', () => {
  it('is refused before any APIM service or Azure OpenAI account exists, naming the permission; cleanup removes the empty group; with the role the re-run converges', async () => {
    arm.callerRole = 'contributor';
    await expect(deploy(['--lab-id', 'slperm1'])).rejects.toMatchObject({
      code: 'E_AZURE',
      message: expect.stringMatching(
        /cannot assign roles on resource group rg-streamlab-slperm1: Microsoft\.Authorization\/roleAssignments\/write .*Fix: ask for Role Based Access Control Administrator, or User Access Administrator, or Owner.*--roles manual/s,
      ),
    });
    await expect(deploy()).rejects.toMatchObject({
      message: expect.stringMatching(
        /only the empty resource group rg-streamlab-slperm1 exists.*npm run lab:cleanup removes it/,
      ),
    });
    expect(billablePuts()).toEqual([]);
    expect(kinds()).toEqual(['resource-group']);
    expect(arm.resourceGroup('rg-streamlab-slperm1')!.body['tags']).toEqual({ 'apim-streaming-lab': 'slperm1' });
    // The refusal printed the exact lines someone with the right role could run instead.
    await deploy().catch((e: Error) =>
      expect(e.message).toMatch(
        new RegExp(
          `az role assignment create --assignee-object-id ${FAKE_CALLER_OID} --assignee-principal-type User --role 5e0bd9bd-7b93-4f28-af87-19fc36ad61bd --scope /subscriptions/${FAKE_SUBSCRIPTION}/resourceGroups/rg-streamlab-slperm1/providers/Microsoft.CognitiveServices/accounts/aoai-streamlab-slperm1`,
        ),
      ),
    );

    // The user is granted Role Based Access Control Administrator: the same command finishes.
    arm.callerRole = 'contributor+rbac-admin';
    expect(await deploy()).toBe(0);
    expect(kinds().filter((k) => k === 'role-assignment')).toHaveLength(2);

    // And cleanup removes everything, including a lab that only got as far as the empty group.
    expect(await cleanupCommand(['--state', stateFile], deps())).toBe(0);
    expect(arm.resources.size).toBe(0);
  });

  it('a refused lab holding only the empty group is removed by lab:cleanup, twice safely', async () => {
    arm.callerRole = 'contributor';
    await expect(deploy(['--lab-id', 'slperm2'])).rejects.toMatchObject({ code: 'E_AZURE' });
    expect(readLabState(stateFile)!.azure!.steps['resource-group']).toBeDefined();
    expect(await cleanupCommand(['--state', stateFile], deps())).toBe(0);
    expect(arm.resources.size).toBe(0);
    expect(readLabState(stateFile)).toBeUndefined();
    expect(await cleanupCommand(['--state', stateFile], deps())).toBe(0);
    expect(output.stdout()).toMatch(/Nothing to clean up: no lab state/);
  });

  it('--roles manual deploys without assigning a role and prints the az lines with the APIM identity', async () => {
    arm.callerRole = 'contributor';
    expect(await deploy(['--lab-id', 'slman1', '--roles', 'manual'])).toBe(0);
    expect(kinds()).not.toContain('role-assignment');
    expect(arm.writes().some((w) => /roleassignments/i.test(w))).toBe(false);
    expect(output.stdout()).toMatch(/Deployed with --roles manual: no role was assigned/);
    expect(output.stdout()).toMatch(
      /az role assignment create --assignee-object-id apim-principal-apim-streamlab-slman1 --assignee-principal-type ServicePrincipal --role 5e0bd9bd-7b93-4f28-af87-19fc36ad61bd --scope \/subscriptions\/.*\/accounts\/aoai-streamlab-slman1/,
    );
    expect(output.stdout()).toMatch(
      new RegExp(`az role assignment create --assignee-object-id ${FAKE_CALLER_OID} --assignee-principal-type User`),
    );
  });
});

describe('the model: lifecycle and retirement', () => {
  it('a retired default model is refused before anything is created, naming the model and a current one; the re-run with it converges', async () => {
    arm.models.find((m) => m.model.name === 'gpt-4o-mini')!.model.lifecycleStatus = 'Deprecated';
    await expect(deploy(['--lab-id', 'slmod1'])).rejects.toMatchObject({
      code: 'E_AZURE',
      message: expect.stringMatching(
        /nothing was created:\n.*model gpt-4o-mini 2024-07-18 is Deprecated in eastus2: Azure refuses new deployments of it \(ServiceModelDeprecated\).*Fix: pass a current model, e\.g\. --model gpt-4o --model-version 2024-11-20/s,
      ),
    });
    expect(arm.writes()).toEqual([]);
    expect(readLabState(stateFile)).toBeUndefined();
    expect(await deploy(['--lab-id', 'slmod1', '--model', 'gpt-4o', '--model-version', '2024-11-20'])).toBe(0);
  });

  it('a model past its retirement date is refused even when still listed as GenerallyAvailable; one retiring soon deploys with a note', async () => {
    const mini = arm.models.find((m) => m.model.name === 'gpt-4o-mini')!.model;
    mini.deprecation = { inference: new Date(Date.now() - 86_400_000).toISOString() };
    await expect(deploy(['--lab-id', 'slmod2'])).rejects.toMatchObject({
      message: expect.stringMatching(/model gpt-4o-mini 2024-07-18 is GenerallyAvailable since \d{4}-\d\d-\d\d/),
    });
    mini.deprecation = { inference: new Date(Date.now() + 10 * 86_400_000).toISOString() };
    expect(await deploy(['--lab-id', 'slmod2'])).toBe(0);
    expect(output.stderr()).toMatch(
      /model gpt-4o-mini 2024-07-18 retires on \d{4}-\d\d-\d\d: the lab works until then/,
    );
  });

  it('the fake itself refuses a deployment of a retired model, as Azure does (ServiceModelDeprecated), so code that skipped preflight would fail', async () => {
    const credential = fakeCredential();
    const options = { retryOptions: { maxRetries: 0 } };
    await new ResourceManagementClient(credential, FAKE_SUBSCRIPTION, options).resourceGroups.createOrUpdate(
      'rg-model',
      { location: 'eastus2' },
    );
    const openai = new CognitiveServicesManagementClient(credential, FAKE_SUBSCRIPTION, options);
    await openai.accounts.beginCreateAndWait(
      'rg-model',
      'aoai-model',
      { location: 'eastus2', kind: 'OpenAI', sku: { name: 'S0' }, properties: { customSubDomainName: 'aoai-model' } },
      { updateIntervalInMs: 0 },
    );
    const deployment = (name: string, version: string) =>
      openai.deployments.beginCreateOrUpdateAndWait(
        'rg-model',
        'aoai-model',
        name,
        { sku: { name: 'Standard', capacity: 1 }, properties: { model: { format: 'OpenAI', name, version } } },
        { updateIntervalInMs: 0 },
      );
    await expect(deployment('gpt-35-turbo', '1106')).rejects.toMatchObject({
      code: 'ServiceModelDeprecated',
      message:
        "The model 'Format:OpenAI,Name:gpt-35-turbo,Version:1106' has been deprecated since 11/14/2025 00:00:00.",
    });
    arm.models.find((m) => m.model.name === 'gpt-4o')!.model.lifecycleStatus = 'Deprecating';
    await expect(deployment('gpt-4o', '2024-11-20')).rejects.toMatchObject({ code: 'ServiceModelDeprecating' });
    await expect(deployment('gpt-4o-mini', '2024-07-18')).resolves.toBeDefined();
  });
});

describe('SKUs and regions', () => {
  it('an APIM tier the region does not offer is refused before anything is created, naming the regions that have it; another region converges', async () => {
    arm.apimSkuRegions['BasicV2'] = ['Sweden Central', 'West Europe'];
    await expect(deploy(['--lab-id', 'slsku1'])).rejects.toMatchObject({
      message: expect.stringMatching(
        /API Management BasicV2 is not offered in eastus2 \(it is in Sweden Central, West Europe\)\. Fix: pass --location/,
      ),
    });
    expect(arm.writes()).toEqual([]);
    expect(await deploy(['--lab-id', 'slsku1', '--location', 'swedencentral'])).toBe(0);
  });

  it('a subscription without Azure OpenAI access is refused before anything is created (CheckSkuAvailability), with what to do', async () => {
    arm.openaiAccess = 'SpecialFeatureOrQuotaIdRequired';
    await expect(deploy(['--lab-id', 'slsku2'])).rejects.toMatchObject({
      message: expect.stringMatching(
        /Azure OpenAI \(S0\) is not available in eastus2 for this subscription \(SpecialFeatureOrQuotaIdRequired: .*\)\. Fix: pass another --location, or ask for Azure OpenAI access/,
      ),
    });
    expect(arm.writes()).toEqual([]);
  });
});

describe('refusals only Azure knows at create time', () => {
  it('an Azure Policy deny on the account (RequestDisallowedByPolicy) fails that step with the fix; after an exemption the re-run converges', async () => {
    arm.denyPublicNetworkAccess = true;
    expect(await deploy(['--lab-id', 'slpol1'])).toBe(1);
    expect(output.stderr()).toMatch(
      /failed: openai-account: RequestDisallowedByPolicy \(HTTP 403\): Resource 'aoai-streamlab-slpol1' was disallowed by policy.*Fix: an Azure Policy assignment \(named in the message\) denies this resource.*exemption/,
    );
    arm.denyPublicNetworkAccess = false;
    expect(await deploy()).toBe(0);
  });

  it("the fake enforces the region's quota and provider registration itself, as Azure does", async () => {
    const credential = fakeCredential();
    const options = { retryOptions: { maxRetries: 0 } };
    await new ResourceManagementClient(credential, FAKE_SUBSCRIPTION, options).resourceGroups.createOrUpdate(
      'rg-quota',
      { location: 'eastus2' },
    );
    const openai = new CognitiveServicesManagementClient(credential, FAKE_SUBSCRIPTION, options);
    await openai.accounts.beginCreateAndWait(
      'rg-quota',
      'aoai-quota',
      { location: 'eastus2', kind: 'OpenAI', sku: { name: 'S0' }, properties: { customSubDomainName: 'aoai-quota' } },
      { updateIntervalInMs: 0 },
    );
    const deploy = (name: string, capacity: number) =>
      openai.deployments.beginCreateOrUpdateAndWait(
        'rg-quota',
        'aoai-quota',
        name,
        {
          sku: { name: 'GlobalStandard', capacity },
          properties: { model: { format: 'OpenAI', name: 'gpt-4o-mini', version: '2024-07-18' } },
        },
        { updateIntervalInMs: 0 },
      );
    await deploy('first', 800);
    await expect(deploy('second', 300)).rejects.toMatchObject({
      code: 'InsufficientQuota',
      message: expect.stringMatching(/require 300 new capacity .*available capacity 200/),
    });
    arm.providers.set('microsoft.apimanagement', 'NotRegistered');
    const apim = new ApiManagementClient(credential, FAKE_SUBSCRIPTION, options);
    await expect(
      apim.apiManagementService.beginCreateOrUpdate('rg-quota', 'apim-quota', {
        location: 'eastus2',
        sku: { name: 'BasicV2', capacity: 1 },
        publisherEmail: 'a@example.com',
        publisherName: 'x',
      }),
    ).rejects.toMatchObject({
      code: 'MissingSubscriptionRegistration',
      message: expect.stringMatching(/not registered to use namespace 'Microsoft\.ApiManagement'/),
    });
  });

  it('a subscription refusal at create time (SpecialFeatureOrQuotaIdRequired, MissingSubscriptionRegistration) carries its fix', async () => {
    arm.inject('PUT', /\/accounts\/[^/]+$/, {
      status: 400,
      code: 'SpecialFeatureOrQuotaIdRequired',
      message: "The subscription does not have QuotaId/Feature required by SKU 'S0' from kind 'OpenAI'",
    });
    arm.inject('PUT', /\/service\/[^/]+$/, {
      status: 409,
      code: 'MissingSubscriptionRegistration',
      message: "The subscription is not registered to use namespace 'Microsoft.ApiManagement'",
    });
    expect(await deploy(['--lab-id', 'slsub1'])).toBe(1);
    expect(output.stderr()).toMatch(
      /failed: openai-account: SpecialFeatureOrQuotaIdRequired .*Fix: this subscription has no access to Azure OpenAI/,
    );
    expect(output.stderr()).toMatch(
      /failed: apim-service: MissingSubscriptionRegistration .*Fix: register the provider/,
    );
    expect(await deploy()).toBe(0);
  });
});

describe('what ARM checks on every call', () => {
  it('a bogus token is refused (401 InvalidAuthenticationToken) and the deploy stops before creating anything, saying how to sign in', async () => {
    await expect(deploy(['--lab-id', 'sltok1'], bogusCredential())).rejects.toMatchObject({
      message: expect.stringMatching(
        /InvalidAuthenticationToken \(HTTP 401\): The access token is invalid.*Fix: sign in again/,
      ),
    });
    expect(arm.refusedTokens.length).toBeGreaterThan(0);
    expect(arm.writes()).toEqual([]);
  });

  it('a token for another audience, or an expired one, is refused', async () => {
    await expect(
      deploy(['--lab-id', 'sltok2'], fakeCredential(undefined, { aud: 'https://vault.azure.net' })),
    ).rejects.toMatchObject({ message: expect.stringMatching(/InvalidAuthenticationTokenAudience/) });
    await expect(
      deploy(['--lab-id', 'sltok2'], fakeCredential(undefined, { exp: Math.floor(Date.now() / 1000) - 60 })),
    ).rejects.toMatchObject({ message: expect.stringMatching(/ExpiredAuthenticationToken/) });
    expect(arm.writes()).toEqual([]);
  });

  it('an api-version the provider does not serve is refused (InvalidApiVersionParameter)', async () => {
    const client = new ApiManagementClient(fakeCredential(), FAKE_SUBSCRIPTION, {
      apiVersion: '2019-01-01',
      retryOptions: { maxRetries: 0 },
    });
    await expect(client.apiManagementService.checkNameAvailability({ name: 'x' })).rejects.toMatchObject({
      code: 'InvalidApiVersionParameter',
      message: expect.stringMatching(
        /The api-version '2019-01-01' is invalid\. The supported versions are '2024-05-01,/,
      ),
    });
  });

  it('an APIM service with an empty publisher field is refused (400 ValidationError): deploy code that sent one fails here', async () => {
    const record = planAzureLab({
      subscriptionId: FAKE_SUBSCRIPTION,
      location: 'eastus2',
      labId: 'slval1',
      model: 'gpt-4o-mini',
      modelVersion: '2024-07-18',
      modelSku: 'GlobalStandard',
      capacityK: 10,
      apimSku: 'BasicV2',
      forceConsumption: false,
      publisherEmail: '',
      localAuth: false,
      roles: 'assign',
      whatIf: false,
    });
    const outcome = await deployAzure({
      connection: await deps().connectAzure(FAKE_SUBSCRIPTION),
      record,
      policyXml: '<policies/>',
      secrets: {},
      onEvent: () => {},
      onNote: () => {},
      persist: () => {},
    });
    expect(outcome.failures).toEqual([
      {
        id: 'apim-service',
        message: expect.stringMatching(/^ValidationError \(HTTP 400\): One or more fields contain incorrect values/),
      },
    ]);
  });
});

describe('time: APIM takes minutes to hours to activate', () => {
  const connection = (credential: TokenCredential = fakeCredential()) => ({
    credential,
    subscriptionId: FAKE_SUBSCRIPTION,
    clientOptions: { retryOptions: { maxRetries: 0 } },
    pollIntervalMs: 50,
  });
  const run = (
    labId: string,
    flags: Partial<Parameters<typeof planAzureLab>[0]> = {},
    signal?: AbortSignal,
    credential?: TokenCredential,
  ) =>
    deployAzureLab({
      stateFile,
      flags: {
        subscriptionId: FAKE_SUBSCRIPTION,
        location: 'eastus2',
        labId,
        model: 'gpt-4o-mini',
        modelVersion: '2024-07-18',
        modelSku: 'GlobalStandard',
        capacityK: 10,
        apimSku: 'BasicV2',
        forceConsumption: false,
        publisherEmail: 'a@example.com',
        localAuth: false,
        roles: 'assign',
        whatIf: false,
        ...flags,
      },
      policyFile: 'infra/policies/streaming.xml',
      policyXml: readFileSync('infra/policies/streaming.xml', 'utf8'),
      connect: async () => connection(credential),
      ...(signal ? { signal } : {}),
      onEvent: () => {},
      onNote: () => {},
    });

  it('a classic tier activates for longer than a v2 tier (scaled), and the deploy waits it out polling', async () => {
    arm.close();
    arm = new FakeArm({ apimActivationMs: { classic: 1200, v2: 150 } }).listen();
    const classic = performance.now();
    expect((await run('sltime1', { apimSku: 'Developer' })).kind).toBe('deployed');
    const classicMs = performance.now() - classic;
    rmSync(stateFile);
    const v2 = performance.now();
    expect((await run('sltime2')).kind).toBe('deployed');
    expect(classicMs).toBeGreaterThanOrEqual(1200);
    expect(performance.now() - v2).toBeLessThan(classicMs);
    const polls = arm.log.filter(
      (r) => r.method === 'GET' && r.path.includes('/providers/Fake.Operations/operations/'),
    ).length;
    expect(polls).toBeGreaterThan(5);
  });

  it('a deploy stopped (Ctrl-C) while APIM activates resumes by waiting for that activation, not by a second PUT', async () => {
    arm.close();
    arm = new FakeArm({ apimActivationMs: { v2: 1500 } }).listen();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 400);
    const first = await run('slctrl1', {}, controller.signal);
    expect(first.kind).toBe('incomplete');
    expect(readLabState(stateFile)!.azure!.steps['apim-service']).toBeUndefined();
    const second = await run('slctrl1');
    expect(second.kind).toBe('deployed');
    expect(arm.conflicts).toEqual([]);
    expect(arm.writes().filter((w) => /^PUT .*\/service\/apim-streamlab-slctrl1$/i.test(w))).toHaveLength(1);
    expect([...arm.creations.values()].every((n) => n === 1)).toBe(true);
  });

  it('a token that expires during a long activation is renewed: the polls never go out with an expired one', async () => {
    arm.close();
    // Tokens live 2 s (exp is in whole seconds, as Entra's): the activation (3 s) outlives the first ones.
    arm = new FakeArm({ apimActivationMs: { v2: 3000 } }).listen();
    const calls = { count: 0 };
    expect((await run('sltok9', {}, undefined, fakeCredential(calls, {}, 2000))).kind).toBe('deployed');
    expect(arm.refusedTokens).toEqual([]);
    expect(calls.count).toBeGreaterThanOrEqual(4);
  });

  it('the fake refuses a PUT on a service that is still activating (the 409 a naive resume would meet)', async () => {
    arm.close();
    arm = new FakeArm({ apimActivationMs: { v2: 5000 } }).listen();
    const apim = new ApiManagementClient(fakeCredential(), FAKE_SUBSCRIPTION, { retryOptions: { maxRetries: 0 } });
    await new ResourceManagementClient(fakeCredential(), FAKE_SUBSCRIPTION, {
      retryOptions: { maxRetries: 0 },
    }).resourceGroups.createOrUpdate('rg-busy', { location: 'eastus2' });
    const body = {
      location: 'eastus2',
      sku: { name: 'BasicV2' as const, capacity: 1 },
      publisherEmail: 'a@example.com',
      publisherName: 'x',
    };
    await apim.apiManagementService.beginCreateOrUpdate('rg-busy', 'apim-busy', body);
    await expect(apim.apiManagementService.beginCreateOrUpdate('rg-busy', 'apim-busy', body)).rejects.toMatchObject({
      statusCode: 409,
      code: 'Conflict',
    });
  });
});

describe('policies are validated by APIM at PUT', () => {
  it('a policy naming a logger that does not exist is refused with what is missing; an unknown statement too', async () => {
    expect(await deploy(['--lab-id', 'slpolx1', '--policy', 'labs/buffering-pitfalls/body-logging.xml'])).toBe(1);
    expect(output.stderr()).toMatch(
      /failed: apim-policy: ValidationError \(HTTP 400\): One or more fields contain incorrect values: log-to-eventhub: Logger not found: 'audit-logger'/,
    );
    expect(arm.policyRefusals).toEqual(["Logger not found: 'audit-logger'."]);
    const bad = join(dir, 'bad.xml');
    writeFileSync(
      bad,
      '<policies><inbound><base /><set-backend-service backend-id="nowhere" /><buffer-everything /></inbound><backend><forward-request /></backend><outbound /><on-error /></policies>',
    );
    const record = readLabState(stateFile)!.azure!;
    const { applyAzurePolicy } = await import('../../src/lab/azure-lab.ts');
    await expect(applyAzurePolicy(record, readFileSync(bad, 'utf8'), deps().connectAzure)).rejects.toMatchObject({
      message: expect.stringMatching(
        /set-backend-service: Backend with id 'nowhere' could not be found\.; buffer-everything: 'buffer-everything' is not a known policy/,
      ),
    });
  });

  it("every policy a lab puts on APIM passes, the body-logging one with an Event Hubs logger of the user's (LAB_EVENTHUB_LOGGER)", async () => {
    expect(await deploy(['--lab-id', 'slpolx2', '--backends', 'labs/failover/backends.json'])).toBe(0);
    const record = readLabState(stateFile)!.azure!;
    // The user's own Event Hubs logger in the lab's APIM (made in the portal, say).
    const apim = new ApiManagementClient(fakeCredential(), FAKE_SUBSCRIPTION, { retryOptions: { maxRetries: 0 } });
    await apim.logger.createOrUpdate(record.resourceGroup, record.apimService, 'my-eventhub', {
      loggerType: 'azureEventHub',
      credentials: {
        name: 'audit',
        connectionString:
          'Endpoint=sb://example.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=not-a-key',
      },
    });
    const files = [
      ...readdirSync('infra/policies')
        .filter((f) => f.endsWith('.xml'))
        .map((f) => join('infra/policies', f)),
      ...readdirSync('labs').flatMap((lab) =>
        statSync(join('labs', lab)).isDirectory()
          ? readdirSync(join('labs', lab))
              .filter((f) => f.endsWith('.xml'))
              .map((f) => join('labs', lab, f))
          : [],
      ),
    ];
    expect(files.length).toBeGreaterThanOrEqual(5);
    const applied: string[] = [];
    await runGuidedLab(
      defineLab({
        name: 'every-policy',
        title: 'every policy a lab applies',
        async run(lab) {
          for (const file of files) {
            const loggers = Object.fromEntries(
              [...readFileSync(file, 'utf8').matchAll(/logger-id="([^"]+)"/g)].map(([, id]) => [
                id!,
                lab.setting('LAB_EVENTHUB_LOGGER')!,
              ]),
            );
            await lab.deploy(resolve(file), { loggers });
            applied.push(file);
          }
          return { finding: 'applied', facts: {} };
        },
      }),
      {
        labDir: dir,
        outDir: join(dir, 'out'),
        target: 'azure',
        stateFile,
        env: { LAB_EVENTHUB_LOGGER: 'my-eventhub' },
        signal: new AbortController().signal,
        toolVersion: 'test',
        step: () => {},
        connectAzure: deps().connectAzure,
        search: { endpoint: 'https://example.search.windows.net', index: 'docs' },
      },
    );
    expect(applied).toEqual(files);
    expect(arm.policyRefusals).toEqual([]);
  });
});

describe("every PUT body is checked against Microsoft's published schema", () => {
  it('names its source: the vendored files of Azure/azure-resource-manager-schemas, with the commit', () => {
    const sources = schemaSources();
    expect(sources.map((s) => s.path).sort()).toEqual(
      expect.arrayContaining([
        'schemas/2024-05-01/Microsoft.ApiManagement.json',
        'schemas/2025-09-01/Microsoft.CognitiveServices.json',
        'schemas/2022-04-01/Microsoft.Authorization.json',
      ]),
    );
    for (const s of sources)
      expect(s).toMatchObject({
        repository: 'https://github.com/Azure/azure-resource-manager-schemas',
        commit: expect.stringMatching(/^[0-9a-f]{40}$/),
      });
  });

  it('a whole deploy sends only bodies the schemas accept', async () => {
    expect(await deploy(['--lab-id', 'slsch1', '--local-auth'])).toBe(0);
    expect(arm.schemaRefusals).toEqual([]);
    expect(arm.writes().filter((w) => w.startsWith('PUT')).length).toBeGreaterThan(10);
  });

  it("refuses a body that does not match (values the SDK passes through but Azure's schema does not allow), as InvalidRequestContent naming the field", async () => {
    const credential = fakeCredential();
    const options = { retryOptions: { maxRetries: 0 } };
    await new ResourceManagementClient(credential, FAKE_SUBSCRIPTION, options).resourceGroups.createOrUpdate(
      'rg-schema',
      { location: 'eastus2' },
    );
    const apim = new ApiManagementClient(credential, FAKE_SUBSCRIPTION, options);
    await expect(
      apim.apiManagementService.beginCreateOrUpdateAndWait(
        'rg-schema',
        'apim-schema',
        {
          location: 'eastus2',
          sku: { name: 'Gold' as never, capacity: 1 },
          publisherEmail: 'a@example.com',
          publisherName: 'x',
        },
        { updateIntervalInMs: 0 },
      ),
    ).rejects.toMatchObject({
      code: 'InvalidRequestContent',
      message: expect.stringMatching(
        /microsoft\.apimanagement service: \/sku\/name must be equal to one of the allowed values \(.*Consumption.*BasicV2, StandardV2\)/,
      ),
    });
    const authorization = new AuthorizationManagementClient(credential, FAKE_SUBSCRIPTION, options);
    const scope = `subscriptions/${FAKE_SUBSCRIPTION}/resourceGroups/rg-schema`;
    await expect(
      authorization.roleAssignments.create(scope, '00000000-0000-4000-8000-000000000001', {
        roleDefinitionId: '/x',
        principalId: 'p',
        principalType: 'Robot',
      }),
    ).rejects.toMatchObject({
      code: 'InvalidRequestContent',
      message: expect.stringMatching(
        /\/properties\/principalType must be equal to one of the allowed values \(User, Group, ServicePrincipal/,
      ),
    });
    const openai = new CognitiveServicesManagementClient(credential, FAKE_SUBSCRIPTION, options);
    await expect(
      openai.accounts.beginCreateAndWait(
        'rg-schema',
        'aoai-schema',
        { location: 'eastus2', kind: 'OpenAI', sku: { name: 'S0' }, properties: { publicNetworkAccess: 'Sometimes' } },
        { updateIntervalInMs: 0 },
      ),
    ).rejects.toMatchObject({
      code: 'InvalidRequestContent',
      message: expect.stringMatching(
        /\/properties\/publicNetworkAccess must be equal to one of the allowed values \(Enabled, Disabled\)/,
      ),
    });
    expect(arm.schemaRefusals).toHaveLength(3);
  });
});

describe('lab:deploy --target azure --what-if', () => {
  it('prints the plan, the verdicts and the estimated time, creates nothing, and exits 0 when a deploy would go', async () => {
    expect(await deploy(['--lab-id', 'slwif1', '--what-if'])).toBe(0);
    expect(output.stdout()).toMatch(/^What-if: nothing was created\. Lab slwif1 in eastus2/);
    expect(output.stdout()).toMatch(/API Management service +5–15 min \(v2 tier; no Microsoft figure\)/);
    expect(output.stdout()).toMatch(/Estimated time: 5–15 min, set by the API Management service/);
    expect(output.stdout()).toMatch(/ok {4}model\n/);
    expect(output.stdout()).toMatch(
      /ok {4}permissions: your permissions are read on resource group rg-streamlab-slwif1, which does not exist yet/,
    );
    expect(output.stdout()).toMatch(/A deploy would go ahead/);
    expect(arm.writes()).toEqual([]);
    expect(readLabState(stateFile)).toBeUndefined();
  });

  it('exits 1 with every reason when a deploy would be refused, and a classic tier shows its tens of minutes', async () => {
    arm.models.find((m) => m.model.name === 'gpt-4o-mini')!.model.lifecycleStatus = 'Deprecated';
    arm.apimSkuRegions['Developer'] = ['West Europe'];
    expect(await deploy(['--lab-id', 'slwif2', '--apim-sku', 'Developer', '--what-if'])).toBe(1);
    expect(output.stderr()).toMatch(/API Management service +30–75 min \(classic tier\)/);
    expect(output.stderr()).toMatch(
      /FAIL {2}API Management tier in the region: API Management Developer is not offered in eastus2/,
    );
    expect(output.stderr()).toMatch(/FAIL {2}model: model gpt-4o-mini 2024-07-18 is Deprecated/);
    expect(output.stderr()).toMatch(/A deploy would be refused \(2 problem\(s\) above\)/);
    expect(arm.writes()).toEqual([]);
  });

  it('reads the permissions of a lab whose empty group exists, and says a Contributor would be refused', async () => {
    arm.callerRole = 'contributor';
    await expect(deploy(['--lab-id', 'slwif3'])).rejects.toMatchObject({ code: 'E_AZURE' });
    const writes = arm.writes().length;
    expect(await deploy(['--what-if'])).toBe(1);
    expect(output.stderr()).toMatch(
      /FAIL {2}permissions: permissions: your identity \(user .*\) cannot assign roles on resource group rg-streamlab-slwif3/,
    );
    expect(arm.writes().length).toBe(writes);
  });
});
