import { ControlHeaderError, FAULT_NAMES, parseFaults, TIMING_MODES, type FaultSet } from '../../src/protocol/index.ts';
import { InvalidOptionError } from '../../src/errors.ts';
import { oneOf, parseFlags, positiveNumber } from '../../src/flags.ts';
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
  /** Standing faults for requests without x-mock-fault. */
  faults: FaultSet;
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
  --fault SPEC           faults for every request without x-mock-fault, as that header takes them
                         (e.g. 429=3000 or disconnect-after=5); PUT /_mock/faults changes them
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
  fault: { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** Parses the mock's argv; throws InvalidOptionError naming the flag and what is allowed. */
export function parseMockArgs(argv: readonly string[]): MockCliOptions {
  const values = parseFlags(argv, OPTIONS, 'npm run mock -- --help');
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const mode = str('mode') !== undefined ? oneOf('--mode', str('mode')!, TIMING_MODES) : undefined;
  const timing: Partial<TimingProfile> = {};
  const ttftMs = positiveNumber('--ttft-ms', str('ttft-ms'), { integer: false, min: 0, max: 600_000 });
  const itlMs = positiveNumber('--itl-ms', str('itl-ms'), { integer: false, min: 0, max: 60_000 });
  const jitterMs = positiveNumber('--jitter-ms', str('jitter-ms'), { integer: false, min: 0, max: 60_000 });
  const burstTokens = positiveNumber('--burst-tokens', str('burst-tokens'), { max: 100_000 });
  const outputTokens = positiveNumber('--output-tokens', str('output-tokens'), { max: 1_000_000 });
  if (ttftMs !== undefined) timing.ttftMs = ttftMs;
  if (itlMs !== undefined) timing.itlMs = itlMs;
  if (jitterMs !== undefined) timing.jitterMs = jitterMs;
  if (mode !== undefined) timing.mode = mode;
  if (burstTokens !== undefined) timing.burstTokens = burstTokens;
  if (outputTokens !== undefined) timing.outputTokens = outputTokens;
  return {
    host: str('host') ?? '127.0.0.1',
    port: positiveNumber('--port', str('port'), { min: 0, max: 65_535 }) ?? 0,
    seed: positiveNumber('--seed', str('seed'), { min: 0, max: 2 ** 32 - 1 }) ?? 1,
    region: str('region') ?? 'Sweden Central',
    maxBodyBytes:
      positiveNumber('--max-body-bytes', str('max-body-bytes'), { max: 1024 ** 3 }) ?? DEFAULT_MAX_BODY_BYTES,
    deploymentsFile: str('deployments'),
    timing,
    faults: faultsFlag(str('fault')),
    help: values['help'] === true,
  };
}

function faultsFlag(raw: string | undefined): FaultSet {
  try {
    return parseFaults(raw ?? null);
  } catch (error) {
    if (error instanceof ControlHeaderError)
      throw new InvalidOptionError('--fault', error.reason, `name[=value],… with names ${FAULT_NAMES.join(', ')}`);
    throw error;
  }
}
