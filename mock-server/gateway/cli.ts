import { isLabError } from '../../src/errors.ts';
import { integer, parseStrictArgs } from '../cli-options.ts';
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
    const values = parseStrictArgs(argv, OPTIONS);
    if (values['help'] === true) {
      process.stdout.write(`${GATEWAY_USAGE}\n`);
      return;
    }
    const backendUrl = values['backend'];
    const policyFile = values['policy'];
    if (typeof backendUrl !== 'string' || typeof policyFile !== 'string') {
      process.stderr.write(`Missing --backend URL or --policy FILE.\n\n${GATEWAY_USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    const policy = loadGatewayPolicy(policyFile);
    const keys = (process.env['GATEWAY_SUBSCRIPTION_KEY'] ?? '').split(',').filter((k) => k !== '');
    const gateway = await createGateway({
      policy,
      backendUrl,
      backendKey: process.env['GATEWAY_BACKEND_KEY'] || undefined,
      subscriptionKeys: keys,
      host: typeof values['host'] === 'string' ? values['host'] : '127.0.0.1',
      port: integer('port', values['port'] as string | undefined, 0, 65_535) ?? 0,
      maxBodyBytes: integer('max-body-bytes', values['max-body-bytes'] as string | undefined, 1, 1024 ** 3) ?? DEFAULT_GATEWAY_MAX_BODY_BYTES,
      tokenWindowMs: integer('token-window-ms', values['token-window-ms'] as string | undefined, 1000, 3_600_000) ?? TOKEN_WINDOW_MS,
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
