import { InvalidOptionError } from '../errors.ts';
import { oneOf, parseCommandLine, positiveNumber, required } from '../flags.ts';

/** `npm run dist -- render k8s …`: a sharded bench as a Kubernetes Indexed Job. */
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

export const RENDER_K8S_DEFAULTS = { namespace: 'default', secret: 'streamlab-keys', keyEnv: ['AZURE_OPENAI_API_KEY'], storageClass: 'azurefile-csi', storage: '5Gi', startDelayMs: 180_000 };

const RUN_ID = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Flags the render sets on every shard itself. */
const OWNED = ['--shard', '--shards', '--run-id', '--start-at', '--out', '--workers'];

export function resolveRenderK8sOptions(argv: readonly string[], now = new Date()): RenderK8sOptions {
  const split = argv.indexOf('--');
  const own = split >= 0 ? argv.slice(0, split) : argv;
  const benchArgs = split >= 0 ? argv.slice(split + 1) : [];
  const { values, positionals } = parseCommandLine(
    own,
    { shards: { type: 'string' }, image: { type: 'string' }, namespace: { type: 'string' }, 'run-id': { type: 'string' }, 'start-at': { type: 'string' }, secret: { type: 'string' }, 'key-env': { type: 'string' }, 'storage-class': { type: 'string' }, storage: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean' } },
    'npm run dist -- --help',
  );
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const help = values['help'] === true;
  if (!help) {
    if (positionals[0] !== 'render') throw new InvalidOptionError('COMMAND', `"${positionals[0] ?? ''}" is not a dist command`, 'render');
    oneOf('ENGINE', positionals[1] ?? '', ['k8s']);
  }
  const owned = benchArgs.find((arg) => OWNED.includes(arg.split('=')[0]!));
  if (owned) throw new InvalidOptionError(owned, 'the render sets it for every shard', `bench flags other than ${OWNED.join(', ')}`);
  const runId = str('run-id') ?? `streamlab-${now.toISOString().slice(0, 19).replace(/[-:T]/g, '').toLowerCase()}`;
  if (!RUN_ID.test(runId)) throw new InvalidOptionError('--run-id', `"${runId}" cannot name Kubernetes objects`, 'lower-case letters, digits and dashes, up to 42');
  const startAt = str('start-at') !== undefined ? new Date(str('start-at')!) : new Date(now.getTime() + RENDER_K8S_DEFAULTS.startDelayMs);
  if (Number.isNaN(startAt.getTime())) throw new InvalidOptionError('--start-at', `"${str('start-at')}" is not a time`, 'an ISO 8601 time');
  const keyEnv = (str('key-env') ?? RENDER_K8S_DEFAULTS.keyEnv.join(',')).split(',').filter((k) => k !== '');
  for (const name of keyEnv) if (!ENV_NAME.test(name)) throw new InvalidOptionError('--key-env', `"${name}" is not an environment variable name`, 'names such as AZURE_OPENAI_API_KEY,APIM_SUBSCRIPTION_KEY');
  return {
    shards: help ? 1 : positiveNumber('--shards', required('--shards', str('shards'), 'how many shards (pods)'), { max: 1000 })!,
    image: help ? '' : required('--image', str('image'), 'the container image built from the Dockerfile, e.g. myregistry.azurecr.io/streamlab:1'),
    namespace: str('namespace') ?? RENDER_K8S_DEFAULTS.namespace,
    runId,
    startAt,
    secret: str('secret') ?? RENDER_K8S_DEFAULTS.secret,
    keyEnv,
    storageClass: str('storage-class') ?? RENDER_K8S_DEFAULTS.storageClass,
    storage: str('storage') ?? RENDER_K8S_DEFAULTS.storage,
    out: str('out'),
    benchArgs,
    help,
  };
}
