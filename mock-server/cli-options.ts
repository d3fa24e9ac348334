import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { TIMING_MODES, type TimingMode } from '../src/protocol/index.ts';
import { InvalidOptionError } from '../src/errors.ts';
import { DEFAULT_MAX_BODY_BYTES } from './context.ts';
import type { TimingProfile } from './deployments.ts';

export interface MockCliOptions {
  host: string;
  port: number;
  seed: number;
  region: string;
  maxBodyBytes: number;
  deploymentsFile: string | undefined;
  timing: Partial<TimingProfile>;
  help: boolean;
}

export const MOCK_USAGE = `Usage: npm run mock -- [options]

Starts the Azure OpenAI mock and prints one JSON line with its URL. Stops on SIGINT/SIGTERM.

  --host HOST            address to listen on (default 127.0.0.1)
  --port N               port, 0 for a free one (default 0)
  --seed N               run seed, 0..4294967295 (default 1): same seed, same output
  --ttft-ms MS           time to first token for every deployment (default: per model)
  --itl-ms MS            mean inter-token latency (default: per model)
  --jitter-ms MS         inter-token latency standard deviation (default: per model)
  --mode smooth|burst    token release: one by one, or in blocks like Azure's default filter
  --burst-tokens N       tokens per block in burst mode (default 16)
  --output-tokens N      natural answer length in tokens (default: per model)
  --deployments FILE     JSON array of extra or replacement deployment profiles
  --region NAME          value of x-ms-region (default "Sweden Central")
  --max-body-bytes N     largest request body accepted, else 413 (default ${DEFAULT_MAX_BODY_BYTES})
  --help                 this text

Environment: MOCK_API_KEY, when set, is the only key accepted (api-key or Bearer).`;

const OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  seed: { type: 'string' },
  region: { type: 'string' },
  'max-body-bytes': { type: 'string' },
  deployments: { type: 'string' },
  'ttft-ms': { type: 'string' },
  'itl-ms': { type: 'string' },
  'jitter-ms': { type: 'string' },
  mode: { type: 'string' },
  'burst-tokens': { type: 'string' },
  'output-tokens': { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Range-checked integer flag; throws InvalidOptionError naming the flag and the range. */
export function integer(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`--${flag}`, `"${raw}" is not an integer in range`, `${min} to ${max}`);
  }
  return value;
}

function number(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
    throw new InvalidOptionError(`--${flag}`, `"${raw}" is not a number in range`, `${min} to ${max}`);
  }
  return value;
}

/** Strict parseArgs whose errors name the flag and list the allowed ones. */
export function parseStrictArgs(argv: readonly string[], options: ParseArgsOptionsConfig): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    const flag = /'([^']+)'/.exec((error as Error).message)?.[1] ?? 'arguments';
    throw new InvalidOptionError(flag, (error as Error).message.replace(/\.$/, ''), Object.keys(options).map((o) => `--${o}`).join(', '));
  }
}

/** Parses the mock's argv; throws InvalidOptionError naming the flag and what is allowed. */
export function parseMockArgs(argv: readonly string[]): MockCliOptions {
  const values = parseStrictArgs(argv, OPTIONS);
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const mode = str('mode');
  if (mode !== undefined && !(TIMING_MODES as readonly string[]).includes(mode)) {
    throw new InvalidOptionError('--mode', `"${mode}" is not a timing mode`, TIMING_MODES.join(', '));
  }
  const timing: Partial<TimingProfile> = {};
  const ttftMs = number('ttft-ms', str('ttft-ms'), 0, 600_000);
  const itlMs = number('itl-ms', str('itl-ms'), 0, 60_000);
  const jitterMs = number('jitter-ms', str('jitter-ms'), 0, 60_000);
  const burstTokens = integer('burst-tokens', str('burst-tokens'), 1, 100_000);
  const outputTokens = integer('output-tokens', str('output-tokens'), 1, 1_000_000);
  if (ttftMs !== undefined) timing.ttftMs = ttftMs;
  if (itlMs !== undefined) timing.itlMs = itlMs;
  if (jitterMs !== undefined) timing.jitterMs = jitterMs;
  if (mode !== undefined) timing.mode = mode as TimingMode;
  if (burstTokens !== undefined) timing.burstTokens = burstTokens;
  if (outputTokens !== undefined) timing.outputTokens = outputTokens;
  return {
    host: str('host') ?? '127.0.0.1',
    port: integer('port', str('port'), 0, 65_535) ?? 0,
    seed: integer('seed', str('seed'), 0, 2 ** 32 - 1) ?? 1,
    region: str('region') ?? 'Sweden Central',
    maxBodyBytes: integer('max-body-bytes', str('max-body-bytes'), 1, 1024 ** 3) ?? DEFAULT_MAX_BODY_BYTES,
    deploymentsFile: str('deployments'),
    timing,
    help: values['help'] === true,
  };
}
