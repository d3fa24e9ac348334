/**
 * One side of the harness fidelity benchmark, in its own process (run with --expose-gc):
 * opens `streams` concurrent stamped streams against the mock, `rounds` times, and reports
 * each stream's TTFT error (recorded first-token time minus the first content frame's
 * emission stamp) and the memory held per in-flight stream.
 *
 * client "harness": this project's timed client.
 * client "naive": the openai SDK's `for await` loop timed with performance.now(), the way
 * most scripts do it. The SDK hides SSE comments, so a pass-through fetch wrapper reads the
 * stamps off the bytes (the k-th stamped frame is the k-th chunk the SDK yields).
 * client "bare": node:http counting bytes, no parsing: the memory floor of an open stream.
 *
 * Streams start spread over RAMP_MS with the mock's usual jitter, as concurrent users do;
 * starting them all in the same millisecond makes every stream emit in lockstep and
 * measures one 2,000-frame burst instead.
 */
import http from 'node:http';
import OpenAI from 'openai';
import { createLoadAgent, createRequester } from '../../src/client/requester.ts';
import { HarnessMonitor } from '../../src/load/harness-monitor.ts';
import { parseStampComment } from '../../src/protocol/index.ts';

interface Config {
  url: string;
  client: 'harness' | 'naive' | 'bare';
  streams: number;
  rounds: number;
  /** Answer length: short when only TTFT matters, long enough to hold streams open for the memory sample. */
  tokens: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const HEADERS = {
  'x-mock-stamp': '1',
  'x-mock-ttft-ms': '300',
  'x-mock-itl-ms': '50',
  'x-mock-jitter-ms': '4',
  'x-mock-output-tokens': String(config.tokens),
};
const RAMP_MS = 1000;
/** Starts `count` tasks spread evenly over RAMP_MS (all at once for a single stream). */
function spread<T>(count: number, task: () => Promise<T>): Promise<T[]> {
  const step = count > 1 ? RAMP_MS / count : 0;
  return Promise.all(
    Array.from(
      { length: count },
      (_, i) => new Promise<T>((resolve) => setTimeout(() => void task().then(resolve), i * step)),
    ),
  );
}
const MESSAGES = [{ role: 'user', content: 'Measure me.' }];
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const offsetNs = process.hrtime.bigint() - BigInt(Math.round(performance.now() * 1e6));
const perfToNs = (ms: number): bigint => offsetNs + BigInt(Math.round(ms * 1e6));

/**
 * One keep-alive agent for the process, as the bare client has: every round after the warm-up
 * reuses pooled sockets, so the memory sample is the streams' own state on both sides. (A new
 * agent per round measured new sockets minus old ones the mock had closed meanwhile.)
 */
const harnessAgent = createLoadAgent();
async function harnessRound(): Promise<number[]> {
  const requester = await createRequester(
    {
      api: 'chat',
      stream: true,
      maxTokens: undefined,
      messages: MESSAGES,
      target: {
        label: 'direct',
        baseUrl: config.url,
        apiStyle: 'azure',
        deployment: 'gpt-4o-mini',
        apiVersion: '2024-10-21',
        auth: { kind: 'none' },
      },
    },
    { headers: { ...HEADERS, 'api-key': 'k' }, agent: harnessAgent },
  );
  const timelines = await spread(config.streams, () => requester(process.hrtime.bigint()));
  if (measuring)
    for (const tl of timelines)
      monitor.markSample(tl.intendedNs, tl.intendedNs + BigInt(Math.round((tl.endMs ?? 0) * 1e6)));
  return timelines
    .filter((tl) => tl.outcome === 'ok' && tl.firstContentEmitMs !== undefined)
    .map((tl) => tl.firstContentMs! - tl.firstContentEmitMs!);
}

/** A fetch that passes bytes through untouched while noting each frame's stamp. */
function stampReadingFetch(stamps: bigint[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    let carry = '';
    const decoder = new TextDecoder();
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const text = carry + decoder.decode(chunk, { stream: true });
        const lines = text.split('\n');
        carry = lines.pop() ?? '';
        for (const line of lines) {
          if (line.startsWith(':')) {
            const stamp = parseStampComment(line.slice(1));
            if (stamp) stamps.push(stamp.emitNs);
          }
        }
        controller.enqueue(chunk);
      },
    });
    return new Response(response.body!.pipeThrough(tap), { status: response.status, headers: response.headers });
  };
}

async function naiveOne(
  client: OpenAI,
  stamps: bigint[],
  fetchWith: (s: bigint[]) => typeof fetch,
): Promise<number | undefined> {
  void fetchWith;
  const stream = await client.chat.completions.create(
    { model: 'gpt-4o-mini', messages: MESSAGES as never, stream: true },
    { headers: HEADERS },
  );
  let k = 0;
  let errorMs: number | undefined;
  for await (const chunk of stream) {
    const now = performance.now();
    if (errorMs === undefined && (chunk.choices[0]?.delta?.content ?? '') !== '') {
      const emitNs = stamps[k];
      if (emitNs !== undefined) errorMs = Number(perfToNs(now) - emitNs) / 1e6;
    }
    k++;
  }
  return errorMs;
}

async function naiveRound(): Promise<number[]> {
  const results = await spread(config.streams, () => {
    const stamps: bigint[] = [];
    const client = new OpenAI({
      baseURL: `${config.url}/openai/deployments/gpt-4o-mini`,
      apiKey: 'k',
      maxRetries: 0,
      defaultQuery: { 'api-version': '2024-10-21' },
      defaultHeaders: { 'api-key': 'k' },
      fetch: stampReadingFetch(stamps),
    });
    return naiveOne(client, stamps, stampReadingFetch);
  });
  return results.filter((r): r is number => r !== undefined);
}

const bareAgent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
/**
 * No timing, no parsing: an open HTTP stream and a byte counter, the floor any client pays.
 * Its headers go as a list, as the harness's do: node:http keeps each header of an object as
 * a [name, value] pair for the request's life, about 0.6 KB per stream that no client needs.
 */
async function bareRound(): Promise<number[]> {
  const body = JSON.stringify({ messages: MESSAGES, stream: true });
  const head = Object.entries({
    host: new URL(config.url).host,
    ...HEADERS,
    'api-key': 'k',
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  }).flat();
  await spread(
    config.streams,
    () =>
      new Promise<number>((resolve) => {
        const req = http.request(
          `${config.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`,
          { method: 'POST', agent: bareAgent, headers: head },
          (res) => {
            let bytes = 0;
            res.on('data', (chunk: Buffer) => (bytes += chunk.length));
            res.on('end', () => resolve(bytes));
          },
        );
        req.end(body);
      }),
  );
  return [];
}

/**
 * The bench's self-watch on this process, as `npm run bench` runs it: the table shows its
 * verdict beside the TTFT error it is meant to foresee. Paused around the benchmark's own
 * forced GC (a bench run has none).
 */
const monitor = new HarnessMonitor();
/** False during the warm-up round, whose requests the self-watch does not count. */
let measuring = false;
const errors: number[] = [];
/** Per round: JS heap and external (ArrayBuffer) bytes per in-flight stream, each after GC. */
const samples: Array<{ heap: number; external: number }> = [];
const runRound = (): Promise<number[]> =>
  config.client === 'harness' ? harnessRound() : config.client === 'naive' ? naiveRound() : bareRound();
// A warm-up round first (JIT, connection pool), excluded from the results.
await runRound();
measuring = true;
monitor.start();
for (let round = 0; round < config.rounds; round++) {
  monitor.stop();
  gc();
  monitor.start();
  const before = process.memoryUsage();
  // Sample memory while every stream is in flight: after the ramp and TTFT, before any ends
  // (~5 s). A single short stream is a TTFT measurement only: no sample.
  const sample =
    config.streams === 1
      ? Promise.resolve({ heap: 0, external: 0 })
      : new Promise<{ heap: number; external: number }>((resolve) =>
          setTimeout(() => {
            monitor.stop();
            gc();
            monitor.start();
            const during = process.memoryUsage();
            resolve({
              heap: (during.heapUsed - before.heapUsed) / config.streams,
              external: (during.external - before.external) / config.streams,
            });
          }, RAMP_MS + 1500),
        );
  const roundErrors = await runRound();
  errors.push(...roundErrors);
  samples.push(await sample);
}
// The median round. The heap figure is steady from round to round (±0.1 KB); the external
// one is not (socket read buffers in flight at the sampling instant: -2 to +27 KB per stream,
// for the bare client too), so the two are reported apart.
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const perStreamBytes = median(samples.map((s) => s.heap));
const externalBytes = median(samples.map((s) => s.external));
monitor.stop();
process.stdout.write(
  `${JSON.stringify({ errors, perStreamBytes, externalBytes, samples, harness: monitor.health() })}\n`,
);
process.exit(0);
