import { InvalidOptionError } from '../errors.ts';
import { API_KINDS, type ApiKind } from '../protocol/index.ts';
import { API_STYLES, type ApiStyle } from '../target/types.ts';
import { BENCH_DEFAULTS, listOf, oneOf, parseDurationMs, parseFlags, positiveNumber } from './bench-options.ts';

/** Everything `npm run lab:verify` needs, validated. */
export interface VerifyOptions {
  gateway: string | undefined;
  direct: string | undefined;
  mockAdmin: string | undefined;
  apis: ApiKind[];
  apiStyle: ApiStyle;
  deployment: string;
  completionsDeployment: string;
  apiVersion: string;
  apiKeyEnv: string;
  subscriptionKeyEnv: string | undefined;
  entra: boolean;
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
  stateFile: string;
  searchEndpoint: string;
  searchIndex: string;
  help: boolean;
}

export const VERIFY_DEFAULTS = {
  apis: ['chat', 'responses'] as ApiKind[],
  idleGap: '30s',
  deliveryP99: '50ms',
  ttftOverhead: '50ms',
  streams: 10,
};

const OPTIONS = {
  gateway: { type: 'string' },
  direct: { type: 'string' },
  'mock-admin': { type: 'string' },
  api: { type: 'string' },
  'api-style': { type: 'string' },
  deployment: { type: 'string' },
  'completions-deployment': { type: 'string' },
  'api-version': { type: 'string' },
  'api-key-env': { type: 'string' },
  'subscription-key-env': { type: 'string' },
  entra: { type: 'boolean' },
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
  state: { type: 'string' },
  'search-endpoint': { type: 'string' },
  'search-index': { type: 'string' },
  help: { type: 'boolean' },
} as const;

function url(flag: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  try {
    const parsed = new URL(raw);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http');
    return parsed.origin + parsed.pathname.replace(/\/+$/, '');
  } catch {
    throw new InvalidOptionError(flag, `"${raw}" is not an http(s) URL`, 'a URL such as https://my-apim.azure-api.net');
  }
}

/** Parses and validates verify flags. `checkIds` are the known check ids (for --checks). */
export function resolveVerifyOptions(argv: readonly string[], env: NodeJS.ProcessEnv, checkIds: readonly string[]): VerifyOptions {
  const values = parseFlags(argv, OPTIONS, 'npm run lab:verify -- --help');
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const duration = (flag: string, fallback: string): number => parseDurationMs(`--${flag}`, str(flag) ?? fallback);
  return {
    gateway: url('--gateway', str('gateway')),
    direct: url('--direct', str('direct')),
    mockAdmin: url('--mock-admin', str('mock-admin')),
    apis: listOf('--api', str('api') ?? VERIFY_DEFAULTS.apis.join(','), API_KINDS),
    apiStyle: oneOf('--api-style', str('api-style') ?? BENCH_DEFAULTS.apiStyle, API_STYLES),
    deployment: str('deployment') ?? BENCH_DEFAULTS.deployment,
    completionsDeployment: str('completions-deployment') ?? BENCH_DEFAULTS.completionsDeployment,
    apiVersion: str('api-version') ?? BENCH_DEFAULTS.apiVersion,
    apiKeyEnv: str('api-key-env') ?? BENCH_DEFAULTS.apiKeyEnv,
    subscriptionKeyEnv: str('subscription-key-env'),
    entra: values['entra'] === true,
    policy: str('policy'),
    diagnostics: str('diagnostics'),
    sku: str('sku'),
    checks: str('checks') !== undefined ? listOf('--checks', str('checks')!, checkIds) : [],
    idleGapMs: duration('idle-gap', VERIFY_DEFAULTS.idleGap),
    deliveryP99Ms: duration('max-delivery-p99', VERIFY_DEFAULTS.deliveryP99),
    ttftOverheadMs: duration('max-ttft-overhead', VERIFY_DEFAULTS.ttftOverhead),
    streams: positiveNumber('--streams', str('streams'), { max: 1000 }) ?? VERIFY_DEFAULTS.streams,
    out: str('out'),
    json: values['json'] === true,
    stateFile: str('state') ?? BENCH_DEFAULTS.stateFile,
    searchEndpoint: str('search-endpoint') ?? env['AZURE_SEARCH_ENDPOINT'] ?? 'https://example.search.windows.net',
    searchIndex: str('search-index') ?? env['AZURE_SEARCH_INDEX'] ?? 'docs',
    help: values['help'] === true,
  };
}
