import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

// The mock as users start it: a separate process, one JSON line on stdout, clean stop.
const CLI = new URL('../../mock-server/cli.ts', import.meta.url).pathname;

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return { child, stderr: () => stderr };
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return line;
}

describe('npm run mock', () => {
  it('prints one JSON line with its URL, serves, and exits 0 on SIGTERM', async () => {
    const { child, stderr } = start(['--port', '0', '--host', '127.0.0.1', '--ttft-ms', '5'], { MOCK_API_KEY: 'cli-secret-key' });
    const info = JSON.parse(await firstLine(child)) as { url: string; keyRequired: boolean; deployments: string[] };
    expect(info.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(info.keyRequired).toBe(true);
    expect(info.deployments).toContain('gpt-4o-mini');
    const response = await fetch(`${info.url}/openai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'api-key': 'cli-secret-key' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(response.status).toBe(200);
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(0);
    expect(stderr()).not.toContain('cli-secret-key');
  });

  it('a wrong flag exits 2 naming the flag and what is allowed', async () => {
    const { child, stderr } = start(['--mode', 'fast']);
    const [code] = (await once(child, 'exit')) as [number];
    expect(code).toBe(2);
    expect(stderr()).toContain('"--mode"');
    expect(stderr()).toContain('smooth, burst');
  });
});
