import { InvalidOptionError, isLabError } from '../../src/errors.ts';
import {
  BACKENDS_FILE_SHAPE,
  BackendsFileError,
  readBackendsFile,
  type BackendTable,
} from '../../src/protocol/index.ts';
import { httpUrl, parseFlags, positiveNumber, required } from '../../src/flags.ts';
import { closeOnSignal } from '../until-signal.ts';
import { loadGatewayPolicy } from './policy.ts';
import { createGateway, DEFAULT_GATEWAY_MAX_BODY_BYTES } from './server.ts';
import { TOKEN_WINDOW_MS } from './token-limit.ts';

export const GATEWAY_USAGE = `Usage: node stand-ins/apim/cli.ts --backend URL --policy FILE [options]

The local APIM stand-in: a streaming reverse proxy for /openai/*, configured by an APIM
policy XML (infra/policies/*.xml). Prints one JSON line with its URL; stops on SIGINT/SIGTERM.
  --backend URL          the only backend it forwards to (the mock, or an Azure OpenAI endpoint)
  --backends FILE        APIM backends instead (a JSON array of ARM backend resources: single
                         backends with circuit breakers, pools with priority and weight)
  --backend-url LIST     name=URL,… URLs for the file's single backends (over the file's own)
  --policy FILE          APIM policy document
  --host HOST            address to listen on (default 127.0.0.1)
  --port N               port, 0 for a free one (default 0)
  --max-body-bytes N     largest request body, else 413 (default ${DEFAULT_GATEWAY_MAX_BODY_BYTES})
  --token-window-ms N    the token limit's "minute" (default 60000); labs compress it so waits stay short
  --unreachable-as S     the status a retry condition reads when a backend cannot be reached
                         (refused, reset, no answer in time): default 503; "none" never retries
                         it. Microsoft does not document this; a circuit breaker counts such a
                         failure when its rule lists errorReasons
  --help                 this text

Environment (keys are never taken from arguments):
  GATEWAY_SUBSCRIPTION_KEY   subscription key(s), comma-separated; unset = no subscription required
  GATEWAY_BACKEND_KEY        backend api-key used where the policy authenticates with managed identity`;

const OPTIONS = {
  backend: { type: 'string' },
  backends: { type: 'string' },
  'backend-url': { type: 'string' },
  policy: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'token-window-ms': { type: 'string' },
  'unreachable-as': { type: 'string' },
  help: { type: 'boolean' },
} as const;

async function main(argv: readonly string[]): Promise<void> {
  try {
    const values = parseFlags(argv, OPTIONS, 'node stand-ins/apim/cli.ts --help');
    if (values['help'] === true) {
      process.stdout.write(`${GATEWAY_USAGE}\n`);
      return;
    }
    const str = (name: string): string | undefined => values[name] as string | undefined;
    const backendsFile = str('backends');
    if (backendsFile !== undefined && str('backend') !== undefined)
      throw new InvalidOptionError(
        '--backend',
        'give --backend or --backends, not both',
        'one backend URL, or a backends file',
      );
    const backendUrl =
      backendsFile === undefined
        ? httpUrl(
            '--backend',
            required('--backend', str('backend'), 'the URL of the backend, such as http://127.0.0.1:8080'),
            'http://127.0.0.1:8080',
          )
        : undefined;
    const backends = backendsFile === undefined ? undefined : readBackends(backendsFile);
    const backendUrls = backendUrlList(str('backend-url'));
    const policyFile = required(
      '--policy',
      str('policy'),
      'an APIM policy XML file, such as infra/policies/streaming.xml',
    );
    const policy = loadGatewayPolicy(policyFile);
    const keys = (process.env['GATEWAY_SUBSCRIPTION_KEY'] ?? '').split(',').filter((k) => k !== '');
    const gateway = await createGateway({
      policy,
      backendUrl,
      backends,
      backendUrls,
      backendKey: process.env['GATEWAY_BACKEND_KEY'] || undefined,
      subscriptionKeys: keys,
      host: str('host') ?? '127.0.0.1',
      port: positiveNumber('--port', str('port'), { min: 0, max: 65_535 }) ?? 0,
      maxBodyBytes:
        positiveNumber('--max-body-bytes', str('max-body-bytes'), { max: 1024 ** 3 }) ?? DEFAULT_GATEWAY_MAX_BODY_BYTES,
      tokenWindowMs:
        positiveNumber('--token-window-ms', str('token-window-ms'), { min: 1000, max: 3_600_000 }) ?? TOKEN_WINDOW_MS,
      unreachableRetryStatus:
        str('unreachable-as') === 'none'
          ? null
          : positiveNumber('--unreachable-as', str('unreachable-as'), { min: 100, max: 599 }),
      // The access log, one JSON line per request on stdout (the lab keeps it in .lab/logs/gateway.log).
      accessLog: (entry) => void process.stdout.write(`${JSON.stringify(entry)}\n`),
    });
    // Never silently dropped: what the gateway does not implement is said once, at start.
    const ignored = [...policy.ignored, ...(backends?.ignored ?? [])];
    if (ignored.length > 0) process.stderr.write(`gateway: not implemented locally, ignored: ${ignored.join('; ')}\n`);
    process.stdout.write(
      `${JSON.stringify({ event: 'listening', url: gateway.url, pid: process.pid, policy: policyFile, backends: backendsFile ?? null, bufferResponse: policy.bufferResponse, readsResponseBody: policy.readsResponseBody, retry: policy.retry ? { condition: policy.retry.conditionText, count: policy.retry.count } : null, ignored, subscriptionRequired: keys.length > 0 })}\n`,
    );
    closeOnSignal('gateway', () => gateway.close());
  } catch (error) {
    if (!isLabError(error)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 2;
  }
}

function readBackends(file: string): BackendTable {
  try {
    return readBackendsFile(file);
  } catch (error) {
    if (error instanceof BackendsFileError)
      throw new InvalidOptionError('--backends', error.message, BACKENDS_FILE_SHAPE);
    throw error;
  }
}

/** `name=URL,…` (http or https URLs). */
function backendUrlList(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const item of (raw ?? '').split(',').filter((s) => s.trim() !== '')) {
    const at = item.indexOf('=');
    if (at <= 0)
      throw new InvalidOptionError(
        '--backend-url',
        `"${item}" is not name=URL`,
        'name=URL,… such as ptu=http://127.0.0.1:8080/openai',
      );
    out[item.slice(0, at).trim()] = httpUrl(
      '--backend-url',
      item.slice(at + 1).trim(),
      'http://127.0.0.1:8080/openai',
    )!;
  }
  return out;
}

await main(process.argv.slice(2));
