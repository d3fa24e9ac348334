import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RequestHandler } from 'msw';
import { DEFAULT_MAX_BODY_BYTES, MockContext, type MockConfig } from './context.ts';
import { DEFAULT_DEPLOYMENTS, toDeploymentTable } from './deployments.ts';
import { createHandlers, createRouter } from './handlers.ts';
import { createRequestListener } from './http-adapter.ts';

export interface MockServerOptions extends Partial<MockConfig> {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
}

export interface MockServer {
  /** Base URL, e.g. `http://127.0.0.1:41234` (the Azure "endpoint"). */
  url: string;
  context: MockContext;
  /** The same mock as msw handlers, for in-process use: `getResponse(handlers, request)`. */
  handlers: RequestHandler[];
  server: Server;
  /** Stops accepting, ends open streams and resolves when the server has closed. */
  close(): Promise<void>;
}

/** Resolves a full config from partial options (the CLI validates flags before this). */
export function resolveMockConfig(options: Partial<MockConfig> = {}): MockConfig {
  return {
    deployments: options.deployments ?? toDeploymentTable(DEFAULT_DEPLOYMENTS),
    apiKey: options.apiKey,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    region: options.region ?? 'Sweden Central',
    seed: options.seed ?? 1,
    timing: options.timing ?? {},
    rateLimitRequestsPerMin: options.rateLimitRequestsPerMin ?? 10_000,
    faults: options.faults ?? {},
    rateLimitTokensPerMin: options.rateLimitTokensPerMin ?? 10_000_000,
  };
}

/** Starts the Azure OpenAI mock on a loopback port. */
export async function createMockServer(options: MockServerOptions = {}): Promise<MockServer> {
  const context = new MockContext(resolveMockConfig(options));
  const handlers = createHandlers(context);
  // noDelay: every frame is a small write; with Nagle on, a frame written right after another
  // waits for the client's (delayed, up to 40 ms) ACK.
  const server = createServer(
    { keepAliveTimeout: 30_000, requestTimeout: 0, noDelay: true },
    createRequestListener(createRouter(context), { maxBodyBytes: context.config.maxBodyBytes }),
  );
  server.maxConnections = 20_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    context,
    handlers,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
