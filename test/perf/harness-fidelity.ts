/**
 * Harness fidelity benchmark (npm run perf): how far the recorded time to first token is
 * from the truth (the mock's emission stamp on the same monotonic clock), at 1, 100 and
 * 1,000 concurrent streams, for this harness and for the naive SDK loop, side by side; and
 * the memory each in-flight stream holds. Targets: p99 error <= 1 ms at 1 stream, <= 5 ms
 * at 1,000; <= 16 KB per stream.
 */
import { once } from 'node:events';
import { firstJsonLine, startNode } from './child.ts';

const LEVELS = (process.env['PERF_FIDELITY_LEVELS'] ?? '1,100,1000').split(',').map(Number).filter((n) => n > 0);

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

export async function runHarnessFidelity(): Promise<string> {
  const mock = startNode('mock-server/cli.ts', ['--port', '0'], { nodeArgs: ['--max-semi-space-size=64'] });
  const { url } = (await firstJsonLine(mock)) as { url: string };
  const rows: string[] = [];
  const verdicts: string[] = [];
  try {
    for (const streams of LEVELS) {
      const rounds = streams === 1 ? 100 : streams <= 100 ? 3 : 1;
      const tokens = streams === 1 ? 5 : 80;
      for (const client of ['bare', 'harness', 'naive'] as const) {
        process.stderr.write(`harness fidelity: ${client}, ${streams} concurrent stream(s) x ${rounds} round(s)\n`);
        const worker = startNode('test/perf/fidelity-worker.ts', [JSON.stringify({ url, client, streams, rounds, tokens })], { nodeArgs: ['--expose-gc'] });
        const { errors, perStreamBytes } = (await firstJsonLine(worker, 600_000)) as { errors: number[]; perStreamBytes: number };
        await once(worker, 'exit');
        const fmt = (n: number): string => n.toFixed(2);
        const label = { bare: 'bare node:http (no timing)', harness: 'this harness', naive: 'naive SDK loop' }[client];
        const timing = errors.length === 0 ? '– | – | –' : `${fmt(quantile(errors, 0.5))} ms | ${fmt(quantile(errors, 0.99))} ms | ${fmt(Math.max(...errors))} ms`;
        rows.push(`| ${streams.toLocaleString('en-US')} | ${label} | ${errors.length || '–'} | ${timing} | ${streams === 1 ? '–' : `${(perStreamBytes / 1024).toFixed(1)} KB`} |`);
        if (client === 'harness') {
          const p99 = quantile(errors, 0.99);
          const limit = streams === 1 ? 1 : streams >= 1000 ? 5 : undefined;
          if (limit !== undefined) verdicts.push(`- TTFT error p99 at ${streams} stream(s): ${fmt(p99)} ms (target <= ${limit} ms): ${p99 <= limit ? 'met' : 'NOT met'}`);
          if (streams === Math.max(...LEVELS)) verdicts.push(`- memory per in-flight stream at ${streams}: ${(perStreamBytes / 1024).toFixed(1)} KB (target <= 16 KB): ${perStreamBytes <= 16 * 1024 ? 'met' : 'NOT met'}`);
        }
      }
    }
  } finally {
    mock.kill('SIGTERM');
    await once(mock, 'exit');
  }
  return [
    'TTFT error = recorded first-token time minus the mock\'s emission stamp of that frame (same monotonic clock; includes loopback delivery). Streams: TTFT 300 ms, 20 tokens/s (ITL 50 ms, jitter 4 ms), 80 tokens, started over 1 s; one warm-up round excluded; 1 stream = 100 sequential 5-token requests. Memory = heap + external after GC with every stream in flight, divided by the streams (not sampled for the single short stream).',
    '',
    '| concurrent streams | client | streams measured | TTFT error p50 | p99 | max | memory / in-flight stream |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...verdicts,
  ].join('\n');
}
