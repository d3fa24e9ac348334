import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidOptionError } from '../../src/errors.ts';
import { writeGatewayError } from './gateway-errors.ts';
import type { GatewayPolicy } from './policy.ts';
import { parseBackends, type BackendTable } from '../../src/protocol/index.ts';
import { BackendRouter } from './backend-router.ts';
import { handleProxyRequest, type ProxyConfig } from './proxy.ts';
import { TokenWindow } from './token-limit.ts';
import { UpstreamPool } from './upstream.ts';

/** The backend id the lab's policies name (`set-backend-service backend-id="openai-backend"`). */
export const LAB_BACKEND_ID = 'openai-backend';
export const GATEWAY_HEALTH_PATH = '/_gateway/health';
/** APIM v2 tiers buffer at most 2 MiB of payload; the lab's gateway refuses larger bodies. */
export const DEFAULT_GATEWAY_MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface GatewayOptions {
  policy: GatewayPolicy;
  /** The one backend's origin (the mock, or any Azure OpenAI-compatible origin), as `openai-backend`; or give `backends`. */
  backendUrl?: string | undefined;
  /** APIM backends (a backends file): singles, pools, circuit breakers. */
  backends?: BackendTable | undefined;
  /** URLs for the table's single backends, by name (over the file's; required where the file has none). */
  backendUrls?: Readonly<Record<string, string>>;
  /** The circuit breakers' clock (ms); tests pass a fake one. */
  now?: () => number;
  backendKey?: string | undefined;
  subscriptionKeys?: readonly string[];
  maxBodyBytes?: number;
  host?: string;
  port?: number;
  /** The token limit's window (default a minute; labs compress it). */
  tokenWindowMs?: number;
  /** One entry per request (the CLI writes them to stdout as JSON lines). */
  accessLog?: ProxyConfig['accessLog'];
  /** The status a retry condition reads for an unreachable backend (default 503); null: never retried (ProxyConfig). */
  unreachableRetryStatus?: number | null;
}

/** What a retry condition reads, by default, when the backend could not be reached (see ProxyConfig.unreachableRetryStatus). */
export const DEFAULT_UNREACHABLE_RETRY_STATUS = 503;

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
  const { router, backendId } = resolveBackends(options);
  const config: ProxyConfig = {
    policy: options.policy,
    router,
    backendId,
    backendKey: options.backendKey,
    subscriptionKeys: options.subscriptionKeys ?? [],
    subscriptionKeyHeader: 'api-key',
    subscriptionKeyQuery: 'api-key',
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_GATEWAY_MAX_BODY_BYTES,
    tokens: options.policy.tokenLimit
      ? {
          window: new TokenWindow(options.policy.tokenLimit, undefined, options.tokenWindowMs),
          meter: await import('./usage-meter.ts'),
        }
      : undefined,
    stats: { requests: 0, forwarded: 0, cancelledUpstream: 0, retried: 0 },
    accessLog: options.accessLog,
    unreachableRetryStatus:
      options.unreachableRetryStatus === null
        ? undefined
        : (options.unreachableRetryStatus ?? DEFAULT_UNREACHABLE_RETRY_STATUS),
  };
  const pool = new UpstreamPool();
  const server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 0, noDelay: true }, (req, res) => {
    if (req.url === GATEWAY_HEALTH_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, ...config.stats }));
      return;
    }
    handleProxyRequest(config, pool, req, res).catch((error: unknown) =>
      writeGatewayError(res, 500, `Gateway failure: ${(error as Error).message}`),
    );
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
        pool.destroy();
      }),
  };
}

/**
 * The backends the gateway may forward to, and the one the policy names. Only those: a policy
 * naming another backend, or a base-url on another host, is refused at start.
 */
function resolveBackends(options: GatewayOptions): { router: BackendRouter; backendId: string } {
  const { policy } = options;
  let table: BackendTable;
  if (options.backends !== undefined) table = options.backends;
  else {
    const origin = originOf('--backend', options.backendUrl);
    // One backend, as the lab's deploy creates it: the account's endpoint with the API's /openai suffix.
    table = parseBackends([{ name: LAB_BACKEND_ID, properties: { url: `${origin}/openai`, protocol: 'http' } }]);
  }
  const urls = new Map<string, URL>();
  for (const backend of table.singles.values()) {
    // The URLs are keyed by names from a file: read as own keys only ("constructor" is a name, not Object's).
    const given =
      (options.backendUrls !== undefined && Object.hasOwn(options.backendUrls, backend.name)
        ? options.backendUrls[backend.name]
        : undefined) ?? backend.url;
    if (given === undefined)
      throw new InvalidOptionError(
        '--backend-url',
        `backend "${backend.name}" has no url in the backends file and none was given`,
        `${backend.name}=http://127.0.0.1:PORT/openai`,
      );
    urls.set(backend.name, new URL(given));
  }
  for (const name of Object.keys(options.backendUrls ?? {})) {
    if (!table.singles.has(name))
      throw new InvalidOptionError(
        '--backend-url',
        `"${name}" is not a single backend of the backends file`,
        [...table.singles.keys()].join(', '),
      );
  }
  const router = new BackendRouter(table, urls, options.now);
  const names = [...table.pools.keys(), ...table.singles.keys()];
  let backendId = policy.backendId ?? (router.has(LAB_BACKEND_ID) ? LAB_BACKEND_ID : names[0]!);
  if (policy.backendBaseUrl !== undefined) {
    const origin = new URL(policy.backendBaseUrl, [...urls.values()][0]).origin;
    const named = [...urls].find(([, url]) => url.origin === origin)?.[0];
    if (named === undefined)
      throw new InvalidOptionError(
        '--policy',
        `"${policy.file}" sets base-url "${policy.backendBaseUrl}", which is not the configured backend or one of them (${[...urls.values()].map((u) => u.origin).join(', ')})`,
        'no base-url, or a backend given with --backend or --backends',
      );
    backendId = named;
  }
  if (!router.has(backendId)) {
    throw new InvalidOptionError(
      '--policy',
      `"${policy.file}" sets backend-id "${backendId}", and the local gateway has only ${names.map((n) => `"${n}"`).join(', ')}`,
      `backend-id="${names[0]}", or a backends file (--backends) that defines it`,
    );
  }
  return { router, backendId };
}

function originOf(flag: string, value: string | undefined): string {
  if (value === undefined)
    throw new InvalidOptionError(
      flag,
      'no backend given',
      'the backend origin, e.g. http://127.0.0.1:41234, or --backends FILE',
    );
  try {
    return new URL(value).origin;
  } catch {
    throw new InvalidOptionError(flag, `"${value}" is not a URL`, 'the backend origin, e.g. http://127.0.0.1:41234');
  }
}
