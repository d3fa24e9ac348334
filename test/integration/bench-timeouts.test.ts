import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';

// Each phase timeout of npm run bench, through the real CLI, against a loopback server that
// stalls in exactly that phase. Before the timeouts were resolved per phase, every one of these
// runs reported timeout_total (or nothing), whatever the phase.
const KEY = 'timeouts-test-key';
const CHUNK = (text: string) =>
  `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;

type Behaviour = 'no-headers' | 'no-first-token' | 'stall-after-first-token';
let server: http.Server;
let base: string;
const open = new Set<http.ServerResponse>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    const behaviour = new URL(req.url!, 'http://x').pathname.split('/')[1] as Behaviour;
    req.resume();
    if (behaviour === 'no-headers') return; // connected, never answers
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    // An SSE comment is a body byte but no event: the connection is not idle, yet no token came.
    if (behaviour === 'no-first-token') {
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), 50);
      res.on('close', () => clearInterval(keepAlive));
      return;
    }
    res.write(CHUNK('Hello'));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const res of open) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function bench(
  behaviour: Behaviour,
  flags: string[],
): Promise<{ code: number | null; errors: Record<string, number>; stderr: string }> {
  const out = mkdtempSync(join(tmpdir(), 'bench-timeouts-'));
  const result = await runCli(
    [
      'bench',
      '--endpoint',
      `${base}/${behaviour}`,
      '--api-style',
      'openai',
      '--api',
      'chat',
      '--stream',
      'on',
      '--max-tokens',
      '8',
      '--requests',
      '1',
      '--warmup',
      '0',
      '--out',
      out,
      '--json',
      ...flags,
    ],
    process.cwd(),
    { ...process.env, AZURE_OPENAI_API_KEY: KEY },
  );
  if (result.code !== 0 && result.code !== 1) return { code: result.code, errors: {}, stderr: result.stderr };
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
    scenarios: Array<{ errors: Record<string, number> }>;
  };
  return { code: result.code, errors: summary.scenarios[0]!.errors, stderr: result.stderr };
}

// Each case has its own output folder and path on the one stalling server: side by side.
describe.concurrent('bench phase timeouts, through the CLI', () => {
  it.each([
    ['http', 'no-headers', ['--headers-timeout', '300ms', '--timeout', '20s'], 'timeout_headers'],
    ['http', 'no-first-token', ['--first-token-timeout', '300ms', '--timeout', '20s'], 'timeout_first_token'],
    ['http', 'stall-after-first-token', ['--idle-timeout', '300ms', '--timeout', '20s'], 'timeout_idle'],
    ['http', 'stall-after-first-token', ['--timeout', '400ms'], 'timeout_total'],
    ['sdk', 'no-first-token', ['--first-token-timeout', '300ms', '--timeout', '20s'], 'timeout_first_token'],
    ['sdk', 'stall-after-first-token', ['--idle-timeout', '300ms', '--timeout', '20s'], 'timeout_idle'],
  ] as const)(
    '--client %s against a server with %s ends as the phase that stalled',
    async (client, behaviour, flags, outcome) => {
      const started = performance.now();
      const { code, errors, stderr } = await bench(behaviour, ['--client', client, ...flags]);
      // The one request failed: the run measured nothing, says so, and exits 1, with the outcome recorded.
      expect(code, stderr).toBe(1);
      expect(stderr).toMatch(
        new RegExp(
          `Nothing succeeded: all 1 requests failed.*\\n {2}direct \\(.*\\): every request failed \\(${outcome} 1\\)`,
          's',
        ),
      );
      expect(errors).toEqual({ [outcome]: 1 });
      // Ended by the short timeout, not the 20 s total.
      expect(performance.now() - started).toBeLessThan(15_000);
    },
  );

  it('refuses, naming the flag, a phase longer than the total and the phases the SDK cannot see', async () => {
    const longer = await bench('no-headers', ['--first-token-timeout', '30s', '--timeout', '10s']);
    expect(longer.code).toBe(2);
    expect(longer.stderr).toMatch(/"--first-token-timeout".*longer than the total --timeout/);
    const sdk = await bench('no-headers', ['--client', 'sdk', '--headers-timeout', '1s']);
    expect(sdk.code).toBe(2);
    expect(sdk.stderr).toMatch(/"--headers-timeout".*SDK/);
  });

  it('takes only http(s) endpoints, as lab:verify does', async () => {
    const result = await runCli(['bench', '--endpoint', 'ftp://127.0.0.1/x', '--requests', '1'], process.cwd(), {
      ...process.env,
      AZURE_OPENAI_API_KEY: KEY,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/"--endpoint": "ftp:\/\/127\.0\.0\.1\/x" is not an http\(s\) URL/);
  });
});
