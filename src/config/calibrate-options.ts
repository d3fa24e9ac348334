import { parseFlags, positiveNumber } from '../flags.ts';
import { outputDirFlag } from '../files.ts';

/** `npm run calibrate`: how finely this machine can resolve a gateway's overhead. */
export interface CalibrateOptions {
  /** Runs per arm (A/A, and the known delay), each with its own seed. */
  seeds: number;
  /** Pairs (requests per path) per run. */
  requests: number;
  concurrency: number;
  /** The known delay the proxy adds to every chunk, ms. */
  delayMs: number;
  /** A chain of three paths (direct, gateway, edge): every hop's interval scored, the delay placed at the edge. */
  chain: boolean;
  out: string | undefined;
  json: boolean;
  help: boolean;
}

/** Every default of `npm run calibrate` (its --help prints them from here). `chainConcurrency`: one request per path in flight, so a closed loop's batches line up with the interleaved rounds (docs/performance.md, the chain calibration). */
export const CALIBRATE_DEFAULTS = { seeds: 10, requests: 20, concurrency: 4, chainConcurrency: 3, delayMs: 20 };

export function resolveCalibrateOptions(argv: readonly string[]): CalibrateOptions {
  const values = parseFlags(
    argv,
    {
      seeds: { type: 'string' },
      requests: { type: 'string' },
      concurrency: { type: 'string' },
      'delay-ms': { type: 'string' },
      chain: { type: 'boolean' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean' },
    },
    'npm run calibrate -- --help',
  );
  const str = (name: string): string | undefined => values[name] as string | undefined;
  return {
    seeds: positiveNumber('--seeds', str('seeds'), { min: 2, max: 1000 }) ?? CALIBRATE_DEFAULTS.seeds,
    requests: positiveNumber('--requests', str('requests'), { min: 6, max: 10_000 }) ?? CALIBRATE_DEFAULTS.requests,
    concurrency:
      positiveNumber('--concurrency', str('concurrency'), { max: 1000 }) ??
      (values['chain'] === true ? CALIBRATE_DEFAULTS.chainConcurrency : CALIBRATE_DEFAULTS.concurrency),
    delayMs:
      positiveNumber('--delay-ms', str('delay-ms'), { integer: false, min: 1, max: 10_000 }) ??
      CALIBRATE_DEFAULTS.delayMs,
    chain: values['chain'] === true,
    out: str('out') !== undefined ? outputDirFlag('--out', str('out')!) : undefined,
    json: values['json'] === true,
    help: values['help'] === true,
  };
}
