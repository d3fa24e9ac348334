import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TIMEOUTS, runHttpRequest } from '../../src/client/http-request.ts';

// A connect that never completes: a listener (python3, since Node always accepts) with a
// backlog of one that never calls accept. Once one connection fills its queue the kernel
// drops further SYNs, so the next connect hangs, as behind a dead host or a full gateway.
const LISTENER =
  'import socket,time\ns=socket.socket();s.bind(("127.0.0.1",0));s.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(60)';
let listener: ChildProcess;
let filler: net.Socket;
let port: number;

beforeAll(async () => {
  listener = spawn('python3', ['-c', LISTENER], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: listener.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  port = Number(line);
  filler = net.connect(port, '127.0.0.1');
  await once(filler, 'connect');
});

afterAll(() => {
  filler.destroy();
  listener.kill();
});

describe('connect timeout', () => {
  it('a connection that never completes -> timeout_connect', async () => {
    const tl = await runHttpRequest(
      {
        api: 'chat',
        isStream: true,
        url: `http://127.0.0.1:${port}/openai/v1/chat/completions`,
        headers: {},
        body: '{}',
      },
      { intendedNs: process.hrtime.bigint(), timeouts: { ...DEFAULT_TIMEOUTS, connectMs: 200 } },
    );
    expect(tl.outcome).toBe('timeout_connect');
    expect(tl.endMs!).toBeGreaterThanOrEqual(199);
    expect(tl.endMs!).toBeLessThan(1000);
  });
});
