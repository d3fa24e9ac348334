import { isLabError } from '../../src/errors.ts';
import { httpUrl, parseFlags, positiveNumber, required } from '../../src/flags.ts';
import { closeOnSignal } from '../until-signal.ts';
import { loadGatewayPolicy } from './policy.ts';
import { createGateway, DEFAULT_GATEWAY_MAX_BODY_BYTES } from './server.ts';
import { TOKEN_WINDOW_MS } from './token-limit.ts';

export const GATEWAY_USAGE = `Usage: node mock-server/gateway/cli.ts --backend URL --policy FILE [options]

The local APIM stand-in: a streaming reverse proxy for /openai/*, configured by an APIM
policy XML (infra/policies/*.xml). Prints one JSON line with its URL; stops on SIGINT/SIGTERM.
  --backend URL          the only backend it forwards to (the mock, or an Azure OpenAI endpoint)
  --policy FILE          APIM policy document
  --host HOST            address to listen on (default 127.0.0.1)
  --port N               port, 0 for a free one (default 0)
  --max-body-bytes N     largest request body, else 413 (default ${DEFAULT_GATEWAY_MAX_BODY_BYTES})
  --token-window-ms N    the token limit's "minute" (default 60000); labs compress it so waits stay short
  --help                 this text

Environment (keys are never taken from arguments):
  GATEWAY_SUBSCRIPTION_KEY   subscription key(s), comma-separated; unset = no subscription required
  GATEWAY_BACKEND_KEY        backend api-key used where the policy authenticates with managed identity`;

const OPTIONS = {
  backend: { type: 'string' },
  policy: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'token-window-ms': { type: 'string' },
  help: { type: 'boolean' },
} as const;

async function main(argv: readonly string[]): Promise<void> {
  try {
    const values = parseFlags(argv, OPTIONS, 'node mock-server/gateway/cli.ts --help');
    if (values['help'] === true) {
      process.stdout.write(`${GATEWAY_USAGE}\n`);
      return;
    }
    const str = (name: string): string | undefined => values[name] as string | undefined;
    const backendUrl = httpUrl('--backend', required('--backend', str('backend'), 'the URL of the backend, such as http://127.0.0.1:8080'), 'http://127.0.0.1:8080')!;
    const policyFile = required('--policy', str('policy'), 'an APIM policy XML file, such as infra/policies/streaming.xml');
    const policy = loadGatewayPolicy(policyFile);
    const keys = (process.env['GATEWAY_SUBSCRIPTION_KEY'] ?? '').split(',').filter((k) => k !== '');
    const gateway = await createGateway({
      policy,
      backendUrl,
      backendKey: process.env['GATEWAY_BACKEND_KEY'] || undefined,
      subscriptionKeys: keys,
      host: str('host') ?? '127.0.0.1',
      port: positiveNumber('--port', str('port'), { min: 0, max: 65_535 }) ?? 0,
      maxBodyBytes: positiveNumber('--max-body-bytes', str('max-body-bytes'), { max: 1024 ** 3 }) ?? DEFAULT_GATEWAY_MAX_BODY_BYTES,
      tokenWindowMs: positiveNumber('--token-window-ms', str('token-window-ms'), { min: 1000, max: 3_600_000 }) ?? TOKEN_WINDOW_MS,
      // The access log, one JSON line per request on stdout (the lab keeps it in .lab/logs/gateway.log).
      accessLog: (entry) => void process.stdout.write(`${JSON.stringify(entry)}\n`),
    });
    // Never silently dropped: what the gateway does not implement is said once, at start.
    if (policy.ignored.length > 0) process.stderr.write(`gateway: not implemented locally, ignored: ${policy.ignored.join('; ')}\n`);
    process.stdout.write(`${JSON.stringify({ event: 'listening', url: gateway.url, pid: process.pid, policy: policyFile, bufferResponse: policy.bufferResponse, readsResponseBody: policy.readsResponseBody, ignored: policy.ignored, subscriptionRequired: keys.length > 0 })}\n`);
    closeOnSignal('gateway', () => gateway.close());
  } catch (error) {
    if (!isLabError(error)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  }
}

await main(process.argv.slice(2));
