import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planAzureLab } from '../../infra/azure-plan.ts';
import { azureLabState } from '../../src/lab/azure-lab.ts';
import { readLabState, writeLabState } from '../../src/lab/state.ts';
import { runCli } from '../helpers/cli.ts';

// The real CLI as a process, where no fake ARM can reach it: only what must never call Azure.
let dir: string;
const SUBSCRIPTION = '00000000-0000-4000-8000-00000000beef';
const env = { ...process.env, AZURE_SUBSCRIPTION_ID: SUBSCRIPTION, AZURE_TOKEN_CREDENTIALS: 'EnvironmentCredential' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'azure-cli-process-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('streamlab deploy/cleanup --target azure, as a process', () => {
  it('refuses Consumption for streaming with the reason, and a missing subscription, with exit 2 before any call', async () => {
    const consumption = await runCli(['deploy', '--target', 'azure', '--apim-sku', 'Consumption'], dir, env);
    expect(consumption.code).toBe(2);
    expect(consumption.stderr).toMatch(
      /Failed to read option "--apim-sku": the Consumption tier does not support long-running connections \(SSE\), caps every request at 30 s.*Allowed: BasicV2, StandardV2/,
    );
    const { AZURE_SUBSCRIPTION_ID: _omitted, ...withoutSubscription } = env;
    const missing = await runCli(['deploy', '--target', 'azure'], dir, withoutSubscription);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/"--subscription": no subscription given and AZURE_SUBSCRIPTION_ID is not set/);
  });

  it('a credential that cannot sign in fails preflight with exit 1 and writes no state', async () => {
    const stateFile = join(dir, 'nocred.json');
    const result = await runCli(['deploy', '--target', 'azure', '--state', stateFile], dir, env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /Preflight found 1 problem; nothing was created:\n {2}- credential: .*Fix: sign in with az login/,
    );
    expect(readLabState(stateFile)).toBeUndefined();
  });

  it('lab:cleanup --dry-run on an Azure state prints the plan, calls nothing and keeps the state', async () => {
    const stateFile = join(dir, 'azure-state.json');
    const record = planAzureLab({
      subscriptionId: SUBSCRIPTION,
      location: 'swedencentral',
      labId: 'sldry1',
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
    });
    writeLabState(stateFile, azureLabState(record, {}, 'infra/policies/streaming.xml', new Date().toISOString()));
    const result = await runCli(['cleanup', '--state', stateFile, '--dry-run'], dir, env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /Dry run; nothing changed\. lab:cleanup would:\n {2}- check that resource group rg-streamlab-sldry1 \(subscription 00000000-0000-4000-8000-00000000beef\) carries the tag apim-streaming-lab=sldry1, else stop/,
    );
    expect(result.stdout).toMatch(/purge soft-deleted API Management apim-streamlab-sldry1 \(swedencentral\)/);
    expect(readLabState(stateFile)?.azure?.labId).toBe('sldry1');
  });
});
