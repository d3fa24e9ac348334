import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

// The mock as users start it: a separate process, one JSON line on stdout, clean stop.
const CLI = new URL('../../stand-ins/azure-openai/cli.ts', import.meta.url).pathname;

function start(args: string[], env: Record<string, string> = {}): { child: ChildProcess; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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
    const { child, stderr } = start(['--port', '0', '--host', '127.0.0.1', '--ttft-ms', '5'], {
      MOCK_API_KEY: 'cli-secret-key',
    });
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

  it('--fault gives every request without x-mock-fault a standing fault; PUT /_mock/faults changes it; a bad one exits 2 naming the flag', async () => {
    const { child } = start(['--port', '0', '--ttft-ms', '5', '--fault', '429=1500']);
    const info = JSON.parse(await firstLine(child)) as { url: string };
    const chat = (headers: Record<string, string> = {}) =>
      fetch(`${info.url}/openai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'api-key': 'k', ...headers },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const refused = await chat();
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(refused.headers.get('retry-after-ms')).toBe('1500');
    // A request's own header wins over the standing fault.
    expect((await chat({ 'x-mock-fault': '503' })).status).toBe(503);
    expect(await (await fetch(`${info.url}/_mock/faults`)).json()).toEqual({ faults: '429=1500' });
    const bad = await fetch(`${info.url}/_mock/faults`, { method: 'PUT', body: 'explode' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/unknown fault "explode"/);
    expect((await fetch(`${info.url}/_mock/faults`, { method: 'PUT', body: '' })).status).toBe(200);
    expect((await chat()).status).toBe(200);
    child.kill('SIGTERM');
    await once(child, 'exit');

    const wrong = start(['--fault', '429=soon']);
    const [code] = (await once(wrong.child, 'exit')) as [number];
    expect(code).toBe(2);
    expect(wrong.stderr()).toMatch(
      /"--fault": fault "429" needs a whole number from 0 to 600,000, got "soon"\. Allowed: name\[=value\],… with names 429/,
    );
  });
});

const GATEWAY_CLI = new URL('../../stand-ins/apim/cli.ts', import.meta.url).pathname;

describe('gateway CLI with a backends file', () => {
  const run = async (args: string[]): Promise<{ code: number; stderr: string }> => {
    const child = spawn(process.execPath, [GATEWAY_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number];
    return { code, stderr };
  };

  it('refuses a file APIM would refuse, a backend without a url, and --backend with --backends, each naming the flag', async () => {
    const policy = ['--policy', 'labs/failover/failover.xml'];
    const missing = await run(['--backends', 'nope.json', ...policy]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/"--backends": cannot read "nope.json" \(ENOENT\)/);
    const noUrl = await run(['--backends', 'labs/failover/backends.json', ...policy]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toMatch(/"--backend-url": backend "ptu" has no url in the backends file and none was given/);
    const both = await run(['--backends', 'labs/failover/backends.json', '--backend', 'http://127.0.0.1:9', ...policy]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/"--backend": give --backend or --backends, not both/);
    const unknown = await run([
      '--backends',
      'labs/failover/backends.json',
      '--backend-url',
      'ptu=http://127.0.0.1:9/openai,payg=http://127.0.0.1:9/openai,spare=http://127.0.0.1:9',
      ...policy,
    ]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(
      /"--backend-url": "spare" is not a single backend of the backends file\. Allowed: ptu, payg/,
    );
  });
});
