import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LabError } from '../errors.ts';
import { processStartTime } from './process-identity.ts';
import type { LabProcess } from './state.ts';

/**
 * A local edge in front of the lab's gateway, as an ingress or Application Gateway stands in
 * front of APIM: Debian's nginx, configured as a typical ingress. Streaming-safe (HTTP/1.1 to
 * the upstream, no response buffering, as ingress-nginx's default) or buffered (proxy
 * buffering on, ignoring X-Accel-Buffering, as an edge that holds responses does). Its config
 * and logs are in the lab folder; it is one foreground process the lab records and
 * lab:cleanup stops.
 */
export interface EdgeSpec {
  /** The lab folder (beside the state file): the edge's config, logs and temp paths go in `edge-nginx/`. */
  labDir: string;
  /** The gateway's URL. */
  upstreamUrl: string;
  buffered: boolean;
}

const START_TIMEOUT_MS = 5_000;

/** Debian's nginx, or a clear error naming the package. */
export function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', 'nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate;
  }
  throw new LabError(
    'E_PROCESS_START',
    'Failed to start the edge "nginx": nginx is not installed. Install Debian\'s nginx-light (apt-get install -y nginx-light), or give an edge you already run with --edge-url URL.',
  );
}

export function edgeConfig(prefix: string, port: number, upstream: URL, buffered: boolean): string {
  // Buffered: nginx's own defaults for a bare proxy_pass (HTTP/1.0 to the upstream, response
  // buffering on), not honouring the upstream's X-Accel-Buffering: no. Streams then arrive in
  // 4–8 KB blocks (test/integration/verify-nginx.test.ts shows the same with Debian's nginx).
  const proxying = buffered
    ? ['proxy_buffering on;', 'proxy_ignore_headers X-Accel-Buffering;']
    : [
        'proxy_http_version 1.1;',
        'proxy_set_header Connection "";',
        'proxy_buffering off;',
        'proxy_cache off;',
        'proxy_read_timeout 300s;',
      ];
  return [
    `# The lab's edge (${buffered ? 'buffered: shows what a buffering edge does to a stream' : 'streaming-safe, as a typical ingress'}), in front of the gateway.`,
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `error_log ${join(prefix, 'error.log')} warn;`,
    `pid ${join(prefix, 'nginx.pid')};`,
    'events { worker_connections 4096; }',
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${join(prefix, 'body')};`,
    `  proxy_temp_path ${join(prefix, 'proxy')};`,
    '  server {',
    `    listen 127.0.0.1:${port};`,
    '    location / {',
    `      proxy_pass ${upstream.protocol}//${upstream.host};`,
    ...proxying.map((line) => `      ${line}`),
    '    }',
    '  }',
    '}',
    '',
  ].join('\n');
}

/** A loopback port that was free a moment ago (nginx needs its port in its config before it starts). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const answers = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });

/** Starts the edge; returns the process to record and its URL. */
export async function startEdgeNginx(
  spec: EdgeSpec,
  signal?: AbortSignal,
): Promise<{ process: LabProcess; url: string }> {
  const binary = nginxBinary();
  // Absolute: nginx resolves a relative prefix against its own default, not this directory.
  const prefix = resolve(spec.labDir, 'edge-nginx');
  mkdirSync(prefix, { recursive: true, mode: 0o700 });
  const port = await freePort();
  writeFileSync(join(prefix, 'nginx.conf'), edgeConfig(prefix, port, new URL(spec.upstreamUrl), spec.buffered));
  const logFile = join(prefix, 'error.log');
  closeSync(openSync(logFile, 'w', 0o600));
  const child = spawn(binary, ['-c', join(prefix, 'nginx.conf'), '-p', prefix], { detached: true, stdio: 'ignore' });
  child.unref();
  let exitCode: number | null = null;
  child.once('exit', (code) => (exitCode = code ?? 1));
  const pid = child.pid;
  if (pid === undefined) throw new LabError('E_PROCESS_START', 'Failed to start the edge "nginx": no process id.');
  const deadline = performance.now() + START_TIMEOUT_MS;
  while (performance.now() < deadline && exitCode === null && !signal?.aborted) {
    if (await answers(port)) {
      const startTime = processStartTime(pid);
      if (startTime === undefined) break;
      return { process: { role: 'edge', pid, startTime, logFile }, url: `http://127.0.0.1:${port}` };
    }
    await sleep(25);
  }
  if (exitCode === null) child.kill('SIGKILL');
  throw new LabError(
    'E_PROCESS_START',
    `Failed to start the edge "nginx": ${exitCode !== null ? `it exited (${exitCode}): ${readFileSync(logFile, 'utf8').trim().split('\n').at(-1) ?? ''}` : 'it did not listen within 5 s'}.`,
  );
}
