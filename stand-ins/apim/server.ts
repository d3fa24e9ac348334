import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGatewayCore, type GatewayCoreOptions, type GatewayStats } from './core.ts';
import { handleProxyRequest, writeGatewayFailure } from './proxy.ts';
import { UpstreamPool } from './upstream.ts';

export {
  DEFAULT_GATEWAY_MAX_BODY_BYTES,
  DEFAULT_UNREACHABLE_RETRY_STATUS,
  GATEWAY_HEALTH_PATH,
  LAB_BACKEND_ID,
} from './core.ts';

export interface GatewayOptions extends GatewayCoreOptions {
  host?: string;
  port?: number;
}

export interface Gateway {
  url: string;
  server: Server;
  stats: GatewayStats;
  close(): Promise<void>;
}

/**
 * The local APIM stand-in: a streaming reverse proxy for the lab's API (`/openai/*`),
 * configured by the same policy XML the Azure path deploys. The decisions are the core's
 * (core.ts); this is its node:http server, forwarding through the gateway's own HTTP/1.1
 * client (upstream.ts), with proxy.ts between the two.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const pool = new UpstreamPool();
  const core = await createGatewayCore(options, pool);
  const server = createServer({ keepAliveTimeout: 30_000, requestTimeout: 0, noDelay: true }, (req, res) => {
    handleProxyRequest(core, req, res).catch((error: unknown) => writeGatewayFailure(res, error));
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
    stats: core.stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        pool.destroy();
      }),
  };
}
