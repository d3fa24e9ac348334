import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A proxy whose cost is known: it forwards the response's headers and every body chunk
 * exactly `delayMs` after they arrived from the upstream (plus `driftMsPerRequest` × the
 * request's number, for an upstream that slows down during a run), in order. It is the
 * ground truth for calibration: a measured gateway overhead must come out at no less than
 * `delayMs`, and an A/A run through it must not drift to one side.
 */
export interface DelayProxyOptions {
  upstreamUrl: string;
  delayMs: number;
  driftMsPerRequest?: number;
  host?: string;
  port?: number;
}

export interface DelayProxy {
  url: string;
  /** Requests forwarded so far. */
  requests(): number;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'host']);

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const upstream = new URL(options.upstreamUrl);
  let count = 0;
  const server = http.createServer((req, res) => {
    const delayMs = options.delayMs + (options.driftMsPerRequest ?? 0) * count++;
    const headers = Object.fromEntries(
      Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name)),
    ) as http.OutgoingHttpHeaders;
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (up) => {
        // Each step is due delayMs after its arrival; arrivals are in order, so due times are too.
        const later = (step: () => void): void => void setTimeout(step, delayMs);
        later(() => {
          if (res.destroyed) return;
          const out = Object.fromEntries(Object.entries(up.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
          res.writeHead(up.statusCode ?? 502, out);
          res.flushHeaders();
        });
        up.on('data', (chunk: Buffer) => later(() => res.destroyed || res.write(chunk)));
        up.on('end', () => later(() => res.end()));
        up.on('error', () => later(() => res.destroy()));
      },
    );
    forward.on('error', () => res.destroy());
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    req.pipe(forward);
  });
  server.keepAliveTimeout = 30_000;
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
