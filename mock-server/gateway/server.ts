import { Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../../src/errors.ts';
import { writeGatewayError } from './gateway-errors.ts';
import type { GatewayPolicy } from './policy.ts';
import { handleProxyRequest, type ProxyConfig } from './proxy.ts';
import { TokenWindow } from './token-limit.ts';

/** The backend id the lab's policies name (`set-backend-service backend-id="openai-backend"`). */
export const LAB_BACKEND_ID = 'openai-backend';
export const GATEWAY_HEALTH_PATH = '/_gateway/health';
/** APIM v2 tiers buffer at most 2 MiB of payload; the lab's gateway refuses larger bodies. */
export const DEFAULT_GATEWAY_MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface GatewayOptions {
  policy: GatewayPolicy;
  /** The backend's base URL (the mock, or any Azure OpenAI-compatible origin). */
  backendUrl: string;
  backendKey?: string | undefined;
  subscriptionKeys?: readonly string[];
  maxBodyBytes?: number;
  host?: string;
  port?: number;
  /** The token limit's window (default a minute; labs compress it). */
  tokenWindowMs?: number;
  /** One entry per request (the CLI writes them to stdout as JSON lines). */
  accessLog?: ProxyConfig['accessLog'];
}

export interface Gateway {
  url: string;
  server: Server;
  stats: ProxyConfig['stats'];
  close(): Promise<void>;
}

/**
 * The local APIM stand-in: a streaming reverse proxy for the lab's API (`/openai/*`),
 * configured by the same policy XML the Azure path deploys.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const backend = resolveBackend(options.policy, options.backendUrl);
  const config: ProxyConfig = {
    policy: options.policy,
    backend,
    backendKey: options.backendKey,
    subscriptionKeys: options.subscriptionKeys ?? [],
    subscriptionKeyHeader: 'api-key',
    subscriptionKeyQuery: 'api-key',
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_GATEWAY_MAX_BODY_BYTES,
    tokenWindow: options.policy.tokenLimit ? new TokenWindow(options.policy.tokenLimit, undefined, options.tokenWindowMs) : undefined,
    stats: { requests: 0, forwarded: 0, cancelledUpstream: 0 },
    accessLog: options.accessLog,
  };
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 0, noDelay: true }, (req, res) => {
    if (req.url === GATEWAY_HEALTH_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, ...config.stats }));
      return;
    }
    handleProxyRequest(config, agent, req, res).catch((error: unknown) => writeGatewayError(res, 500, `Gateway failure: ${(error as Error).message}`));
  });
  server.maxConnections = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    server,
    stats: config.stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

/** Only the configured backend: a policy naming another backend or host is refused at start. */
function resolveBackend(policy: GatewayPolicy, backendUrl: string): URL {
  let backend: URL;
  try {
    backend = new URL(backendUrl);
  } catch {
    throw new InvalidOptionError('--backend', `"${backendUrl}" is not a URL`, 'the backend origin, e.g. http://127.0.0.1:41234');
  }
  if (policy.backendId !== undefined && policy.backendId !== LAB_BACKEND_ID) {
    throw new InvalidOptionError('--policy', `"${policy.file}" sets backend-id "${policy.backendId}", and the local gateway has only "${LAB_BACKEND_ID}"`, `backend-id="${LAB_BACKEND_ID}"`);
  }
  if (policy.backendBaseUrl !== undefined && new URL(policy.backendBaseUrl, backend).origin !== backend.origin) {
    throw new InvalidOptionError('--policy', `"${policy.file}" sets base-url "${policy.backendBaseUrl}", which is not the configured backend ${backend.origin}`, 'no base-url, or the backend given with --backend');
  }
  return new URL(backend.origin);
}
