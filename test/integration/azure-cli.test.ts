import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanupCommand, deployCommand, type LabCommandDeps } from '../../src/cli/lab-commands.ts';
import { verifyCommand } from '../../src/cli/verify-command.ts';
import { defineLab, runGuidedLab } from '../../src/lab/guided-lab.ts';
import { readLabState } from '../../src/lab/state.ts';
import { FAKE_SUBSCRIPTION, FakeArm, fakeCredential } from '../helpers/fake-arm.ts';
import { DEPLOY_STEP_IDS } from '../../infra/azure-plan.ts';
import { captureOutput, type CapturedOutput } from '../helpers/capture-output.ts';

// The CLI commands in-process (MSW intercepts only this process), with the fake ARM behind
// the real SDK clients; stdout and stderr are captured to check what a user would see.
const APIM_KEY = 'fake-apim-primary-key-0123456789';
const OPENAI_KEY = 'fake-openai-key-1-0123456789abcdef';

let arm: FakeArm;
let dir: string;
let stateFile: string;
let output: CapturedOutput;
let confirmations: string[][];

const deps = (answer = true): LabCommandDeps => ({
  connectAzure: async (subscriptionId) => ({
    credential: fakeCredential(),
    subscriptionId,
    clientOptions: { retryOptions: { maxRetries: 0 } },
    pollIntervalMs: 0,
  }),
  confirm: async (plan) => {
    confirmations.push(plan);
    return answer;
  },
});

beforeEach(() => {
  arm = new FakeArm().listen();
  dir = mkdtempSync(join(tmpdir(), 'azure-cli-'));
  stateFile = join(dir, 'state.json');
  confirmations = [];
  output = captureOutput();
});

afterEach(() => {
  vi.restoreAllMocks();
  arm.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = { AZURE_SUBSCRIPTION_ID: FAKE_SUBSCRIPTION };

describe('lab:deploy --target azure and lab:cleanup through the CLI commands', () => {
  it('deploys with a task list on stderr, cleans up after confirmation, and never prints a key', async () => {
    expect(
      await deployCommand(
        ['--target', 'azure', '--state', stateFile, '--lab-id', 'slcli1', '--local-auth'],
        env,
        deps(),
      ),
    ).toBe(0);
    expect(output.stdout()).toMatch(/Deployed in \d+ s\.\nAzure lab slcli1 in eastus2/);
    expect(output.stdout()).toMatch(
      /gateway +https:\/\/apim-streamlab-slcli1\.azure-api\.net +subscription-key: LAB_GATEWAY_SUBSCRIPTION_KEY/,
    );
    expect(output.stdout()).toMatch(
      /direct +https:\/\/aoai-streamlab-slcli1\.openai\.azure\.com +api-key: LAB_DIRECT_API_KEY/,
    );
    // Not a terminal here: one line per change of state, with elapsed time.
    expect(output.stderr()).toMatch(/… API Management service +running/);
    expect(output.stderr()).toMatch(/✓ API Management service +done +\d+s/);
    expect(output.stderr().match(/✓ .* done /g)?.length).toBe(DEPLOY_STEP_IDS.length);
    const state = readLabState(stateFile)!;
    expect(state.secrets).toEqual({ LAB_DIRECT_API_KEY: OPENAI_KEY, LAB_GATEWAY_SUBSCRIPTION_KEY: APIM_KEY });
    expect(statSync(stateFile).mode & 0o777).toBe(0o600);

    expect(await deployCommand(['--target', 'azure', '--state', stateFile], env, deps())).toBe(0);
    expect(output.stdout()).toMatch(/already deployed; nothing changed/);

    expect(await cleanupCommand(['--state', stateFile, '--dry-run'], deps())).toBe(0);
    expect(output.stdout()).toMatch(
      /Dry run; nothing changed\. lab:cleanup would:\n {2}- check that resource group rg-streamlab-slcli1/,
    );
    expect(confirmations).toEqual([]);
    expect(await cleanupCommand(['--state', stateFile], deps())).toBe(0);
    expect(confirmations.length).toBe(1);
    expect(output.stdout()).toMatch(
      /Cleaned up Azure lab slcli1:[\s\S]*purged soft-deleted API Management apim-streamlab-slcli1/,
    );
    expect(await cleanupCommand(['--state', stateFile], deps())).toBe(0);
    expect(output.stdout()).toMatch(/Nothing to clean up: no lab state/);

    for (const key of [APIM_KEY, OPENAI_KEY]) {
      expect(output.stdout()).not.toContain(key);
      expect(output.stderr()).not.toContain(key);
    }
  });

  it('a declined confirmation deletes nothing and keeps the state', async () => {
    expect(await deployCommand(['--target', 'azure', '--state', stateFile, '--lab-id', 'slcli2'], env, deps())).toBe(0);
    const writes = arm.writes().length;
    await expect(cleanupCommand(['--state', stateFile], deps(false))).rejects.toMatchObject({
      code: 'E_REFUSED',
      message: expect.stringMatching(/not confirmed\. Nothing was deleted/),
    });
    expect(arm.writes().length).toBe(writes);
    expect(readLabState(stateFile)).toBeDefined();
  });

  it('a failed step exits 1 naming it and how to continue; the re-run exits 0', async () => {
    arm.inject('PUT', /\/deployments\/[^/]+$/, {
      status: 400,
      code: 'InsufficientQuota',
      message: 'This operation require 10 new capacity in quota Tokens Per Minute (thousands)',
    });
    expect(await deployCommand(['--target', 'azure', '--state', stateFile, '--lab-id', 'slcli3'], env, deps())).toBe(1);
    expect(output.stderr()).toMatch(
      /failed: model-deployment: InsufficientQuota \(HTTP 400\): This operation require 10 new capacity.*Fix: lower --capacity/,
    );
    expect(output.stderr()).toMatch(/Run npm run lab:deploy -- --target azure again to continue/);
    expect(await deployCommand(['--target', 'azure', '--state', stateFile], env, deps())).toBe(0);
    expect(output.stderr()).toMatch(/✓ model deployment +done/);
    expect(output.stderr()).toMatch(/✓ API Management service +done earlier/);
  });

  it('bad flags name the flag and what is allowed', async () => {
    const bad = async (argv: string[], environment: NodeJS.ProcessEnv = env) =>
      deployCommand(argv, environment, deps()).then(
        () => undefined,
        (e: Error & { option?: string }) => e,
      );
    expect(await bad(['--target', 'azure', '--apim-sku', 'Consumption'])).toMatchObject({
      option: '--apim-sku',
      message: expect.stringMatching(/does not support long-running connections \(SSE\).*--force-consumption/),
    });
    expect(await bad(['--target', 'azure'], {})).toMatchObject({
      option: '--subscription',
      message: expect.stringMatching(/AZURE_SUBSCRIPTION_ID is not set/),
    });
    expect(await bad(['--target', 'azure', '--lab-id', 'Bad_Id'])).toMatchObject({ option: '--lab-id' });
    expect(await bad(['--target', 'azure', '--seed', '3'])).toMatchObject({ option: '--seed' });
    expect(await bad(['--location', 'westus'])).toMatchObject({
      option: '--location',
      message: expect.stringMatching(/Azure target only/),
    });
    expect(arm.log).toEqual([]);
  });

  it('--force-consumption deploys a Consumption service with capacity 0, with a warning', async () => {
    expect(
      await deployCommand(
        [
          '--target',
          'azure',
          '--state',
          stateFile,
          '--lab-id',
          'slcli4',
          '--apim-sku',
          'Consumption',
          '--force-consumption',
        ],
        env,
        deps(),
      ),
    ).toBe(0);
    expect(output.stderr()).toMatch(/warning: Consumption tier forced/);
    const service = [...arm.resources.values()].find((r) => r.kind === 'apim')!;
    expect(service.body['sku']).toEqual({ name: 'Consumption', capacity: 0 });
  });
});

describe('the real DefaultAzureCredential', () => {
  it('signs in with a client secret from the environment (Entra ID faked too) and deploys as that service principal', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AZURE_TENANT_ID: '72f988bf-0000-4000-8000-000000000000',
      AZURE_CLIENT_ID: '33333333-0000-4000-8000-000000000000',
      AZURE_CLIENT_SECRET: 'not-a-real-secret',
      AZURE_TOKEN_CREDENTIALS: 'EnvironmentCredential',
    });
    try {
      const { defaultArmConnection } = await import('../../src/lab/azure-lab.ts');
      const real: LabCommandDeps = {
        connectAzure: async (id) => ({
          ...(await defaultArmConnection(id)),
          clientOptions: { retryOptions: { maxRetries: 0 } },
          pollIntervalMs: 0,
        }),
        confirm: async () => true,
      };
      expect(await deployCommand(['--target', 'azure', '--state', stateFile, '--lab-id', 'slcred1'], env, real)).toBe(
        0,
      );
    } finally {
      process.env = saved;
    }
    expect(arm.tokensIssued).toBeGreaterThan(0);
    const roles = [...arm.resources.values()]
      .filter((r) => r.kind === 'role-assignment')
      .map((r) => (r.body['properties'] as Record<string, string>)['principalType']);
    expect(roles).toEqual(['ServicePrincipal', 'ServicePrincipal']);
    expect(output.stdout() + output.stderr()).not.toContain('not-a-real-secret');
  });
});

describe('lab:verify on an Azure lab lints what is deployed, read through ARM', () => {
  it('the deployed streaming policy passes the lint; body logging in a deployed diagnostic fails it', async () => {
    expect(await deployCommand(['--target', 'azure', '--state', stateFile, '--lab-id', 'slver1'], env, deps())).toBe(0);
    const checks = 'lint-forward-request,lint-response-body,lint-body-logging,lint-tier';
    const report = (name: string) =>
      JSON.parse(readFileSync(join(dir, name, 'compliance.json'), 'utf8')) as {
        checks: Array<{ id: string; status: string; evidence?: unknown; summary?: string }>;
      };
    const verify = (name: string) =>
      verifyCommand(['--state', stateFile, '--checks', checks, '--out', join(dir, name)], {}, deps().connectAzure);

    expect(await verify('clean')).toBe(0);
    const clean = report('clean');
    expect(clean.checks.map((c) => [c.id, c.status])).toEqual([
      ['lint-forward-request', 'pass'],
      ['lint-response-body', 'pass'],
      ['lint-body-logging', 'pass'],
      ['lint-tier', 'pass'],
    ]);
    expect(arm.log.some((r) => r.method === 'GET' && /\/apis\/azure-openai\/policies\/policy$/.test(r.path))).toBe(
      true,
    );
    expect(JSON.stringify(clean)).toMatch(/azure:apim-streamlab-slver1\/apis\/azure-openai/);

    // Someone turns on Application Insights body logging for the API in the portal.
    arm.diagnostics = [
      {
        scope: 'api',
        name: 'applicationinsights',
        properties: { loggerId: '/loggers/appinsights', frontend: { response: { body: { bytes: 8192 } } } },
      },
    ];
    expect(await verify('logging')).toBe(1);
    const logging = report('logging');
    expect(logging.checks.find((c) => c.id === 'lint-body-logging')!.status).toBe('fail');
    expect(JSON.stringify(logging.checks.find((c) => c.id === 'lint-body-logging'))).toMatch(
      /api\/applicationinsights/,
    );
    expect(readdirSync(join(dir, 'logging'))).toContain('compliance.md');
    expect(output.stdout() + output.stderr()).not.toContain(APIM_KEY);
  });
});

describe('a guided lab on Azure (npm run lab -- <name> --target azure)', () => {
  it('puts each policy the lab asks for on the deployed API, and the deployed one back at the end', async () => {
    expect(await deployCommand(['--target', 'azure', '--state', stateFile, '--lab-id', 'slgl1'], env, deps())).toBe(0);
    const policyPuts = (): number =>
      arm.log.filter((r) => r.method === 'PUT' && /\/apis\/[^/]+\/policies\/policy$/i.test(r.path)).length;
    const currentPolicy = (): string => {
      const [, resource] = [...arm.resources].find(([key]) => /\/apis\/[^/]+\/policies\/policy$/.test(key))!;
      return String((resource.body['properties'] as { value?: string }).value);
    };
    const deployed = currentPolicy();
    expect(policyPuts()).toBe(1);
    const seen: string[] = [];
    const finding = await runGuidedLab(
      defineLab({
        name: 'policy-switch',
        title: 'switch',
        async run(lab) {
          await lab.deploy('buffered');
          seen.push(currentPolicy());
          return { finding: 'switched', facts: {} };
        },
      }),
      {
        labDir: dir,
        outDir: join(dir, 'out'),
        target: 'azure',
        stateFile,
        env,
        signal: new AbortController().signal,
        toolVersion: 'test',
        step: () => {},
        connectAzure: deps().connectAzure,
        search: { endpoint: 'https://example.search.windows.net', index: 'docs' },
      },
    );
    expect(finding.finding).toBe('switched');
    // During the lab: the buffered policy (forward-request without buffer-response="false").
    expect(seen[0]).toContain('<forward-request timeout="120" />');
    // After it: the deployed streaming policy again, verbatim.
    expect(policyPuts()).toBe(3);
    expect(currentPolicy()).toBe(deployed);
    expect(deployed).toContain('buffer-response="false"');
  });
});
