import { InvalidOptionError } from '../errors.ts';
import { BACKENDS_FILE_SHAPE, BackendsFileError, readBackendsFile, type BackendTable } from '../protocol/index.ts';
import { httpUrl, oneOf, parseCommandLine, parseFlags, positiveNumber } from '../flags.ts';
import { outputDirFlag } from '../files.ts';
import { BENCH_DEFAULTS } from './bench-options.ts';
import type { SearchSource } from '../endpoint/types.ts';
import { resolveSearchSource, TARGET_DEFAULTS } from './target-flags.ts';

export const LAB_TARGETS = ['local', 'azure'] as const;
export type LabTarget = (typeof LAB_TARGETS)[number];

/** An edge in front of the gateway: `--edge nginx[:buffered]` (local), or `--edge-url URL` with `--edge-key-env NAME`. */
export type EdgeOption =
  | { kind: 'nginx'; buffered: boolean }
  | { kind: 'url'; url: string; keyEnv: string | undefined };

/** `npm run lab:deploy` options. */
export interface DeployOptions {
  /** An edge in front of the gateway, the outermost path of the chain (`edge`). */
  edge: EdgeOption | undefined;
  target: LabTarget;
  policy: string;
  stateFile: string;
  seed: number;
  /** Mock timing flags passed through (`--ttft-ms`, `--itl-ms`, `--output-tokens`). */
  mockArgs: string[];
  /** `--backends FILE`: APIM backends (local: one mock per backend without url; Azure: one account each). */
  backendsFile: string | undefined;
  /** Set with `--target azure`. */
  azure: AzureDeployFlags | undefined;
  help: boolean;
}

/**
 * The environment variable names under which a lab stores the keys it made (the state's
 * `secrets`): the local lab's mock key and subscription key, the Azure lab's APIM
 * subscription key (and the account key with `--local-auth`).
 */
export const LAB_KEY_ENV = { direct: 'LAB_DIRECT_API_KEY', gateway: 'LAB_GATEWAY_SUBSCRIPTION_KEY' } as const;

/** What `--target azure` provisions (infra/azure-plan.ts plans it from these). */
export interface AzureDeployFlags {
  subscriptionId: string;
  location: string;
  labId: string | undefined;
  model: string;
  modelVersion: string;
  modelSku: string;
  capacityK: number;
  apimSku: string;
  forceConsumption: boolean;
  publisherEmail: string;
  localAuth: boolean;
  /** `--roles manual`: make no role assignment; print the `az role assignment create` lines for someone who can (a caller without Microsoft.Authorization/roleAssignments/write). */
  roles: 'assign' | 'manual';
  /** `--what-if`: the plan, preflight's verdicts and the estimated time; nothing is created. */
  whatIf: boolean;
  /** `--backends FILE`: APIM backends (pool, circuit breakers) to create, each file-less backend on its own account. */
  backends?: BackendsFlag | undefined;
}

/** `npm run lab:cleanup` options. */
export interface CleanupOptions {
  stateFile: string;
  dryRun: boolean;
  yes: boolean;
  keepSoftDeleted: boolean;
  help: boolean;
}

/** The defaults of `npm run lab:deploy -- --target azure` (part of DEPLOY_DEFAULTS). */
export const AZURE_DEFAULTS = {
  location: 'eastus2',
  model: 'gpt-4o-mini',
  modelVersion: '2024-07-18',
  modelSku: 'GlobalStandard' as (typeof MODEL_SKUS)[number],
  capacityK: 10,
  apimSku: 'BasicV2' as (typeof APIM_SKUS)[number],
  publisherEmail: 'noreply@example.com',
  roles: 'assign' as (typeof ROLE_MODES)[number],
};

/**
 * Every default of `npm run lab:deploy`: the resolver reads them from here and its --help
 * prints them from here. The mock's seed is the bench's default seed, so a bench run with no
 * --seed asks the mock for the answers it was started with.
 */
export const DEPLOY_DEFAULTS = {
  target: 'local' as LabTarget,
  policy: 'streaming',
  stateFile: TARGET_DEFAULTS.stateFile,
  seed: BENCH_DEFAULTS.seed,
  azure: AZURE_DEFAULTS,
};

/** Every default of `npm run lab:cleanup`. */
export const CLEANUP_DEFAULTS = { stateFile: TARGET_DEFAULTS.stateFile };

/** Every default of `npm run lab` (a guided lab sets its own policies and load). */
export const LAB_RUN_DEFAULTS = {
  target: 'local' as LabTarget,
  policy: 'streaming',
  /** Requests per bench scenario, all in flight at once. */
  requests: 8,
  stateFile: TARGET_DEFAULTS.stateFile,
};

/** APIM tiers (api-version 2024-05-01). Consumption is refused for streaming unless forced. */
export const APIM_SKUS = ['BasicV2', 'StandardV2', 'Developer', 'Basic', 'Standard', 'Premium', 'Consumption'] as const;
export const MODEL_SKUS = [
  'GlobalStandard',
  'Standard',
  'DataZoneStandard',
  'GlobalProvisionedManaged',
  'ProvisionedManaged',
  'DataZoneProvisionedManaged',
] as const;

/**
 * Why Consumption is refused (Microsoft Learn: API Management limits and SSE guidance): no
 * long-running connections, each request capped at 30 s, no token-limit policy.
 */
export const CONSUMPTION_REFUSAL =
  'the Consumption tier does not support long-running connections (SSE), caps every request at 30 s and has no token-limit policy';

const LAB_ID = /^[a-z][a-z0-9]{2,11}$/;
const AZURE_FLAGS = [
  'subscription',
  'location',
  'lab-id',
  'model',
  'model-version',
  'model-sku',
  'capacity',
  'apim-sku',
  'force-consumption',
  'publisher-email',
  'local-auth',
  'roles',
  'what-if',
] as const;
export const ROLE_MODES = ['assign', 'manual'] as const;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `npm run lab` options. */
export interface LabRunOptions {
  /** A guided lab in labs/<name>/ (none: the whole local lab in one go). */
  name: string | undefined;
  /** Guided labs: measure the local lab (default) or the Azure lab in --state. */
  target: LabTarget;
  stateFile: string;
  list: boolean;
  /** Guided labs' "On Your Data" source (flags, else AZURE_SEARCH_ENDPOINT/_INDEX, else the mock's placeholder). */
  search: SearchSource;
  policy: string;
  out: string | undefined;
  requests: number;
  help: boolean;
}

const MOCK_TIMING_FLAGS = ['ttft-ms', 'itl-ms', 'output-tokens'] as const;

export function resolveDeployOptions(argv: readonly string[], env: NodeJS.ProcessEnv = {}): DeployOptions {
  const values = parseFlags(
    argv,
    {
      target: { type: 'string' },
      policy: { type: 'string' },
      state: { type: 'string' },
      seed: { type: 'string' },
      'ttft-ms': { type: 'string' },
      'itl-ms': { type: 'string' },
      'output-tokens': { type: 'string' },
      subscription: { type: 'string' },
      location: { type: 'string' },
      'lab-id': { type: 'string' },
      model: { type: 'string' },
      'model-version': { type: 'string' },
      'model-sku': { type: 'string' },
      capacity: { type: 'string' },
      'apim-sku': { type: 'string' },
      'force-consumption': { type: 'boolean' },
      'publisher-email': { type: 'string' },
      'local-auth': { type: 'boolean' },
      roles: { type: 'string' },
      'what-if': { type: 'boolean' },
      backends: { type: 'string' },
      edge: { type: 'string' },
      'edge-url': { type: 'string' },
      'edge-key-env': { type: 'string' },
      help: { type: 'boolean' },
    },
    'npm run lab:deploy -- --help',
  );
  const target = oneOf('--target', (values['target'] as string | undefined) ?? DEPLOY_DEFAULTS.target, LAB_TARGETS);
  const mockArgs: string[] = [];
  for (const flag of MOCK_TIMING_FLAGS) {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) continue;
    if (target === 'azure')
      throw new InvalidOptionError(
        `--${flag}`,
        "the mock's timing applies to the local target only",
        'with --target local',
      );
    positiveNumber(`--${flag}`, raw, {
      integer: flag === 'output-tokens',
      min: flag === 'ttft-ms' || flag === 'itl-ms' ? 0 : 1,
      max: 600_000,
    });
    mockArgs.push(`--${flag}`, raw);
  }
  if (target === 'azure' && values['seed'] !== undefined)
    throw new InvalidOptionError('--seed', "the mock's seed applies to the local target only", 'with --target local');
  if (target === 'local') {
    const azureOnly = AZURE_FLAGS.find((flag) => values[flag] !== undefined);
    if (azureOnly !== undefined)
      throw new InvalidOptionError(`--${azureOnly}`, 'it applies to the Azure target only', '--target azure');
  }
  const edgeKind = values['edge'] as string | undefined;
  const edgeUrl = httpUrl('--edge-url', values['edge-url'] as string | undefined, 'https://my-ingress.example.net');
  const edgeKeyEnv = values['edge-key-env'] as string | undefined;
  if (edgeKind !== undefined && edgeUrl !== undefined)
    throw new InvalidOptionError(
      '--edge',
      'give --edge or --edge-url, not both',
      'one edge: nginx started by the lab, or the URL of one you run',
    );
  if (edgeKind !== undefined) {
    oneOf('--edge', edgeKind, ['nginx', 'nginx:buffered']);
    if (target === 'azure')
      throw new InvalidOptionError(
        '--edge',
        'the lab starts nginx locally only',
        '--target local, or --edge-url URL for an edge in front of APIM',
      );
  }
  if (edgeKeyEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(edgeKeyEnv))
    throw new InvalidOptionError(
      '--edge-key-env',
      `"${edgeKeyEnv}" is not an environment variable name`,
      'a name such as EDGE_SUBSCRIPTION_KEY',
    );
  if (edgeKeyEnv !== undefined && edgeUrl === undefined)
    throw new InvalidOptionError(
      '--edge-key-env',
      'it names the key of an edge given with --edge-url',
      '--edge-url URL --edge-key-env NAME',
    );
  const edge: EdgeOption | undefined =
    edgeKind !== undefined
      ? { kind: 'nginx', buffered: edgeKind === 'nginx:buffered' }
      : edgeUrl !== undefined
        ? { kind: 'url', url: edgeUrl, keyEnv: edgeKeyEnv }
        : undefined;
  return {
    target,
    edge,
    azure: target === 'azure' && values['help'] !== true ? resolveAzureFlags(values, env) : undefined,
    backendsFile: values['backends'] as string | undefined,
    policy: (values['policy'] as string | undefined) ?? DEPLOY_DEFAULTS.policy,
    stateFile: (values['state'] as string | undefined) ?? DEPLOY_DEFAULTS.stateFile,
    seed:
      positiveNumber('--seed', values['seed'] as string | undefined, { min: 0, max: 2 ** 32 - 1 }) ??
      DEPLOY_DEFAULTS.seed,
    mockArgs,
    help: values['help'] === true,
  };
}

/** `--subscription ID`, else AZURE_SUBSCRIPTION_ID: a subscription id (GUID), for every command that reaches ARM. */
export function subscriptionFlag(raw: string | undefined, env: NodeJS.ProcessEnv): string {
  const subscriptionId = raw ?? env['AZURE_SUBSCRIPTION_ID'];
  if (subscriptionId === undefined || subscriptionId === '')
    throw new InvalidOptionError(
      '--subscription',
      'no subscription given and AZURE_SUBSCRIPTION_ID is not set',
      'a subscription id (GUID), or AZURE_SUBSCRIPTION_ID in the environment',
    );
  if (!GUID.test(subscriptionId))
    throw new InvalidOptionError(
      '--subscription',
      `"${subscriptionId}" is not a subscription id`,
      'a GUID such as 00000000-0000-0000-0000-000000000000',
    );
  return subscriptionId;
}

function resolveAzureFlags(
  values: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): AzureDeployFlags {
  const text = (flag: string): string | undefined => values[flag] as string | undefined;
  const subscriptionId = subscriptionFlag(text('subscription'), env);
  const labId = text('lab-id');
  if (labId !== undefined && !LAB_ID.test(labId))
    throw new InvalidOptionError(
      '--lab-id',
      `"${labId}" cannot name Azure resources`,
      '3–12 lower-case letters and digits, starting with a letter',
    );
  const location = text('location') ?? AZURE_DEFAULTS.location;
  if (!/^[a-z0-9]+$/.test(location))
    throw new InvalidOptionError(
      '--location',
      `"${location}" is not a region name`,
      'a region name such as eastus2, swedencentral',
    );
  const apimSku = oneOf('--apim-sku', text('apim-sku') ?? AZURE_DEFAULTS.apimSku, APIM_SKUS);
  const forceConsumption = values['force-consumption'] === true;
  if (apimSku === 'Consumption' && !forceConsumption)
    throw new InvalidOptionError(
      '--apim-sku',
      `${CONSUMPTION_REFUSAL} (add --force-consumption to deploy it anyway)`,
      APIM_SKUS.filter((s) => s !== 'Consumption').join(', '),
    );
  const publisherEmail = text('publisher-email') ?? AZURE_DEFAULTS.publisherEmail;
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(publisherEmail))
    throw new InvalidOptionError(
      '--publisher-email',
      `"${publisherEmail}" is not an e-mail address`,
      'an address APIM sends its notices to',
    );
  return {
    subscriptionId,
    location,
    labId,
    model: text('model') ?? AZURE_DEFAULTS.model,
    modelVersion: text('model-version') ?? AZURE_DEFAULTS.modelVersion,
    modelSku: oneOf('--model-sku', text('model-sku') ?? AZURE_DEFAULTS.modelSku, MODEL_SKUS),
    capacityK:
      positiveNumber('--capacity', text('capacity'), { integer: true, min: 1, max: 10_000 }) ??
      AZURE_DEFAULTS.capacityK,
    apimSku,
    forceConsumption,
    publisherEmail,
    localAuth: values['local-auth'] === true,
    roles: oneOf('--roles', text('roles') ?? AZURE_DEFAULTS.roles, ROLE_MODES),
    whatIf: values['what-if'] === true,
    backends: text('backends') !== undefined ? readBackendsFlag(text('backends')!) : undefined,
  };
}

/** A `--backends FILE`, read and checked once. */
export interface BackendsFlag {
  file: string;
  table: BackendTable;
}

/** `--backends FILE` read and checked as ARM would take it; a file APIM would refuse is a usage error. */
export function readBackendsFlag(file: string): BackendsFlag {
  try {
    return { file, table: readBackendsFile(file) };
  } catch (error) {
    if (error instanceof BackendsFileError)
      throw new InvalidOptionError('--backends', error.message, BACKENDS_FILE_SHAPE);
    throw error;
  }
}

export function resolveCleanupOptions(argv: readonly string[]): CleanupOptions {
  const values = parseFlags(
    argv,
    {
      state: { type: 'string' },
      'dry-run': { type: 'boolean' },
      yes: { type: 'boolean' },
      'keep-soft-deleted': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    'npm run lab:cleanup -- --help',
  );
  return {
    stateFile: (values['state'] as string | undefined) ?? CLEANUP_DEFAULTS.stateFile,
    dryRun: values['dry-run'] === true,
    yes: values['yes'] === true,
    keepSoftDeleted: values['keep-soft-deleted'] === true,
    help: values['help'] === true,
  };
}

export function resolveLabRunOptions(
  argv: readonly string[],
  labNames: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
): LabRunOptions {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      policy: { type: 'string' },
      out: { type: 'string' },
      requests: { type: 'string' },
      target: { type: 'string' },
      state: { type: 'string' },
      'search-endpoint': { type: 'string' },
      'search-index': { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    'npm run lab -- --help',
  );
  const requests =
    positiveNumber('--requests', values['requests'] as string | undefined, { min: 2, max: 1000 }) ??
    LAB_RUN_DEFAULTS.requests;
  if (positionals.length > 1)
    throw new InvalidOptionError('LAB', `one lab at a time, got ${positionals.join(' ')}`, labNames.join(', '));
  const name = positionals[0] !== undefined ? oneOf('LAB', positionals[0], labNames) : undefined;
  const target = oneOf('--target', (values['target'] as string | undefined) ?? LAB_RUN_DEFAULTS.target, LAB_TARGETS);
  if (name === undefined && target === 'azure')
    throw new InvalidOptionError(
      '--target',
      'the whole-lab run is local only; name a lab to run it on Azure',
      `a lab name (${labNames.join(', ')}) with --target azure`,
    );
  if (name !== undefined) {
    for (const flag of ['policy', 'requests'] as const)
      if (values[flag] !== undefined)
        throw new InvalidOptionError(
          `--${flag}`,
          'a guided lab sets its own policies and load',
          `no --${flag} with a lab name`,
        );
  } else {
    for (const flag of ['state', 'search-endpoint', 'search-index'] as const)
      if (values[flag] !== undefined)
        throw new InvalidOptionError(
          `--${flag}`,
          'only guided labs take it',
          `a lab name (${labNames.join(', ')}) before --${flag}`,
        );
  }
  return {
    name,
    target,
    stateFile: (values['state'] as string | undefined) ?? LAB_RUN_DEFAULTS.stateFile,
    list: values['list'] === true,
    search: resolveSearchSource(
      values['search-endpoint'] as string | undefined,
      values['search-index'] as string | undefined,
      env,
    ),
    policy: (values['policy'] as string | undefined) ?? LAB_RUN_DEFAULTS.policy,
    out: values['out'] !== undefined ? outputDirFlag('--out', values['out'] as string) : undefined,
    requests,
    help: values['help'] === true,
  };
}
