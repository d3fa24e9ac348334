import { durationMs, httpUrl, listOf, parseFlags, positiveNumber } from '../flags.ts';
import { outputDirFlag } from '../files.ts';
import { API_KINDS, type ApiKind } from '../protocol/index.ts';
import { resolveTargetFlags, TARGET_FLAG_OPTIONS, type TargetFlags } from './target-flags.ts';

/** Everything `npm run lab:verify` needs, validated. */
export interface VerifyOptions extends TargetFlags {
  gateway: string | undefined;
  direct: string | undefined;
  mockAdmin: string | undefined;
  apis: ApiKind[];
  policy: string | undefined;
  diagnostics: string | undefined;
  sku: string | undefined;
  /** Check ids to run; empty = all. */
  checks: string[];
  idleGapMs: number;
  deliveryP99Ms: number;
  ttftOverheadMs: number;
  streams: number;
  out: string | undefined;
  json: boolean;
  help: boolean;
}

/** Every default of `npm run lab:verify` (the target flags': TARGET_DEFAULTS); its --help prints them from here. */
export const VERIFY_DEFAULTS = {
  apis: ['chat', 'responses'] as ApiKind[],
  idleGapMs: 30_000,
  deliveryP99Ms: 50,
  ttftOverheadMs: 50,
  streams: 10,
};

const OPTIONS = {
  ...TARGET_FLAG_OPTIONS,
  gateway: { type: 'string' },
  direct: { type: 'string' },
  'mock-admin': { type: 'string' },
  api: { type: 'string' },
  policy: { type: 'string' },
  diagnostics: { type: 'string' },
  sku: { type: 'string' },
  checks: { type: 'string' },
  'idle-gap': { type: 'string' },
  'max-delivery-p99': { type: 'string' },
  'max-ttft-overhead': { type: 'string' },
  streams: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean' },
} as const;

/** Parses and validates verify flags. `checkIds` are the known check ids (for --checks). */
export function resolveVerifyOptions(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  checkIds: readonly string[],
): VerifyOptions {
  const values = parseFlags(argv, OPTIONS, 'npm run lab:verify -- --help');
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const duration = (flag: string, fallback: number): number => durationMs(`--${flag}`, str(flag)) ?? fallback;
  return {
    ...resolveTargetFlags(values, env),
    gateway: httpUrl('--gateway', str('gateway'), 'https://my-apim.azure-api.net'),
    direct: httpUrl('--direct', str('direct')),
    mockAdmin: httpUrl('--mock-admin', str('mock-admin'), 'http://127.0.0.1:8080'),
    apis: listOf('--api', str('api') ?? VERIFY_DEFAULTS.apis.join(','), API_KINDS),
    policy: str('policy'),
    diagnostics: str('diagnostics'),
    sku: str('sku'),
    checks: str('checks') !== undefined ? listOf('--checks', str('checks')!, checkIds) : [],
    idleGapMs: duration('idle-gap', VERIFY_DEFAULTS.idleGapMs),
    deliveryP99Ms: duration('max-delivery-p99', VERIFY_DEFAULTS.deliveryP99Ms),
    ttftOverheadMs: duration('max-ttft-overhead', VERIFY_DEFAULTS.ttftOverheadMs),
    streams: positiveNumber('--streams', str('streams'), { max: 1000 }) ?? VERIFY_DEFAULTS.streams,
    out: str('out') !== undefined ? outputDirFlag('--out', str('out')!) : undefined,
    json: values['json'] === true,
    help: values['help'] === true,
  };
}
