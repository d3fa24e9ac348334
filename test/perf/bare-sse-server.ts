/**
 * Baseline for the mock capacity benchmark: the least a Node SSE emitter of chat frames can
 * do. Plain node:http; each frame is a precomputed chat-chunk prefix and suffix around
 * JSON.stringify(token) (a real emitter must at least vary the token); per-stream
 * setTimeout pacing with the same rule as the mock's emitter (a frame due within 0.5 ms
 * goes now); frames due together leave in one write (at most 48), as the mock's do; lateness
 * recorded the same way. No msw, no web streams, no object per frame.
 */
import { createServer } from 'node:http';
import hdr from 'hdr-histogram-js';

const SAMPLE = `data: ${JSON.stringify({
  choices: [
    {
      content_filter_results: {
        hate: { filtered: false, severity: 'safe' },
        protected_material_code: { detected: false, filtered: false },
        protected_material_text: { detected: false, filtered: false },
        self_harm: { filtered: false, severity: 'safe' },
        sexual: { filtered: false, severity: 'safe' },
        violence: { filtered: false, severity: 'safe' },
      },
      delta: { content: '\u0000' },
      finish_reason: null,
      index: 0,
      logprobs: null,
    },
  ],
  created: 1795295513,
  id: 'chatcmpl-e6IhegBLcRaymoEiM5OxVhKXmA1oU',
  model: 'gpt-4o-mini-2024-07-18',
  obfuscation: 'J4iPVQVb',
  object: 'chat.completion.chunk',
  service_tier: 'default',
  system_fingerprint: null,
})}\n\n`;
const [PREFIX = '', SUFFIX = ''] = SAMPLE.split('"\\u0000"');
const TOKENS = [' Streaming', ' keeps', ' the', ' first', ' token', ' close', ' to', ' the', ' user', '.'];
const frame = (i: number): string => PREFIX + JSON.stringify(TOKENS[i % TOKENS.length]) + SUFFIX;
const DONE = 'data: [DONE]\n\n';

/**
 * `--resident-mb N`: N MB of memory written once and never read again, outside the JS heap
 * (Buffers: no GC work). A control, not a feature: on this machine's VM the kernel samples
 * page accesses every 500 ms (DAMON), and a process stalls in proportion to its resident
 * memory, however idle. The mock holds about 100 MB more than this server (the o200k
 * tokenizer's tables alone are about 66 MB), so its paced tail is compared with this server
 * holding as much.
 */
const residentFlag = process.argv.indexOf('--resident-mb');
const RESIDENT: Buffer[] = [];
for (let i = 0; i < (residentFlag === -1 ? 0 : Number(process.argv[residentFlag + 1])); i++)
  RESIDENT.push(Buffer.alloc(1 << 20, 1));

const lateness = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 60_000_000,
  numberOfSignificantValueDigits: 3,
});
let framesEmitted = 0;

const server = createServer((req, res) => {
  if (req.method === 'POST' && req.url?.startsWith('/_mock/reset')) {
    lateness.reset();
    framesEmitted = 0;
    res.writeHead(204).end();
    return;
  }
  if (req.method === 'GET' && req.url?.startsWith('/_mock/stats')) {
    const ms = (us: number) => Math.round(us) / 1000;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        framesEmitted,
        emissionLatenessMs: {
          count: lateness.totalCount,
          p50: ms(lateness.getValueAtPercentile(50)),
          p99: ms(lateness.getValueAtPercentile(99)),
          p999: ms(lateness.getValueAtPercentile(99.9)),
          max: ms(lateness.maxValue),
        },
      }),
    );
    return;
  }
  req.resume();
  req.on('end', () => {
    const ttftMs = Number(req.headers['x-mock-ttft-ms'] ?? 0);
    const itlMs = Number(req.headers['x-mock-itl-ms'] ?? 0);
    const tokens = Number(req.headers['x-mock-output-tokens'] ?? 100);
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.flushHeaders();
    const startNs = process.hrtime.bigint();
    let i = 0;
    let timer: NodeJS.Timeout | undefined;
    res.on('close', () => clearTimeout(timer));
    const pump = (): void => {
      let batch = '';
      let batched = 0;
      while (i < tokens) {
        const dueNs = startNs + BigInt(Math.round((ttftMs + i * itlMs) * 1e6));
        const waitMs = Number(dueNs - process.hrtime.bigint()) / 1e6;
        if (waitMs > 0.5) {
          if (batch !== '') res.write(batch);
          timer = setTimeout(pump, Math.floor(waitMs));
          return;
        }
        batch += frame(i);
        framesEmitted++;
        lateness.recordValue(Math.max(1, Math.round(Number(process.hrtime.bigint() - dueNs) / 1000)));
        i++;
        if (++batched === 48) {
          res.write(batch);
          batch = '';
          batched = 0;
        }
      }
      res.end(batch + DONE);
    };
    pump();
  });
});
server.maxConnections = 20_000;
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.stdout.write(`${JSON.stringify({ event: 'listening', url: `http://127.0.0.1:${address.port}` })}\n`);
});
const stop = (): void => {
  server.close();
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
