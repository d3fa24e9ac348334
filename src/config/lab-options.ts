import { BENCH_DEFAULTS, oneOf, parseFlags, positiveNumber } from './bench-options.ts';

export const LAB_TARGETS = ['local', 'azure'] as const;

/** `npm run lab:deploy` options. */
export interface DeployOptions {
  target: (typeof LAB_TARGETS)[number];
  policy: string;
  stateFile: string;
  seed: number;
  /** Mock timing flags passed through (`--ttft-ms`, `--itl-ms`, `--output-tokens`). */
  mockArgs: string[];
  help: boolean;
}

/** `npm run lab:cleanup` options. */
export interface CleanupOptions {
  stateFile: string;
  help: boolean;
}

/** `npm run lab` options. */
export interface LabRunOptions {
  policy: string;
  out: string | undefined;
  requests: number;
  help: boolean;
}

const MOCK_TIMING_FLAGS = ['ttft-ms', 'itl-ms', 'output-tokens'] as const;

export function resolveDeployOptions(argv: readonly string[]): DeployOptions {
  const values = parseFlags(
    argv,
    { target: { type: 'string' }, policy: { type: 'string' }, state: { type: 'string' }, seed: { type: 'string' }, 'ttft-ms': { type: 'string' }, 'itl-ms': { type: 'string' }, 'output-tokens': { type: 'string' }, help: { type: 'boolean' } },
    'npm run lab:deploy -- --help',
  );
  const target = oneOf('--target', (values['target'] as string | undefined) ?? 'local', LAB_TARGETS);
  const mockArgs: string[] = [];
  for (const flag of MOCK_TIMING_FLAGS) {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) continue;
    positiveNumber(`--${flag}`, raw, { integer: flag === 'output-tokens', min: flag === 'ttft-ms' || flag === 'itl-ms' ? 0 : 1, max: 600_000 });
    mockArgs.push(`--${flag}`, raw);
  }
  return {
    target,
    policy: (values['policy'] as string | undefined) ?? 'streaming',
    stateFile: (values['state'] as string | undefined) ?? BENCH_DEFAULTS.stateFile,
    seed: positiveNumber('--seed', values['seed'] as string | undefined, { min: 0, max: 2 ** 32 - 1 }) ?? BENCH_DEFAULTS.seed,
    mockArgs,
    help: values['help'] === true,
  };
}

export function resolveCleanupOptions(argv: readonly string[]): CleanupOptions {
  const values = parseFlags(argv, { state: { type: 'string' }, help: { type: 'boolean' } }, 'npm run lab:cleanup -- --help');
  return { stateFile: (values['state'] as string | undefined) ?? BENCH_DEFAULTS.stateFile, help: values['help'] === true };
}

export function resolveLabRunOptions(argv: readonly string[]): LabRunOptions {
  const values = parseFlags(argv, { policy: { type: 'string' }, out: { type: 'string' }, requests: { type: 'string' }, help: { type: 'boolean' } }, 'npm run lab -- --help');
  const requests = positiveNumber('--requests', values['requests'] as string | undefined, { min: 2, max: 1000 }) ?? 8;
  return {
    policy: (values['policy'] as string | undefined) ?? 'streaming',
    out: values['out'] as string | undefined,
    requests,
    help: values['help'] === true,
  };
}
