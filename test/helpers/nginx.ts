import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/lab/edge-nginx.ts';

export interface Nginx {
  url: string;
  /** The one nginx process (master_process off), for CPU accounting in benchmarks. */
  pid: number;
  close(): Promise<void>;
}

/** Debian's nginx (installed by .ci/run), or a clear failure saying how to get it. */
export function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', 'nginx']) {
    if (spawnSync(candidate, ['-v']).status === 0) return candidate;
  }
  throw new Error('nginx is not installed: apt-get install -y nginx-light (bash .ci/run does)');
}

async function waitForPort(port: number, child: ChildProcess, errorLog: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${readFileSync(errorLog, 'utf8')}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nginx did not listen on ${port}`);
}

/**
 * Starts nginx in the foreground (one process, no daemon) with a config from
 * test/fixtures/nginx, in front of `upstreamUrl`, on a free loopback port.
 */
export async function startNginx(configName: string, upstreamUrl: string): Promise<Nginx> {
  const binary = nginxBinary();
  const prefix = mkdtempSync(join(tmpdir(), `nginx-${configName}-`));
  mkdirSync(join(prefix, 'logs'));
  const port = await freePort();
  const template = readFileSync(
    fileURLToPath(new URL(`../fixtures/nginx/${configName}.conf`, import.meta.url)),
    'utf8',
  );
  const config = template
    .replaceAll('__PREFIX__', prefix)
    .replaceAll('__PORT__', String(port))
    .replaceAll('__UPSTREAM__', new URL(upstreamUrl).host);
  writeFileSync(join(prefix, 'nginx.conf'), config);
  const child = spawn(binary, ['-c', join(prefix, 'nginx.conf'), '-p', prefix], { stdio: 'ignore' });
  await waitForPort(port, child, join(prefix, 'error.log'));
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
