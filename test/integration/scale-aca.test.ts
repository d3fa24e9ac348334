import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cleanupCommand } from '../../src/cli/lab-commands.ts';
import { scaleCommand } from '../../src/cli/scale-command.ts';
import { readLabState } from '../../src/lab/state.ts';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { FakeAca, type FakeExecution } from '../helpers/fake-aca.ts';
import { FAKE_SUBSCRIPTION, FakeArm, fakeCredential } from '../helpers/fake-arm.ts';
import { startFastMock } from '../helpers/mock.ts';

// `npm run scale -- run aca` in-process against the fake ARM (Microsoft.App, Microsoft.Storage
// and the Azure Files data plane), driven by the real SDK clients. Each execution the fake
// starts really runs a bench shard (the CLI in a child process) against a loopback mock that
// only accepts the key the job holds as a Container Apps secret.
const SECRET = 'sk-aca-test-secret-0123456789abcdef';
/** The private registry's password (an ACR token's): a job secret, never anywhere else. */
const REGISTRY_PASSWORD = 'acr-token-password-not-real-0123456789';
const CLI = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('LAB_') && !name.startsWith('AZURE_')),
);

let arm: FakeArm;
let aca: FakeAca;
let mock: MockServer;
let dir: string;
let out: string;
let err: string;
/** Shards whose next execution the "container" fails (exit 1 before measuring). */
let failNext: Set<string>;
let runs: FakeExecution[];

async function runShard(execution: FakeExecution): Promise<boolean> {
  runs.push(execution);
  if (failNext.delete(execution.env['SHARD_INDEX']!)) return false;
  const [command, ...args] = execution.args;
  expect(command).toBe('bench');
  const child = spawn(process.execPath, [CLI, command!, ...args], {
    env: { ...ENV, ...execution.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  if (code !== 0) process.stdout.write(`shard failed: ${stderr}`);
  return code === 0;
}

const connectAzure = async (subscriptionId: string) => ({
  credential: fakeCredential(),
  subscriptionId,
  clientOptions: { retryOptions: { maxRetries: 0 } },
  pollIntervalMs: 0,
});
const scale = (args: string[]) =>
  scaleCommand(
    args,
    { ...ENV, AZURE_OPENAI_API_KEY: SECRET, ACA_REGISTRY_PASSWORD: REGISTRY_PASSWORD },
    { connectAzure, acaPollMs: 100 },
  );
const stateFile = () => join(dir, '.lab', 'state.json');
const runArgs = () => [
  'run',
  'aca',
  '--shards',
  '3',
  '--image',
  'myregistry.azurecr.io/streamlab:1',
  '--registry-username',
  'streamlab-pull',
  '--regions',
  'eastus2,swedencentral',
  '--subscription',
  FAKE_SUBSCRIPTION,
  '--run-id',
  'aca-test',
  '--start-delay',
  '1500ms',
  '--out',
  join(dir, 'out'),
  '--state',
  stateFile(),
  '--',
  '--endpoint',
  mock.url,
  '--api',
  'chat',
  '--stream',
  'on',
  '--max-tokens',
  '16',
  '--requests',
  '9',
  '--concurrency',
  '3',
  '--warmup',
  '0',
];

beforeEach(async () => {
  arm = new FakeArm().listen();
  dir = mkdtempSync(join(tmpdir(), 'scale-aca-'));
  aca = new FakeAca(arm, join(dir, 'azure-files'), runShard);
  mock = await startFastMock({ apiKey: SECRET });
  out = '';
  err = '';
  failNext = new Set();
  runs = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => ((out += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((err += String(chunk)), true));
});

afterEach(async () => {
  vi.restoreAllMocks();
  arm.close();
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every file under a folder, as text. */
function allText(folder: string): string {
  if (!existsSync(folder)) return '';
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('scale run aca against the fake ARM, driven by the real SDK clients', { timeout: 120_000 }, () => {
  it('a failed execution keeps everything; the same command re-runs only that shard, merges all three exactly, and tears down; no key in any output', async () => {
    failNext.add('1');
    expect(await scale(runArgs())).toBe(1);
    expect(err).toMatch(/shard 1: execution job-\w+-1-\w+ Failed/);
    expect(err).toMatch(/run the same command again to re-run only those shards/);
    const recorded = readLabState(stateFile())!.scale!;
    expect(statSync(stateFile()).mode & 0o777).toBe(0o600);
    expect(
      Object.values(recorded.executions)
        .map((e) => e.status)
        .sort(),
    ).toEqual(['Failed', 'Succeeded', 'Succeeded']);
    // Shard i ran its own job, in region i mod 2, with its SHARD_INDEX and the same start.
    expect(runs.map((r) => [r.env['SHARD_INDEX'], r.job]).sort()).toEqual(
      [0, 1, 2].map((i) => [String(i), `job-${recorded.distId}-${i}`]),
    );
    expect(
      Object.entries(recorded.executions)
        .map(([shard, e]) => [shard, e.region])
        .sort(),
    ).toEqual([
      ['0', 'eastus2'],
      ['1', 'swedencentral'],
      ['2', 'eastus2'],
    ]);
    expect(new Set(runs.map((r) => r.args[r.args.indexOf('--start-at') + 1])).size).toBe(1);
    // The two shards that ran were downloaded already.
    expect(readdirSync(join(dir, 'out/aca-test')).sort()).toEqual(['shard-0', 'shard-2']);

    // What went to ARM: a job per shard holding the key and the registry password as Container
    // Apps secrets, the container reading the key by reference, its SHARD_INDEX, the common
    // start and the results mount in the job's own template; executions started with no
    // override (Azure would replace the template with it, and lose the mount).
    const rg = `/subscriptions/${FAKE_SUBSCRIPTION}/resourcegroups/${recorded.resourceGroup}`;
    const job = aca.bodies.get(`${rg}/providers/microsoft.app/jobs/job-${recorded.distId}-1`)!.at(-1)! as Record<
      string,
      any
    >;
    expect(job['properties'].configuration).toMatchObject({
      triggerType: 'Manual',
      replicaRetryLimit: 0,
      manualTriggerConfig: { parallelism: 1, replicaCompletionCount: 1 },
      secrets: [
        { name: 'key-azure-openai-api-key', value: SECRET },
        { name: 'registry-password', value: REGISTRY_PASSWORD },
      ],
      registries: [
        { server: 'myregistry.azurecr.io', username: 'streamlab-pull', passwordSecretRef: 'registry-password' },
      ],
    });
    const container = job['properties'].template.containers[0];
    expect(container.env).toEqual([
      { name: 'AZURE_OPENAI_API_KEY', secretRef: 'key-azure-openai-api-key' },
      { name: 'SHARD_INDEX', value: '1' },
    ]);
    expect(container.volumeMounts).toEqual([{ volumeName: 'results', mountPath: '/results' }]);
    expect(container.args[container.args.indexOf('--start-at') + 1]).toBe(recorded.executions['1']!.startAt);
    expect(job['properties'].template.volumes).toEqual([
      { name: 'results', storageType: 'AzureFile', storageName: 'results' },
    ]);
    expect(aca.pullFailures).toEqual([]);
    const storage = aca.bodies.get(
      `${rg}/providers/microsoft.app/managedenvironments/${recorded.regions[1]!.environment}/storages/results`,
    )![0]! as Record<string, any>;
    expect(storage['properties'].azureFile).toMatchObject({
      accountName: recorded.regions[1]!.storageAccount,
      shareName: 'results',
      accessMode: 'ReadWrite',
    });
    const starts = [...aca.bodies].filter(([path]) => path.endsWith('/start')).flatMap(([, bodies]) => bodies);
    expect(starts).toHaveLength(3);
    for (const start of starts) expect(start).toEqual({});
    const creationsAfterFirst = [...arm.creations.values()].reduce((a, b) => a + b, 0);

    // The re-run: nothing provisioned twice, only shard 1 started again.
    err = '';
    expect(await scale(runArgs())).toBe(0);
    expect(err).toMatch(/continuing run aca-test .*2 of 3 shards succeeded/);
    expect(runs.map((r) => r.env['SHARD_INDEX'])).toEqual(expect.arrayContaining(['1', '1']));
    expect(runs).toHaveLength(4);
    expect([...arm.creations.values()].reduce((a, b) => a + b, 0)).toBe(creationsAfterFirst);
    expect([...arm.creations.values()].every((n) => n === 1)).toBe(true);
    // Merged exactly: 9 requests over the 3 shards, each shard named.
    const summary = JSON.parse(readFileSync(join(dir, 'out/aca-test/summary.json'), 'utf8')) as {
      run: { shards: Array<{ index: number }> };
      scenarios: Array<{ requests: number; ok: number }>;
    };
    expect(summary.run.shards.map((s) => s.index)).toEqual([0, 1, 2]);
    expect(summary.scenarios[0]).toMatchObject({ requests: 9, ok: 9 });
    expect(readFileSync(join(dir, 'out/aca-test/samples.jsonl'), 'utf8').trim().split('\n')).toHaveLength(9);
    expect(existsSync(join(dir, 'out/aca-test/report.html'))).toBe(true);
    // Torn down: the group is gone, the state forgets the run (and the file held nothing else).
    expect(arm.resourceGroup(recorded.resourceGroup)).toBeUndefined();
    expect(existsSync(stateFile())).toBe(false);
    expect(err).toMatch(/everything the run created on Azure was deleted/);
    // The key and the registry password: in the jobs' secrets (above) and nowhere else.
    for (const secret of [SECRET, REGISTRY_PASSWORD]) {
      expect(out + err).not.toContain(secret);
      expect(allText(join(dir, 'out'))).not.toContain(secret);
    }

    // Idempotent teardown.
    out = '';
    expect(await scale(['cleanup', 'aca', '--state', stateFile()])).toBe(0);
    expect(out).toMatch(/Nothing to clean up/);
  });

  it('--keep leaves the run; cleanup refuses a resource group whose tag changed, then deletes it once the tag is back, and twice is a no-op', async () => {
    expect(
      await scale([
        ...runArgs().slice(0, runArgs().indexOf('--')),
        '--keep',
        ...runArgs().slice(runArgs().indexOf('--')),
      ]),
    ).toBe(0);
    const recorded = readLabState(stateFile())!.scale!;
    expect(arm.resourceGroup(recorded.resourceGroup)).toBeDefined();
    expect(err).toMatch(/kept on Azure \(--keep\)/);
    const group = arm.resourceGroup(recorded.resourceGroup)!;
    const tags = group.body['tags'] as Record<string, string>;
    tags['apim-streaming-lab-dist'] = 'someone-else';
    await expect(scale(['cleanup', 'aca', '--state', stateFile()])).rejects.toThrow(
      /Refused to delete resource group .*not this run's id/,
    );
    expect(readLabState(stateFile())!.scale).toBeDefined();
    tags['apim-streaming-lab-dist'] = recorded.distId;
    expect(await scale(['cleanup', 'aca', '--state', stateFile()])).toBe(0);
    expect(arm.resourceGroup(recorded.resourceGroup)).toBeUndefined();
    out = '';
    expect(await scale(['cleanup', 'aca', '--state', stateFile()])).toBe(0);
    expect(out).toMatch(/Nothing to clean up/);
  });

  it('a state an older release wrote (the run under "dist"): lab:cleanup tears it down, and scale cleanup aca finds nothing left', async () => {
    expect(
      await scale([
        ...runArgs().slice(0, runArgs().indexOf('--')),
        '--keep',
        ...runArgs().slice(runArgs().indexOf('--')),
      ]),
    ).toBe(0);
    const { scale: recorded, ...rest } = JSON.parse(readFileSync(stateFile(), 'utf8')) as Record<string, unknown> & {
      scale: { resourceGroup: string };
    };
    writeFileSync(stateFile(), JSON.stringify({ ...rest, dist: recorded }));
    expect(readLabState(stateFile())!.scale).toEqual(recorded);
    out = '';
    expect(await cleanupCommand(['--state', stateFile(), '--yes'], { connectAzure, confirm: async () => true })).toBe(
      0,
    );
    expect(out).toMatch(/Cleaned up the scale run: deleted resource group/);
    expect(arm.resourceGroup(recorded.resourceGroup)).toBeUndefined();
    expect(existsSync(stateFile())).toBe(false);
    out = '';
    expect(await scale(['cleanup', 'aca', '--state', stateFile()])).toBe(0);
    expect(out).toMatch(/Nothing to clean up/);
  });

  it('refuses bad usage before touching Azure: a key variable that is not set, a bench flag the engine sets, another run in the state', async () => {
    await expect(scaleCommand(runArgs(), { ...ENV }, { connectAzure })).rejects.toThrow(
      /"--key-env": AZURE_OPENAI_API_KEY is not set/,
    );
    await expect(scale([...runArgs(), '--run-id', 'x'])).rejects.toThrow(/"--run-id": the engine sets it/);
    // A private registry's image needs its credentials in the jobs: refused at the edge, not as a failed pull on Azure.
    const withoutUser = runArgs().filter(
      (a, i, all) => a !== '--registry-username' && all[i - 1] !== '--registry-username',
    );
    await expect(scale(withoutUser)).rejects.toThrow(
      /"--registry-username": the image's registry myregistry\.azurecr\.io is private .*ACA_REGISTRY_PASSWORD/,
    );
    await expect(scaleCommand(runArgs(), { ...ENV, AZURE_OPENAI_API_KEY: SECRET }, { connectAzure })).rejects.toThrow(
      /"--registry-password-env": ACA_REGISTRY_PASSWORD is not set/,
    );
    expect(arm.writes()).toEqual([]);
  });
});

describe('dist, the old name of scale', () => {
  const cli = async (args: string[]) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    return { code, stdout, stderr };
  };

  it('still runs the command, with a one-line notice on stderr', async () => {
    const render = [
      'render',
      'k8s',
      '--shards',
      '2',
      '--image',
      'registry.example.net/streamlab:1',
      '--run-id',
      'alias',
      '--start-at',
      '2099-01-01T00:00:00Z',
      '--',
      '--endpoint',
      'https://gateway.example.net',
      '--concurrency',
      '2',
    ];
    const [scaled, old] = await Promise.all([cli(['scale', ...render]), cli(['dist', ...render])]);
    expect([scaled.code, old.code]).toEqual([0, 0]);
    expect(old.stdout).toBe(scaled.stdout);
    expect(scaled.stderr).not.toMatch(/"dist"/);
    expect(old.stderr.split('\n')[0]).toMatch(/^note: "dist" is now "scale" \(npm run scale -- …\)/);
    expect(old.stderr.slice(old.stderr.indexOf('\n') + 1)).toBe(scaled.stderr);
    const help = await cli(['dist', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run scale -- render k8s \| run aca \| cleanup aca/);
    expect(help.stderr.trim().split('\n')).toHaveLength(1);
  });
});
