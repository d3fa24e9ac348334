import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { Retry429Policy } from '../client/retry.ts';
import type { ClientMode } from '../client/requester.ts';
import { InvalidOptionError } from '../errors.ts';
import type { Arrival, LoadModel } from '../load/types.ts';
import { API_KINDS, type ApiKind } from '../protocol/index.ts';
import { API_STYLES, type ApiStyle, type ChatMessage } from '../target/types.ts';

/** Everything `npm run bench` needs, validated. */
export interface BenchOptions extends TargetFlags {
  endpoint: string | undefined;
  apis: ApiKind[];
  streams: boolean[];
  /** `max` = the model's context window minus the prompt. */
  maxTokens: Array<number | 'max'>;
  paths: string[];
  requests: number | undefined;
  durationMs: number | undefined;
  load: LoadModel;
  warmup: number;
  prompts: ChatMessage[][];
  seed: number;
  timeoutMs: number;
  idleTimeoutMs: number;
  client: ClientMode;
  retry429: Retry429Policy;
  retryMaxWaitMs: number;
  bailoutErrorRatio: number;
  out: string | undefined;
  json: boolean;
  stamp: boolean;
  help: boolean;
}

export const BENCH_DEFAULTS = {
  apiStyle: 'azure' as ApiStyle,
  deployment: 'gpt-4o-mini',
  completionsDeployment: 'gpt-35-turbo-instruct',
  apiVersion: '2024-10-21',
  apiKeyEnv: 'AZURE_OPENAI_API_KEY',
  apis: ['chat'] as ApiKind[],
  stream: 'both',
  maxTokens: '256',
  requests: 20,
  warmup: 1,
  seed: 1,
  timeoutMs: 120_000,
  idleTimeoutMs: 30_000,
  retryMaxWaitMs: 60_000,
  bailoutErrorRatio: 0.5,
  stateFile: '.lab/state.json',
  prompt: 'Explain, in a few paragraphs, how server-sent events travel through an API gateway and what can hold them back.',
};

/** Where requests go and how they authenticate: the flags bench and lab:verify share. */
export interface TargetFlags {
  apiStyle: ApiStyle;
  deployment: string;
  completionsDeployment: string;
  apiVersion: string;
  apiKeyEnv: string;
  subscriptionKeyEnv: string | undefined;
  entra: boolean;
  stateFile: string;
  searchEndpoint: string;
  searchIndex: string;
  /** The URL style, deployment and api-version given explicitly: they override a lab state's paths. */
  overrides: { apiStyle?: ApiStyle; deployment?: string; apiVersion?: string };
}

export const TARGET_FLAG_OPTIONS = {
  'api-style': { type: 'string' },
  deployment: { type: 'string' },
  'completions-deployment': { type: 'string' },
  'api-version': { type: 'string' },
  'api-key-env': { type: 'string' },
  'subscription-key-env': { type: 'string' },
  entra: { type: 'boolean' },
  state: { type: 'string' },
  'search-endpoint': { type: 'string' },
  'search-index': { type: 'string' },
} as const;

/** Resolves the shared target flags, with their defaults (search from the environment). */
export function resolveTargetFlags(values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv): TargetFlags {
  const str = (name: string): string | undefined => values[name] as string | undefined;
  return {
    apiStyle: oneOf('--api-style', str('api-style') ?? BENCH_DEFAULTS.apiStyle, API_STYLES),
    deployment: str('deployment') ?? BENCH_DEFAULTS.deployment,
    completionsDeployment: str('completions-deployment') ?? BENCH_DEFAULTS.completionsDeployment,
    apiVersion: str('api-version') ?? BENCH_DEFAULTS.apiVersion,
    apiKeyEnv: str('api-key-env') ?? BENCH_DEFAULTS.apiKeyEnv,
    subscriptionKeyEnv: str('subscription-key-env'),
    entra: values['entra'] === true,
    stateFile: str('state') ?? BENCH_DEFAULTS.stateFile,
    searchEndpoint: str('search-endpoint') ?? env['AZURE_SEARCH_ENDPOINT'] ?? 'https://example.search.windows.net',
    searchIndex: str('search-index') ?? env['AZURE_SEARCH_INDEX'] ?? 'docs',
    overrides: {
      ...(str('api-style') !== undefined ? { apiStyle: oneOf('--api-style', str('api-style')!, API_STYLES) } : {}),
      ...(str('deployment') !== undefined ? { deployment: str('deployment')! } : {}),
      ...(str('api-version') !== undefined ? { apiVersion: str('api-version')! } : {}),
    },
  };
}

const OPTIONS = {
  ...TARGET_FLAG_OPTIONS,
  endpoint: { type: 'string' },
  api: { type: 'string' },
  stream: { type: 'string' },
  'max-tokens': { type: 'string' },
  path: { type: 'string' },
  requests: { type: 'string' },
  duration: { type: 'string' },
  concurrency: { type: 'string' },
  rate: { type: 'string' },
  arrival: { type: 'string' },
  'max-in-flight': { type: 'string' },
  warmup: { type: 'string' },
  prompt: { type: 'string' },
  prompts: { type: 'string' },
  seed: { type: 'string' },
  timeout: { type: 'string' },
  'idle-timeout': { type: 'string' },
  client: { type: 'string' },
  'retry-429': { type: 'string' },
  'retry-max-wait': { type: 'string' },
  'bail-out': { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  stamp: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Strict node:util parseArgs; an unknown or malformed flag becomes an InvalidOptionError naming it. */
export function parseFlags(argv: readonly string[], options: ParseArgsOptionsConfig, help: string): Record<string, string | boolean | undefined> {
  return parseCommandLine(argv, options, help, false).values;
}

/** As {@link parseFlags}, for commands that also take positional arguments (directories). */
export function parseCommandLine(
  argv: readonly string[],
  options: ParseArgsOptionsConfig,
  help: string,
  allowPositionals = true,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (error) {
    const flag = /'([^']+)'/.exec((error as Error).message)?.[1] ?? 'arguments';
    throw new InvalidOptionError(flag, (error as Error).message.replace(/\.$/, ''), `see ${help}`);
  }
}

/** Parses `30s`, `2m`, `1500ms` or a bare number of seconds into ms. */
export function parseDurationMs(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!match) throw new InvalidOptionError(flag, `"${raw}" is not a duration`, 'a number with ms, s or m (e.g. 30s, 1500ms, 2m)');
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = unit === 'ms' ? value : unit === 'm' ? value * 60_000 : value * 1000;
  if (ms <= 0) throw new InvalidOptionError(flag, `"${raw}" is not positive`, 'a positive duration');
  return ms;
}

export function positiveNumber(flag: string, raw: string | undefined, { integer = true, min = 1, max = 1e9 } = {}): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (integer && !Number.isInteger(value)) || value < min || value > max) {
    throw new InvalidOptionError(flag, `"${raw}" is out of range`, `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
  }
  return value;
}

export function oneOf<T extends string>(flag: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw)) throw new InvalidOptionError(flag, `"${raw}" is not allowed`, allowed.join(', '));
  return raw as T;
}

export function listOf<T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new InvalidOptionError(flag, 'the list is empty', allowed.join(', '));
  return [...new Set(items.map((item) => oneOf(flag, item, allowed)))];
}

/** Reads `--prompts file.jsonl`: one chat per line, as a message array or `{ "messages": [...] }`. */
export function readPromptsFile(path: string): ChatMessage[][] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidOptionError('--prompts', `cannot read "${path}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'a readable JSONL file');
  }
  const prompts = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line, i) => {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw new InvalidOptionError('--prompts', `line ${i + 1} of "${path}" is not JSON`, 'one JSON message list per line');
      }
      const messages = Array.isArray(value) ? value : (value as { messages?: unknown })?.messages;
      if (!Array.isArray(messages) || messages.length === 0 || !messages.every((m) => typeof m?.role === 'string' && typeof m?.content === 'string')) {
        throw new InvalidOptionError('--prompts', `line ${i + 1} of "${path}" is not a list of {role, content} messages`, 'one JSON message list per line');
      }
      return messages as ChatMessage[];
    });
  if (prompts.length === 0) throw new InvalidOptionError('--prompts', `"${path}" holds no prompts`, 'one JSON message list per line');
  return prompts;
}

/** Parses and validates bench flags. Throws InvalidOptionError (the CLI exits 2). */
export function resolveBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const values = parseFlags(argv, OPTIONS, 'npm run bench -- --help');
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const rate = positiveNumber('--rate', str('rate'), { integer: false, min: 0.001, max: 100_000 });
  const concurrency = positiveNumber('--concurrency', str('concurrency'), { max: 100_000 });
  if (rate !== undefined && concurrency !== undefined) {
    throw new InvalidOptionError('--rate', 'cannot be combined with --concurrency', 'either --concurrency N (closed loop) or --rate R (open loop)');
  }
  const arrival = oneOf<Arrival>('--arrival', str('arrival') ?? 'constant', ['constant', 'poisson']);
  const maxInFlight = positiveNumber('--max-in-flight', str('max-in-flight'), { max: 100_000 });
  const load: LoadModel =
    rate !== undefined
      ? { kind: 'open', ratePerSec: rate, arrival, ...(maxInFlight !== undefined ? { maxInFlight } : {}) }
      : concurrency !== undefined && concurrency > 1
        ? { kind: 'closed', concurrency }
        : { kind: 'sequential' };
  const durationRaw = str('duration');
  const durationMs = durationRaw !== undefined ? parseDurationMs('--duration', durationRaw) : undefined;
  const requestsFlag = positiveNumber('--requests', str('requests'), { max: 10_000_000 });
  const streamFlag = oneOf('--stream', str('stream') ?? BENCH_DEFAULTS.stream, ['on', 'off', 'both']);
  const maxTokens = (str('max-tokens') ?? BENCH_DEFAULTS.maxTokens).split(',').map((raw) => {
    if (raw.trim() === 'max') return 'max' as const;
    return positiveNumber('--max-tokens', raw.trim(), { max: 10_000_000 })!;
  });
  const bailout = positiveNumber('--bail-out', str('bail-out'), { integer: false, min: 0, max: 1 });
  const promptsFile = str('prompts');
  const prompt = str('prompt');
  if (promptsFile !== undefined && prompt !== undefined) throw new InvalidOptionError('--prompt', 'cannot be combined with --prompts', 'one of --prompt TEXT or --prompts FILE');
  return {
    ...resolveTargetFlags(values, env),
    endpoint: str('endpoint'),
    apis: listOf('--api', str('api') ?? BENCH_DEFAULTS.apis.join(','), API_KINDS),
    streams: streamFlag === 'both' ? [true, false] : [streamFlag === 'on'],
    maxTokens,
    paths: (str('path') ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    requests: durationMs !== undefined && requestsFlag === undefined ? undefined : (requestsFlag ?? BENCH_DEFAULTS.requests),
    durationMs,
    load,
    warmup: positiveNumber('--warmup', str('warmup'), { min: 0, max: 100_000 }) ?? BENCH_DEFAULTS.warmup,
    prompts: promptsFile !== undefined ? readPromptsFile(promptsFile) : [[{ role: 'user', content: prompt ?? BENCH_DEFAULTS.prompt }]],
    seed: positiveNumber('--seed', str('seed'), { min: 0, max: 2 ** 32 - 1 }) ?? BENCH_DEFAULTS.seed,
    timeoutMs: str('timeout') !== undefined ? parseDurationMs('--timeout', str('timeout')!) : BENCH_DEFAULTS.timeoutMs,
    idleTimeoutMs: str('idle-timeout') !== undefined ? parseDurationMs('--idle-timeout', str('idle-timeout')!) : BENCH_DEFAULTS.idleTimeoutMs,
    client: oneOf<ClientMode>('--client', str('client') ?? 'http', ['http', 'sdk']),
    retry429: oneOf<Retry429Policy>('--retry-429', str('retry-429') ?? 'none', ['none', 'honor']),
    retryMaxWaitMs: str('retry-max-wait') !== undefined ? parseDurationMs('--retry-max-wait', str('retry-max-wait')!) : BENCH_DEFAULTS.retryMaxWaitMs,
    bailoutErrorRatio: bailout ?? BENCH_DEFAULTS.bailoutErrorRatio,
    out: str('out'),
    json: values['json'] === true,
    stamp: values['stamp'] === true,
    help: values['help'] === true,
  };
}
