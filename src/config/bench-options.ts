import { readFileSync } from 'node:fs';
import type { RequestTimeouts } from '../client/http-request.ts';
import type { Retry429Policy } from '../client/retry.ts';
import type { ClientMode } from '../client/requester.ts';
import type { ChatMessage } from '../endpoint/types.ts';
import { InvalidOptionError } from '../errors.ts';
import { durationMs, httpUrl, listOf, oneOf, parseFlags, positiveNumber, type FlagValues } from '../flags.ts';
import { outputDirFlag } from '../files.ts';
import type { ShardShare } from '../load/shard.ts';
import type { Arrival, LoadModel } from '../load/types.ts';
import { API_KINDS, type ApiKind } from '../protocol/index.ts';
import { resolveTargetFlags, TARGET_DEFAULTS, TARGET_FLAG_OPTIONS, type TargetFlags } from './target-flags.ts';

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
  /**
   * Run the paths of a scenario interleaved in time with a counterbalanced order (default).
   * `--no-interleave` runs each path alone, one after the other: for when the paths must not
   * share the upstream's capacity (each path's own behaviour at the given load), at the cost
   * of a path comparison that drift can bias.
   */
  interleave: boolean;
  prompts: ChatMessage[][];
  /** The `--prompts` file `prompts` was read from (a worker reads the same file). */
  promptsFile: string | undefined;
  seed: number;
  /** Per phase; a phase not given on the command line never outlasts the total. */
  timeouts: RequestTimeouts;
  client: ClientMode;
  retry429: Retry429Policy;
  retryMaxWaitMs: number;
  /** Attempts in all for one request under `retry429: 'honor'`. */
  retryMaxAttempts: number;
  bailoutErrorRatio: number;
  out: string | undefined;
  json: boolean;
  stamp: boolean;
  /** This process runs one shard of a run (`--shard i/N`, or `--shards N` with the index from JOB_COMPLETION_INDEX / SHARD_INDEX). */
  shard: ShardShare | undefined;
  /** Names the run all shards write into (`OUT/<run-id>/shard-<i>/`). */
  runId: string | undefined;
  /** When every shard starts (absolute wall-clock time). */
  startAt: Date | undefined;
  /** Run this many shards as local worker processes and merge them (`--workers N`). */
  workers: number;
  help: boolean;
}

/** `--stream`: streamed requests, unstreamed ones, or both (a scenario each). */
export const STREAM_CHOICES = ['on', 'off', 'both'] as const;
export type StreamChoice = (typeof STREAM_CHOICES)[number];

/**
 * Every default of `npm run bench`: the resolver reads its defaults from here only, and the
 * help text (src/cli/bench-command.ts) prints them from here (test/unit/help-defaults.test.ts
 * holds the two together). The target flags' defaults are TARGET_DEFAULTS (target-flags.ts).
 */
export const BENCH_DEFAULTS = {
  apis: ['chat'] as ApiKind[],
  stream: 'both' as StreamChoice,
  maxTokens: [256] as Array<number | 'max'>,
  requests: 20,
  /** One request in flight: a sequential run (more is a closed loop). */
  concurrency: 1,
  arrival: 'constant' as Arrival,
  warmup: 1,
  seed: 1,
  timeouts: {
    connectMs: 10_000,
    headersMs: 60_000,
    firstTokenMs: 60_000,
    idleMs: 30_000,
    totalMs: 120_000,
  } satisfies RequestTimeouts,
  client: 'http' as ClientMode,
  retry429: 'none' as Retry429Policy,
  retryMaxWaitMs: 60_000,
  /** Attempts in all for one request under `--retry-429 honor` (no flag sets it). */
  retryMaxAttempts: 5,
  bailoutErrorRatio: 0.5,
  prompt:
    'Explain, in a few paragraphs, how server-sent events travel through an API gateway and what can hold them back.',
  workers: 1,
  /** Where runs go without --out: reports/<timestamp>/, and a sharded run's reports/<run-id>/. */
  reportsDir: 'reports',
};

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
  'no-interleave': { type: 'boolean' },
  prompt: { type: 'string' },
  prompts: { type: 'string' },
  seed: { type: 'string' },
  timeout: { type: 'string' },
  'connect-timeout': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'first-token-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  client: { type: 'string' },
  'retry-429': { type: 'string' },
  'retry-max-wait': { type: 'string' },
  'bail-out': { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  stamp: { type: 'boolean' },
  shard: { type: 'string' },
  shards: { type: 'string' },
  'run-id': { type: 'string' },
  'start-at': { type: 'string' },
  workers: { type: 'string' },
  help: { type: 'boolean' },
} as const;

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * `--shard i/N`, or `--shards N` with the index from the environment (Kubernetes Indexed Jobs
 * set JOB_COMPLETION_INDEX; SHARD_INDEX for anything else), `--run-id`, `--start-at` and
 * `--workers`, checked together: a shard needs a run id, a closed loop needs a worker per shard.
 */
function resolveSharding(
  values: FlagValues,
  env: NodeJS.ProcessEnv,
  load: LoadModel,
): Pick<BenchOptions, 'shard' | 'runId' | 'startAt' | 'workers'> {
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const workers = positiveNumber('--workers', str('workers'), { max: 64 }) ?? BENCH_DEFAULTS.workers;
  let shard: ShardShare | undefined;
  if (str('shard') !== undefined) {
    const match = /^(\d+)\/(\d+)$/.exec(str('shard')!);
    if (!match)
      throw new InvalidOptionError('--shard', `"${str('shard')}" is not INDEX/COUNT`, 'e.g. 0/4 (indices from 0)');
    shard = { index: Number(match[1]), count: Number(match[2]) };
  } else if (str('shards') !== undefined) {
    const count = positiveNumber('--shards', str('shards'), { max: 10_000 })!;
    const fromEnv = env['JOB_COMPLETION_INDEX'] ?? env['SHARD_INDEX'];
    if (fromEnv === undefined)
      throw new InvalidOptionError(
        '--shards',
        'no shard index: JOB_COMPLETION_INDEX and SHARD_INDEX are unset',
        '--shard INDEX/COUNT, or --shards COUNT with JOB_COMPLETION_INDEX or SHARD_INDEX in the environment',
      );
    shard = { index: positiveNumber('SHARD_INDEX', fromEnv, { min: 0, max: 10_000 })!, count };
  }
  if (shard !== undefined) {
    if (shard.count < 1 || shard.index >= shard.count)
      throw new InvalidOptionError(
        '--shard',
        `index ${shard.index} of ${shard.count} shards`,
        'an index from 0 to COUNT-1',
      );
    if (workers > 1)
      throw new InvalidOptionError(
        '--workers',
        'cannot be combined with --shard',
        'either --workers N (local shards, merged) or --shard i/N (one shard)',
      );
  }
  const sharded = shard !== undefined ? shard.count : workers;
  const concurrency = load.kind === 'closed' ? load.concurrency : load.kind === 'sequential' ? 1 : Infinity;
  if (sharded > 1 && concurrency < sharded)
    throw new InvalidOptionError(
      '--concurrency',
      `${concurrency} in flight cannot be split over ${sharded} shards`,
      `at least one per shard: --concurrency ${sharded} or more, or an open loop (--rate)`,
    );
  const runId = str('run-id');
  if (runId !== undefined && !RUN_ID.test(runId))
    throw new InvalidOptionError(
      '--run-id',
      `"${runId}" cannot name a folder`,
      'letters, digits, dot, dash and underscore, up to 64',
    );
  if (shard !== undefined && runId === undefined)
    throw new InvalidOptionError(
      '--run-id',
      'a shard needs the run id every shard shares',
      '--run-id ID (the shards write OUT/ID/shard-<i>/)',
    );
  let startAt: Date | undefined;
  if (str('start-at') !== undefined) {
    const raw = str('start-at')!;
    startAt = new Date(/^\d+$/.test(raw) ? Number(raw) : raw);
    if (Number.isNaN(startAt.getTime()))
      throw new InvalidOptionError(
        '--start-at',
        `"${raw}" is not a time`,
        'an ISO 8601 time (2026-11-30T12:00:00Z) or epoch milliseconds',
      );
  }
  return { shard, runId, startAt, workers };
}

/** Each phase's timeout flag and the field it sets. */
const TIMEOUT_PHASES = [
  ['connect-timeout', 'connectMs'],
  ['headers-timeout', 'headersMs'],
  ['first-token-timeout', 'firstTokenMs'],
  ['idle-timeout', 'idleMs'],
] as const;

/**
 * The timeout of each phase of a request. A phase given explicitly must end within the total
 * (`--timeout`), or it could never fire; a phase left at its default is capped at the total, so
 * `--timeout 5s` alone still means "5 s in all".
 */
function resolveTimeouts(values: Record<string, string | boolean | undefined>, client: ClientMode): RequestTimeouts {
  const given = (flag: string): number | undefined => durationMs(`--${flag}`, values[flag] as string | undefined);
  const totalMs = given('timeout') ?? BENCH_DEFAULTS.timeouts.totalMs;
  const timeouts: RequestTimeouts = { ...BENCH_DEFAULTS.timeouts, totalMs };
  for (const [flag, key] of TIMEOUT_PHASES) {
    const ms = given(flag);
    if (ms !== undefined && ms > totalMs)
      throw new InvalidOptionError(
        `--${flag}`,
        `${ms} ms is longer than the total --timeout of ${totalMs} ms, so it could never fire`,
        `a duration up to --timeout (raise --timeout too)`,
      );
    // The SDK hands back a response only once it is connected and has headers: it cannot tell those phases apart.
    if (ms !== undefined && client === 'sdk' && (key === 'connectMs' || key === 'headersMs')) {
      throw new InvalidOptionError(
        `--${flag}`,
        'the openai SDK does not expose the connect and header phases',
        '--timeout, --first-token-timeout and --idle-timeout with --client sdk (or --client http)',
      );
    }
    timeouts[key] = ms ?? Math.min(BENCH_DEFAULTS.timeouts[key], totalMs);
  }
  return timeouts;
}

/** Reads `--prompts file.jsonl`: one chat per line, as a message array or `{ "messages": [...] }`. */
export function readPromptsFile(path: string): ChatMessage[][] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(
      '--prompts',
      `cannot read "${path}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      'a readable JSONL file',
    );
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
        throw new InvalidOptionError(
          '--prompts',
          `line ${i + 1} of "${path}" is not JSON`,
          'one JSON message list per line',
        );
      }
      const messages = Array.isArray(value) ? value : (value as { messages?: unknown })?.messages;
      if (
        !Array.isArray(messages) ||
        messages.length === 0 ||
        !messages.every((m) => typeof m?.role === 'string' && typeof m?.content === 'string')
      ) {
        throw new InvalidOptionError(
          '--prompts',
          `line ${i + 1} of "${path}" is not a list of {role, content} messages`,
          'one JSON message list per line',
        );
      }
      return messages as ChatMessage[];
    });
  if (prompts.length === 0)
    throw new InvalidOptionError('--prompts', `"${path}" holds no prompts`, 'one JSON message list per line');
  return prompts;
}

/** Parses and validates bench flags. Throws InvalidOptionError (the CLI exits 2). */
export function resolveBenchOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const values = parseFlags(argv, OPTIONS, 'npm run bench -- --help');
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const rate = positiveNumber('--rate', str('rate'), { integer: false, min: 0.001, max: 100_000 });
  const concurrency = positiveNumber('--concurrency', str('concurrency'), { max: 100_000 });
  if (rate !== undefined && concurrency !== undefined) {
    throw new InvalidOptionError(
      '--rate',
      'cannot be combined with --concurrency',
      'either --concurrency N (closed loop) or --rate R (open loop)',
    );
  }
  const arrival = oneOf<Arrival>('--arrival', str('arrival') ?? BENCH_DEFAULTS.arrival, ['constant', 'poisson']);
  const maxInFlight = positiveNumber('--max-in-flight', str('max-in-flight'), { max: 100_000 });
  const load: LoadModel =
    rate !== undefined
      ? { kind: 'open', ratePerSec: rate, arrival, ...(maxInFlight !== undefined ? { maxInFlight } : {}) }
      : (concurrency ?? BENCH_DEFAULTS.concurrency) > 1
        ? { kind: 'closed', concurrency: concurrency ?? BENCH_DEFAULTS.concurrency }
        : { kind: 'sequential' };
  const duration = durationMs('--duration', str('duration'));
  const requestsFlag = positiveNumber('--requests', str('requests'), { max: 10_000_000 });
  const streamFlag = oneOf('--stream', str('stream') ?? BENCH_DEFAULTS.stream, STREAM_CHOICES);
  const maxTokens = (str('max-tokens') ?? BENCH_DEFAULTS.maxTokens.join(',')).split(',').map((raw) => {
    if (raw.trim() === 'max') return 'max' as const;
    return positiveNumber('--max-tokens', raw.trim(), { max: 10_000_000 })!;
  });
  const bailout = positiveNumber('--bail-out', str('bail-out'), { integer: false, min: 0, max: 1 });
  const promptsFile = str('prompts');
  const prompt = str('prompt');
  if (promptsFile !== undefined && prompt !== undefined)
    throw new InvalidOptionError(
      '--prompt',
      'cannot be combined with --prompts',
      'one of --prompt TEXT or --prompts FILE',
    );
  const client = oneOf<ClientMode>('--client', str('client') ?? BENCH_DEFAULTS.client, ['http', 'sdk']);
  return {
    ...resolveTargetFlags(values, env),
    endpoint: httpUrl('--endpoint', str('endpoint')),
    apis: listOf('--api', str('api') ?? BENCH_DEFAULTS.apis.join(','), API_KINDS),
    streams: streamFlag === 'both' ? [true, false] : [streamFlag === 'on'],
    maxTokens,
    paths: (str('path') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    requests:
      duration !== undefined && requestsFlag === undefined ? undefined : (requestsFlag ?? BENCH_DEFAULTS.requests),
    durationMs: duration,
    load,
    warmup: positiveNumber('--warmup', str('warmup'), { min: 0, max: 100_000 }) ?? BENCH_DEFAULTS.warmup,
    interleave: values['no-interleave'] !== true,
    prompts:
      promptsFile !== undefined
        ? readPromptsFile(promptsFile)
        : [[{ role: 'user', content: prompt ?? BENCH_DEFAULTS.prompt }]],
    promptsFile,
    seed: positiveNumber('--seed', str('seed'), { min: 0, max: 2 ** 32 - 1 }) ?? BENCH_DEFAULTS.seed,
    timeouts: resolveTimeouts(values, client),
    client,
    retry429: oneOf<Retry429Policy>('--retry-429', str('retry-429') ?? BENCH_DEFAULTS.retry429, ['none', 'honor']),
    retryMaxWaitMs: durationMs('--retry-max-wait', str('retry-max-wait')) ?? BENCH_DEFAULTS.retryMaxWaitMs,
    retryMaxAttempts: BENCH_DEFAULTS.retryMaxAttempts,
    bailoutErrorRatio: bailout ?? BENCH_DEFAULTS.bailoutErrorRatio,
    out: str('out') !== undefined ? outputDirFlag('--out', str('out')!) : undefined,
    json: values['json'] === true,
    stamp: values['stamp'] === true,
    ...resolveSharding(values, env, load),
    help: values['help'] === true,
  };
}

/** A duration as a flag value that {@link parseDurationMs} reads back to the same milliseconds. */
function durationArg(ms: number): string {
  return `${ms}ms`;
}

/**
 * The argv that {@link resolveBenchOptions} resolves back to `options` (with `overrides`
 * applied): its inverse, so a command that starts another bench process (`--workers`) hands
 * on the typed, validated options rather than re-parsing the raw flags. Only values that
 * differ from the defaults are written, each as `--flag=value` (a value may start with a dash
 * or hold spaces). Keys never appear: the options name the environment variables that hold
 * them, and the process started reads them there. Throws for options no flags can express (a
 * `retryMaxAttempts` other than the default, prompts that are neither one user message nor
 * read from `promptsFile`, neither a request count nor a duration).
 */
export function benchArgv(options: BenchOptions, overrides: Partial<BenchOptions> = {}): string[] {
  const o: BenchOptions = { ...options, ...overrides };
  const argv: string[] = [];
  const put = (flag: string, value: string | number | undefined, unless?: string | number): void => {
    if (value !== undefined && value !== unless) argv.push(`--${flag}=${value}`);
  };
  const flag = (name: string, on: boolean): void => {
    if (on) argv.push(`--${name}`);
  };
  const inexpressible = (what: string): never => {
    throw new Error(`benchArgv: ${what} has no bench flag`);
  };
  // Where requests go (the target flags).
  put('endpoint', o.endpoint);
  put('api-style', o.apiStyle);
  put('deployment', o.deployment);
  put('completions-deployment', o.completionsDeployment, TARGET_DEFAULTS.completionsDeployment);
  put('api-version', o.apiVersion);
  put('api-key-env', o.apiKeyEnv, TARGET_DEFAULTS.apiKeyEnv);
  put('subscription-key-env', o.subscriptionKeyEnv);
  flag('entra', o.entra);
  put('state', o.stateFile, TARGET_DEFAULTS.stateFile);
  put('search-endpoint', o.search.endpoint, TARGET_DEFAULTS.searchEndpoint);
  put('search-index', o.search.index, TARGET_DEFAULTS.searchIndex);
  if (o.paths.length > 0) put('path', o.paths.join(','));
  // The scenarios.
  put('api', o.apis.join(','), BENCH_DEFAULTS.apis.join(','));
  const stream: StreamChoice = o.streams.length > 1 ? 'both' : o.streams[0] === true ? 'on' : 'off';
  put('stream', stream, BENCH_DEFAULTS.stream);
  put('max-tokens', o.maxTokens.join(','), BENCH_DEFAULTS.maxTokens.join(','));
  if (o.promptsFile !== undefined) put('prompts', o.promptsFile);
  else {
    const [chat, ...more] = o.prompts;
    const [message, ...others] = chat ?? [];
    if (more.length > 0 || others.length > 0 || message?.role !== 'user')
      inexpressible('prompts other than one user message, without promptsFile,');
    put('prompt', message!.content, BENCH_DEFAULTS.prompt);
  }
  // The load.
  if (o.requests === undefined && o.durationMs === undefined) inexpressible('neither requests nor durationMs');
  put('requests', o.requests, o.durationMs === undefined ? BENCH_DEFAULTS.requests : undefined);
  if (o.durationMs !== undefined) put('duration', durationArg(o.durationMs));
  if (o.load.kind === 'closed') put('concurrency', o.load.concurrency, BENCH_DEFAULTS.concurrency);
  if (o.load.kind === 'open') {
    put('rate', o.load.ratePerSec);
    put('arrival', o.load.arrival, BENCH_DEFAULTS.arrival);
    put('max-in-flight', o.load.maxInFlight);
  }
  put('warmup', o.warmup, BENCH_DEFAULTS.warmup);
  flag('no-interleave', !o.interleave);
  put('seed', o.seed, BENCH_DEFAULTS.seed);
  // A phase left at its default is capped at the total: only phases that differ from that are written.
  const { totalMs } = o.timeouts;
  put('timeout', durationArg(totalMs), durationArg(BENCH_DEFAULTS.timeouts.totalMs));
  for (const [name, key] of TIMEOUT_PHASES)
    put(name, durationArg(o.timeouts[key]), durationArg(Math.min(BENCH_DEFAULTS.timeouts[key], totalMs)));
  put('client', o.client, BENCH_DEFAULTS.client);
  put('retry-429', o.retry429, BENCH_DEFAULTS.retry429);
  put('retry-max-wait', durationArg(o.retryMaxWaitMs), durationArg(BENCH_DEFAULTS.retryMaxWaitMs));
  if (o.retryMaxAttempts !== BENCH_DEFAULTS.retryMaxAttempts) inexpressible(`retryMaxAttempts ${o.retryMaxAttempts}`);
  put('bail-out', o.bailoutErrorRatio, BENCH_DEFAULTS.bailoutErrorRatio);
  flag('stamp', o.stamp);
  // Output and sharding.
  put('out', o.out);
  flag('json', o.json);
  if (o.shard !== undefined) put('shard', `${o.shard.index}/${o.shard.count}`);
  put('run-id', o.runId);
  put('start-at', o.startAt?.toISOString());
  put('workers', o.workers, BENCH_DEFAULTS.workers);
  flag('help', o.help);
  return argv;
}
