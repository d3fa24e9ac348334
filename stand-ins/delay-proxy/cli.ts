import { isLabError } from '../../src/errors.ts';
import { httpUrl, parseFlags, positiveNumber, required } from '../../src/flags.ts';
import { closeOnSignal } from '../until-signal.ts';
import { startDelayProxy } from './delay-proxy.ts';

export const DELAY_PROXY_USAGE = `Usage: node stand-ins/delay-proxy/cli.ts --upstream URL --delay-ms MS [options]

A proxy with a known cost, for calibration: it relays the upstream's headers and every body
chunk exactly MS after they arrived. Prints one JSON line with its URL; stops on SIGINT/SIGTERM.
  --upstream URL              where to forward (the mock)
  --delay-ms MS               added to every chunk (0 to 60000)
  --drift-ms-per-request MS   and this much more for each request after the first (an upstream that slows down)
  --host HOST  --port N       where to listen (default 127.0.0.1, a free port)`;

const OPTIONS = {
  upstream: { type: 'string' },
  'delay-ms': { type: 'string' },
  'drift-ms-per-request': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  help: { type: 'boolean' },
} as const;

async function main(argv: readonly string[]): Promise<void> {
  try {
    const values = parseFlags(argv, OPTIONS, 'node stand-ins/delay-proxy/cli.ts --help');
    if (values['help'] === true) {
      process.stdout.write(`${DELAY_PROXY_USAGE}\n`);
      return;
    }
    const str = (name: string): string | undefined => values[name] as string | undefined;
    const proxy = await startDelayProxy({
      upstreamUrl: httpUrl(
        '--upstream',
        required('--upstream', str('upstream'), 'the upstream URL, such as http://127.0.0.1:8080'),
        'http://127.0.0.1:8080',
      )!,
      delayMs: positiveNumber('--delay-ms', required('--delay-ms', str('delay-ms'), 'a delay in ms'), {
        integer: false,
        min: 0,
        max: 60_000,
      })!,
      driftMsPerRequest:
        positiveNumber('--drift-ms-per-request', str('drift-ms-per-request'), { integer: false, min: 0, max: 1000 }) ??
        0,
      host: str('host') ?? '127.0.0.1',
      port: positiveNumber('--port', str('port'), { min: 0, max: 65_535 }) ?? 0,
    });
    process.stdout.write(`${JSON.stringify({ event: 'listening', url: proxy.url, pid: process.pid })}\n`);
    closeOnSignal('delay-proxy', () => proxy.close());
  } catch (error) {
    if (!isLabError(error)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  }
}

await main(process.argv.slice(2));
