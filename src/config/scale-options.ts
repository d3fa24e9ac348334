import { InvalidOptionError } from '../errors.ts';
import { durationMs, oneOf, parseCommandLine, positiveNumber, required } from '../flags.ts';
import { outputDirFlag, outputFileFlag } from '../files.ts';
import { AZURE_DEFAULTS, subscriptionFlag } from './lab-options.ts';
import { BENCH_DEFAULTS, resolveBenchOptions } from './bench-options.ts';
import { TARGET_DEFAULTS } from './target-flags.ts';

/** `npm run scale -- render k8s …`: a sharded bench as a Kubernetes Indexed Job. */
export interface RenderK8sOptions {
  shards: number;
  image: string;
  namespace: string;
  runId: string;
  /** When every shard starts: pods must be scheduled and pulled by then. */
  startAt: Date;
  /** The Kubernetes Secret holding the keys (its keys are environment variable names). */
  secret: string;
  /** Environment variable names the bench reads keys from; each comes from `secret`. */
  keyEnv: string[];
  storageClass: string;
  storage: string;
  out: string | undefined;
  /** The bench's own flags (after `--`), run by every shard. */
  benchArgs: string[];
  help: boolean;
}

/** What names a run when no --run-id is given: `streamlab-<UTC time, yyyymmddhhmmss>`. */
export const RUN_ID_PREFIX = 'streamlab-';

/** Every default of `npm run scale -- render k8s` (its --help prints them from here). */
export const RENDER_K8S_DEFAULTS = {
  namespace: 'default',
  secret: 'streamlab-keys',
  keyEnv: [TARGET_DEFAULTS.apiKeyEnv],
  storageClass: 'azurefile-csi',
  storage: '5Gi',
  /** From rendering to the common start: pods must be scheduled and pull the image by then. */
  startDelayMs: 180_000,
};

const RUN_ID = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Flags the render sets on every shard itself. */
const OWNED = ['--shard', '--shards', '--run-id', '--start-at', '--out', '--workers'];

/** `render k8s`, `run aca` or `cleanup aca`: what `npm run scale` was asked, from its first two words. */
export type ScaleAction = 'render-k8s' | 'run-aca' | 'cleanup-aca';

export function scaleActionOf(argv: readonly string[]): ScaleAction | 'help' {
  // The command's two words come first: `scale run aca --shards 2 …`.
  if (argv[0] === undefined || argv[0] === '--help') return 'help';
  const verb = oneOf('COMMAND', argv[0], ['render', 'run', 'cleanup']);
  oneOf('ENGINE', argv[1] ?? '', [verb === 'render' ? 'k8s' : 'aca']);
  if (verb === 'render') return 'render-k8s';
  return verb === 'run' ? 'run-aca' : 'cleanup-aca';
}

/** A Kubernetes namespace or label-like name (RFC 1123 label). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Secret or StorageClass name (RFC 1123 subdomain). */
const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** A resource quantity such as 5Gi. */
const QUANTITY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
/** An image reference: [registry[:port]/]path[:tag][@sha256:digest], no spaces, no control characters (the OCI distribution grammar, simplified). */
const IMAGE =
  /^(?:[a-zA-Z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$/;

/** The image flag of `render k8s` and `run aca`: a reference a registry can resolve. */
export function imageFlag(image: string): string {
  if (!IMAGE.test(image))
    throw new InvalidOptionError(
      '--image',
      `${JSON.stringify(image)} is not an image reference`,
      'registry/name:tag, e.g. myregistry.azurecr.io/streamlab:1 (lower-case path, no spaces)',
    );
  return image;
}

/** The bench's flags that name the environment variable a key is read from. */
const KEY_SOURCE_FLAGS = ['--api-key-env', '--subscription-key-env'];

/**
 * The environment variables the bench flags name as key sources (`--api-key-env NAME`,
 * `--subscription-key-env NAME`, or `--flag=NAME`), in order, each once. The shards read their
 * keys from these, so they must be among the variables the Secret / job secrets provide.
 */
export function benchKeySources(benchArgs: readonly string[]): string[] {
  const names: string[] = [];
  benchArgs.forEach((arg, i) => {
    const [flag = '', inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    if (!KEY_SOURCE_FLAGS.includes(flag)) return;
    const name = inline ?? benchArgs[i + 1];
    if (name === undefined || !ENV_NAME.test(name))
      throw new InvalidOptionError(
        flag,
        `${name === undefined || name === '' ? 'no' : 'not an'} environment variable name after it (bench argument ${i + 1})`,
        'a name such as AZURE_OPENAI_API_KEY ([A-Za-z_][A-Za-z0-9_]*)',
      );
    if (!names.includes(name)) names.push(name);
  });
  return names;
}

/** A bench flag whose own name says it carries a key (the bench has none: keys travel by reference). */
const KEY_FLAG_NAME =
  /^--?(?:[A-Za-z0-9]+[-_])*(?:api[-_]?key|subscription[-_]?key|key|authorization|auth|bearer|password|passwd|pwd|secret|token|credentials?)$/i;
/**
 * Key shapes inside an argument, built to refuse real keys and let prose through: a key given
 * as a parameter or header (`api-key=…`, `?sig=…`, `Ocp-Apim-Subscription-Key: …`), a bearer
 * token, an OpenAI-style `sk-…` key, a 32-hex Azure / APIM key, or a long random base64/base62
 * run (upper and lower case and digits, as generated keys are and words are not).
 */
const KEY_SHAPES: RegExp[] = [
  /(?:^|[^A-Za-z0-9])(?:api[-_]?key|subscription[-_]?key|ocp-apim-subscription-key|x-api-key|access[-_]?token|auth[-_]?token|id[-_]?token|refresh[-_]?token|client[-_]?secret|password|passwd|pwd|secret)\s*=\s*[^\s&]/i,
  /(?:^|[^A-Za-z0-9-])(?:api-key|ocp-apim-subscription-key|x-api-key)\s*:\s*\S/i,
  /[?&;](?:sig|code|token|key)=[^\s&]/i,
  /\bauthorization\s*[=:]\s*(?:bearer|basic|sharedkey|token)\s+\S/i,
  /\bbearer\s+(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{12,}=*/i,
  /\bbearer\s+[A-Za-z0-9._~+/-]{24,}=*/i,
  /(?:^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{16,}/,
  /(?:^|[^A-Za-z0-9])[0-9a-f]{32}(?:[^A-Za-z0-9]|$)/i,
];
const RANDOM_RUN = /[A-Za-z0-9+/_-]{32,}={0,2}/g;

function keyShaped(arg: string): boolean {
  if (KEY_SHAPES.some((shape) => shape.test(arg))) return true;
  // A random token: mixed case and digits in one long stretch. A name made of words joined by
  // '-', '_' or '/' (a deployment such as My-Deployment-2024-gpt4o-mini-eastus2) has short stretches.
  return (arg.match(RANDOM_RUN) ?? []).some(
    (run) =>
      /[A-Z]/.test(run) &&
      /[a-z]/.test(run) &&
      /\d/.test(run) &&
      run.split(/[-_/]/).some((stretch) => stretch.length >= 20),
  );
}

/** Where a bench argument is, named without its value: `bench argument 4 (the value of --endpoint)`. */
function argumentAt(benchArgs: readonly string[], i: number): string {
  const arg = benchArgs[i]!;
  if (arg.startsWith('--'))
    return `bench argument ${i + 1} (the flag ${arg.includes('=') ? `${arg.slice(0, arg.indexOf('='))}=…` : arg})`;
  const previous = benchArgs[i - 1];
  return previous?.startsWith('--') && !previous.includes('=')
    ? `bench argument ${i + 1} (the value of ${previous})`
    : `bench argument ${i + 1}`;
}

/** A URL with userinfo (`scheme://user:password@host`) anywhere in an argument. */
const URL_USERINFO = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#\s@]*@/;

/**
 * The bench flags every shard runs, checked as the bench itself will check them (its own
 * resolver, with the flags the engine adds), before anything is written: a flag the bench
 * refuses would only show when the pods start. And no key value anywhere in them: neither a
 * key-shaped flag or parameter, nor a URL's userinfo, nor the value of a key variable of this
 * environment (those `keyEnv` names, and those the bench flags read keys from). A refusal
 * names where the argument is, never what it holds.
 */
export function checkShardBenchArgs(
  benchArgs: readonly string[],
  shards: number,
  keyEnv: readonly string[],
  env: NodeJS.ProcessEnv,
  otherSecretEnv: readonly string[] = [],
): void {
  const keyNames = [...new Set([...keyEnv, ...benchKeySources(benchArgs), ...otherSecretEnv])];
  for (const name of keyNames) {
    const value = env[name];
    if (value === undefined || value.length < 8) continue;
    const at = benchArgs.findIndex((arg) => arg.includes(value));
    if (at >= 0)
      throw new InvalidOptionError(
        '--',
        `${argumentAt(benchArgs, at)} holds the value of ${name}`,
        `keys by reference only: --api-key-env ${name} / --subscription-key-env ${name} (the value never goes into the manifest)`,
      );
  }
  const withUserinfo = benchArgs.findIndex((arg) => URL_USERINFO.test(arg));
  if (withUserinfo >= 0)
    throw new InvalidOptionError(
      '--',
      `${argumentAt(benchArgs, withUserinfo)} is a URL with user information (user:password@), which would put a credential into what every shard is given`,
      'URLs without user information (https://host/path); keys by reference only: --api-key-env NAME / --subscription-key-env NAME',
    );
  const keyed = benchArgs.findIndex(
    (arg) => (arg.startsWith('-') ? KEY_FLAG_NAME.test(arg.split('=')[0]!) : false) || keyShaped(arg),
  );
  if (keyed >= 0)
    throw new InvalidOptionError(
      '--',
      `${argumentAt(benchArgs, keyed)} looks like a key and would put a key into what every shard is given`,
      'keys by reference only: --api-key-env NAME / --subscription-key-env NAME (the Secret provides them); no key values, key=... parameters, Bearer tokens or URL user information in bench flags',
    );
  const probe = [
    ...benchArgs,
    '--shards',
    String(shards),
    '--run-id',
    'check',
    '--start-at',
    new Date(Date.now() + 60_000).toISOString(),
    '--out',
    '/results',
  ];
  try {
    resolveBenchOptions(probe, { JOB_COMPLETION_INDEX: '0', SHARD_INDEX: '0' });
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error;
    const [, reason = error.message, allowed = 'bench flags the bench takes (npm run bench -- --help)'] =
      /^Failed to read option "[^"]*": (.*)\. Allowed: (.*)\.$/s.exec(error.message) ?? [];
    throw new InvalidOptionError(
      error.option,
      `a bench flag after -- that every shard would refuse: ${reason}`,
      allowed,
    );
  }
}

/**
 * The variables the pods / jobs get from the secret: `--key-env` when given, else the default;
 * plus every variable the bench flags read a key from (`--api-key-env`, `--subscription-key-env`),
 * which the shards would otherwise run without. A named `--api-key-env` replaces the default
 * AZURE_OPENAI_API_KEY when `--key-env` is not given.
 */
function secretKeyEnv(
  explicit: string[] | undefined,
  benchArgs: readonly string[],
  defaults: readonly string[],
): string[] {
  const sources = benchKeySources(benchArgs);
  const namesApiKey = benchArgs.some((arg) => arg === '--api-key-env' || arg.startsWith('--api-key-env='));
  const base = explicit ?? (namesApiKey ? [] : defaults);
  return [...new Set([...base, ...sources])];
}

/** `--start-at` read exactly as the bench reads it (its own resolver: ISO 8601 or epoch milliseconds), and in the future. */
function startAtFlag(raw: string, now: Date): Date {
  const startAt = resolveBenchOptions(['--start-at', raw], {}).startAt!;
  if (startAt.getTime() <= now.getTime())
    throw new InvalidOptionError(
      '--start-at',
      `${JSON.stringify(raw)} is ${startAt.toISOString()}, not after now (${now.toISOString()}): every shard would start late`,
      'a future time, as the bench reads it: ISO 8601 (2026-11-30T12:00:00Z) or epoch milliseconds',
    );
  return startAt;
}

/** Splits `own flags -- bench flags`, refusing bench flags the engine sets per shard. */
function splitBenchArgs(argv: readonly string[]): { own: readonly string[]; benchArgs: string[] } {
  const split = argv.indexOf('--');
  const own = split >= 0 ? argv.slice(0, split) : argv;
  const benchArgs = split >= 0 ? argv.slice(split + 1) : [];
  const owned = benchArgs.find((arg) => OWNED.includes(arg.split('=')[0]!));
  if (owned)
    throw new InvalidOptionError(
      owned,
      'the engine sets it for every shard',
      `bench flags other than ${OWNED.join(', ')}`,
    );
  return { own, benchArgs };
}

/** `--key-env A,B` as given (undefined when not given): every name non-empty and a variable name. */
function keyEnvNames(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const names = raw.split(',');
  for (const name of names) {
    if (name === '')
      throw new InvalidOptionError(
        '--key-env',
        `${JSON.stringify(raw)} has an empty name`,
        'a comma-separated list of environment variable names ([A-Za-z_][A-Za-z0-9_]*) such as AZURE_OPENAI_API_KEY,APIM_SUBSCRIPTION_KEY',
      );
    if (!ENV_NAME.test(name))
      throw new InvalidOptionError(
        '--key-env',
        `${JSON.stringify(name)} is not an environment variable name`,
        'names matching [A-Za-z_][A-Za-z0-9_]*, such as AZURE_OPENAI_API_KEY,APIM_SUBSCRIPTION_KEY',
      );
  }
  return [...new Set(names)];
}

function defaultRunId(now: Date): string {
  return `${RUN_ID_PREFIX}${now.toISOString().slice(0, 19).replace(/[-:T]/g, '').toLowerCase()}`;
}

/** `--run-id ID` (default `streamlab-<time>`), which names `what`. */
function runIdFlag(raw: string | undefined, now: Date, what: string): string {
  const runId = raw ?? defaultRunId(now);
  if (!RUN_ID.test(runId))
    throw new InvalidOptionError(
      '--run-id',
      `"${runId}" cannot name ${what}`,
      'lower-case letters, digits and dashes, up to 42',
    );
  return runId;
}

/**
 * `--shards N` and `--image IMAGE`, both required (except with --help), as `render k8s` and
 * `run aca` take them: `what` says what a shard runs as (pods, executions).
 */
function shardsAndImage(
  str: (name: string) => string | undefined,
  help: boolean,
  what: string,
): { shards: number; image: string } {
  if (help) return { shards: 1, image: '' };
  return {
    shards: positiveNumber('--shards', required('--shards', str('shards'), `how many shards (${what})`), {
      max: 1000,
    })!,
    image: imageFlag(
      required(
        '--image',
        str('image'),
        'the container image built from the Dockerfile, e.g. myregistry.azurecr.io/streamlab:1',
      ),
    ),
  };
}

/** `npm run scale -- run aca …`: a sharded bench as Azure Container Apps job executions, end to end. */
export interface RunAcaOptions {
  shards: number;
  image: string;
  /** One Container Apps environment per region; shard i runs in region i mod R. */
  regions: string[];
  subscriptionId: string;
  runId: string;
  /** How long after the executions are started every shard begins (they must be scheduled and pull the image). */
  startDelayMs: number;
  /** Environment variables whose values become Container Apps secrets, read by every shard by the same name. */
  keyEnv: string[];
  cpu: number;
  memory: string;
  /** Seconds an execution may run before ACA stops it. */
  replicaTimeoutS: number;
  stateFile: string;
  /** Where shard folders are downloaded and merged: OUT/<run-id>/. */
  out: string;
  /** Keep the environments, jobs and storage after the run (teardown later with `scale cleanup aca`). */
  keep: boolean;
  /** A private registry's pull credentials (`--registry-username`, the password in `--registry-password-env`). */
  registry: { server: string; username: string; passwordEnv: string } | undefined;
  benchArgs: string[];
  help: boolean;
}

/** Every default of `npm run scale -- run aca` (its --help prints them from here). */
export const RUN_ACA_DEFAULTS = {
  regions: [AZURE_DEFAULTS.location],
  keyEnv: RENDER_K8S_DEFAULTS.keyEnv,
  startDelayMs: 90_000,
  cpu: 1,
  memory: '2Gi',
  replicaTimeoutS: 3600,
  stateFile: TARGET_DEFAULTS.stateFile,
  out: BENCH_DEFAULTS.reportsDir,
  registryPasswordEnv: 'ACA_REGISTRY_PASSWORD',
};

/**
 * The pull credentials a job needs for `image`: Azure Container Registry allows no anonymous
 * pull by default, so an `*.azurecr.io` image needs `--registry-username` and the password (an
 * ACR token's or the admin user's) in an environment variable; any other registry is taken as
 * public unless a user is given.
 */
function registryOf(
  image: string,
  username: string | undefined,
  passwordEnv: string,
  env: NodeJS.ProcessEnv,
): RunAcaOptions['registry'] {
  const first = image.split('/')[0] ?? '';
  const server = image.includes('/') && /[.:]/.test(first) ? first.toLowerCase() : 'docker.io';
  if (username === undefined) {
    if (server.endsWith('.azurecr.io'))
      throw new InvalidOptionError(
        '--registry-username',
        `the image's registry ${server} is private (Azure Container Registry refuses anonymous pulls by default), so the jobs need its credentials`,
        `--registry-username USER with the password (an ACR token's, or the admin user's) in ${passwordEnv}; or a public image`,
      );
    return undefined;
  }
  if (!env[passwordEnv])
    throw new InvalidOptionError(
      '--registry-password-env',
      `${passwordEnv} is not set in this environment, so the registry password cannot become the jobs' secret`,
      `export ${passwordEnv} (never on the command line), or name another variable with --registry-password-env`,
    );
  return { server, username, passwordEnv };
}
const REGION = /^[a-z][a-z0-9]{2,30}$/;
const ACA_CPU = [0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 3, 4];

export function resolveRunAcaOptions(argv: readonly string[], env: NodeJS.ProcessEnv, now = new Date()): RunAcaOptions {
  const { own, benchArgs } = splitBenchArgs(argv);
  const { values } = parseCommandLine(
    own,
    {
      shards: { type: 'string' },
      image: { type: 'string' },
      regions: { type: 'string' },
      location: { type: 'string' },
      subscription: { type: 'string' },
      'run-id': { type: 'string' },
      'start-delay': { type: 'string' },
      'key-env': { type: 'string' },
      cpu: { type: 'string' },
      memory: { type: 'string' },
      'replica-timeout': { type: 'string' },
      state: { type: 'string' },
      out: { type: 'string' },
      keep: { type: 'boolean' },
      'registry-username': { type: 'string' },
      'registry-password-env': { type: 'string' },
      help: { type: 'boolean' },
    },
    'npm run scale -- --help',
  );
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const help = values['help'] === true;
  const runId = runIdFlag(str('run-id'), now, 'the results folder and tags');
  const regions = (str('regions') ?? str('location') ?? RUN_ACA_DEFAULTS.regions.join(','))
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  for (const region of regions)
    if (!REGION.test(region))
      throw new InvalidOptionError(
        '--regions',
        `"${region}" is not a region name`,
        'region names such as swedencentral,eastus2',
      );
  if (new Set(regions).size !== regions.length)
    throw new InvalidOptionError('--regions', 'a region is named twice', 'distinct region names');
  const subscriptionId = help ? '' : subscriptionFlag(str('subscription'), env);
  const keyEnv = secretKeyEnv(keyEnvNames(str('key-env')), benchArgs, RUN_ACA_DEFAULTS.keyEnv);
  if (!help)
    for (const name of keyEnv)
      if (!env[name])
        throw new InvalidOptionError(
          '--key-env',
          `${name} is not set in this environment, so its value cannot become the jobs' secret`,
          `export ${name} first, or name other variables with --key-env`,
        );
  const cpu = positiveNumber('--cpu', str('cpu'), { integer: false, min: 0.25, max: 4 }) ?? RUN_ACA_DEFAULTS.cpu;
  if (!ACA_CPU.includes(cpu))
    throw new InvalidOptionError('--cpu', `${cpu} is not a Consumption size`, ACA_CPU.join(', '));
  const memory = str('memory') ?? RUN_ACA_DEFAULTS.memory;
  if (!/^\d+(\.\d+)?Gi$/.test(memory))
    throw new InvalidOptionError(
      '--memory',
      `"${memory}" is not a size`,
      'a size in Gi such as 2Gi (ACA pairs 0.5Gi with each 0.25 CPU)',
    );
  const { shards, image } = shardsAndImage(str, help, 'executions');
  const options: RunAcaOptions = {
    shards,
    image,
    regions,
    subscriptionId,
    runId,
    startDelayMs: durationMs('--start-delay', str('start-delay')) ?? RUN_ACA_DEFAULTS.startDelayMs,
    keyEnv,
    cpu,
    memory,
    replicaTimeoutS:
      positiveNumber('--replica-timeout', str('replica-timeout'), { min: 60, max: 86_400 }) ??
      RUN_ACA_DEFAULTS.replicaTimeoutS,
    stateFile: str('state') ?? RUN_ACA_DEFAULTS.stateFile,
    out: outputDirFlag('--out', str('out') ?? RUN_ACA_DEFAULTS.out),
    keep: values['keep'] === true,
    registry: help
      ? undefined
      : registryOf(
          str('image') ?? '',
          str('registry-username'),
          str('registry-password-env') ?? RUN_ACA_DEFAULTS.registryPasswordEnv,
          env,
        ),
    benchArgs,
    help,
  };
  if (!help)
    checkShardBenchArgs(benchArgs, shards, keyEnv, env, options.registry ? [options.registry.passwordEnv] : []);
  return options;
}

/** Every default of `npm run scale -- cleanup aca`. */
export const CLEANUP_ACA_DEFAULTS = { stateFile: TARGET_DEFAULTS.stateFile };

/** `npm run scale -- cleanup aca`: tears down what the state's scale run created. */
export interface CleanupAcaOptions {
  stateFile: string;
  help: boolean;
}

export function resolveCleanupAcaOptions(argv: readonly string[]): CleanupAcaOptions {
  const { values } = parseCommandLine(
    argv,
    { state: { type: 'string' }, help: { type: 'boolean' } },
    'npm run scale -- --help',
  );
  return {
    stateFile: (values['state'] as string | undefined) ?? CLEANUP_ACA_DEFAULTS.stateFile,
    help: values['help'] === true,
  };
}

export function resolveRenderK8sOptions(
  argv: readonly string[],
  now = new Date(),
  env: NodeJS.ProcessEnv = process.env,
): RenderK8sOptions {
  const { own, benchArgs } = splitBenchArgs(argv);
  const { values, positionals } = parseCommandLine(
    own,
    {
      shards: { type: 'string' },
      image: { type: 'string' },
      namespace: { type: 'string' },
      'run-id': { type: 'string' },
      'start-at': { type: 'string' },
      secret: { type: 'string' },
      'key-env': { type: 'string' },
      'storage-class': { type: 'string' },
      storage: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean' },
    },
    'npm run scale -- --help',
  );
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const help = values['help'] === true;
  if (!help) {
    if (positionals[0] !== 'render')
      throw new InvalidOptionError('COMMAND', `"${positionals[0] ?? ''}" is not a scale command`, 'render');
    oneOf('ENGINE', positionals[1] ?? '', ['k8s']);
  }
  const runId = runIdFlag(str('run-id'), now, 'Kubernetes objects');
  const startAt =
    str('start-at') !== undefined
      ? startAtFlag(str('start-at')!, now)
      : new Date(now.getTime() + RENDER_K8S_DEFAULTS.startDelayMs);
  const keyEnv = secretKeyEnv(keyEnvNames(str('key-env')), benchArgs, RENDER_K8S_DEFAULTS.keyEnv);
  const named = (flag: string, value: string, rule: RegExp, allowed: string): string => {
    if (!rule.test(value))
      throw new InvalidOptionError(flag, `${JSON.stringify(value)} cannot name a Kubernetes object`, allowed);
    return value;
  };
  const { shards, image } = shardsAndImage(str, help, 'pods');
  const options: RenderK8sOptions = {
    shards,
    image,
    namespace: named(
      '--namespace',
      str('namespace') ?? RENDER_K8S_DEFAULTS.namespace,
      DNS_LABEL,
      'lower-case letters, digits and dashes, up to 63 (RFC 1123 label)',
    ),
    runId,
    startAt,
    secret: named(
      '--secret',
      str('secret') ?? RENDER_K8S_DEFAULTS.secret,
      DNS_SUBDOMAIN,
      'lower-case letters, digits, dashes and dots (RFC 1123 subdomain)',
    ),
    keyEnv,
    storageClass: named(
      '--storage-class',
      str('storage-class') ?? RENDER_K8S_DEFAULTS.storageClass,
      DNS_SUBDOMAIN,
      'a StorageClass name (RFC 1123 subdomain)',
    ),
    storage: named('--storage', str('storage') ?? RENDER_K8S_DEFAULTS.storage, QUANTITY, 'a quantity such as 5Gi'),
    out: str('out') !== undefined ? outputFileFlag('--out', str('out')!) : undefined,
    benchArgs,
    help,
  };
  if (!help) checkShardBenchArgs(benchArgs, shards, keyEnv, env);
  return options;
}
