import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayProxy, type DelayProxy } from '../../stand-ins/delay-proxy/delay-proxy.ts';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import type { BenchSummary, PathComparison } from '../../src/bench/summary.ts';
import { runCli } from '../helpers/cli.ts';
import { findingWordProblems } from '../helpers/finding-words.ts';
import { startFastMock, TEST_KEY } from '../helpers/mock.ts';

// Hop by hop (issue 32): a chain of three paths from the model outward, run interleaved in one
// load. The "gateway" is the mock itself (a hop that adds exactly nothing); the "edge" is a
// proxy of known cost, 20 ms on every chunk, in front of it. The bench must find the 20 ms at
// the edge's hop, nothing real at the gateway's, and hops that add up to the end-to-end figure.
let mock: MockServer;
let edge: DelayProxy;
let dir: string;
beforeAll(async () => {
  mock = await startFastMock({ apiKey: TEST_KEY, timing: { ttftMs: 30, itlMs: 2, jitterMs: 0, outputTokens: 8 } });
  edge = await startDelayProxy({ upstreamUrl: mock.url, delayMs: 20 });
  dir = mkdtempSync(join(tmpdir(), 'bench-chain-'));
});
afterAll(async () => {
  await edge.close();
  await mock.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('a chain of paths: direct → gateway → edge', () => {
  it('finds the 20 ms at the edge hop, nothing real at the gateway hop, and hops that add up to the end-to-end figure', {
    timeout: 60_000,
  }, async () => {
    const auth = { kind: 'api-key', envName: 'CHAIN_KEY' };
    const state = join(dir, 'state.json');
    writeFileSync(
      state,
      JSON.stringify({
        schemaVersion: 1,
        target: 'local',
        deployment: 'gpt-4o-mini',
        apiVersion: '2024-10-21',
        paths: {
          direct: { baseUrl: mock.url, apiStyle: 'azure', auth },
          gateway: { baseUrl: mock.url, apiStyle: 'azure', auth },
          edge: { baseUrl: edge.url, apiStyle: 'azure', auth },
        },
      }),
    );
    const out = join(dir, 'run');
    const result = await runCli(
      [
        'bench',
        '--state',
        state,
        '--api',
        'chat',
        '--stream',
        'on',
        '--max-tokens',
        '8',
        '--requests',
        '24',
        '--concurrency',
        '3',
        '--warmup',
        '1',
        '--stamp',
        '--out',
        out,
      ],
      process.cwd(),
      { ...process.env, CHAIN_KEY: TEST_KEY },
    );
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as BenchSummary;
    const ttft = summary.comparisons.filter(
      (c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs',
    );
    const at = (path: string, baseline: string) => ttft.find((c) => c.path === path && c.baseline === baseline)!;
    expect(ttft.map((c) => [c.hop, c.baseline, c.path])).toEqual([
      ['hop', 'direct', 'gateway'],
      ['hop', 'gateway', 'edge'],
      ['end-to-end', 'direct', 'edge'],
    ]);
    const [gatewayHop, edgeHop, endToEnd] = [at('gateway', 'direct'), at('edge', 'gateway'), at('edge', 'direct')];
    // The edge's 20 ms, recovered at its hop (the proxy's own relay adds a little on top) and end to end.
    expect(edgeHop.verdict).toBe('adds');
    expect(edgeHop.medianDifferenceMs.estimate).toBeGreaterThanOrEqual(18);
    expect(edgeHop.medianDifferenceMs.estimate).toBeLessThan(30);
    expect(endToEnd.verdict).toBe('adds');
    // The gateway hop is the same upstream: whatever its interval says, it is a few ms around 0, never the 20.
    expect(Math.abs(gatewayHop.medianDifferenceMs.estimate)).toBeLessThan(4);
    expect(gatewayHop.medianDifferenceMs.high).toBeLessThan(10);
    // The hops add up to the end-to-end figure within their intervals.
    const half = (c: PathComparison) => (c.medianDifferenceMs.high - c.medianDifferenceMs.low) / 2;
    expect(
      Math.abs(
        endToEnd.medianDifferenceMs.estimate -
          (gatewayHop.medianDifferenceMs.estimate + edgeHop.medianDifferenceMs.estimate),
      ),
    ).toBeLessThanOrEqual(half(gatewayHop) + half(edgeHop) + half(endToEnd));
    // Every path ran in every launch position: the three were interleaved in one load.
    expect(ttft.every((c) => c.interleaved)).toBe(true);
    // Per-frame delivery (the mock stamps its frames): the edge holds every chunk 20 ms, so every frame arrives 20 ms later at its hop, and none later at the gateway's.
    const delivery = summary.comparisons.filter(
      (c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'deliveryMs',
    );
    expect(delivery.map((c) => [c.hop, c.baseline, c.path])).toEqual([
      ['hop', 'direct', 'gateway'],
      ['hop', 'gateway', 'edge'],
      ['end-to-end', 'direct', 'edge'],
    ]);
    expect(delivery[1]!.verdict).toBe('adds');
    expect(delivery[1]!.medianDifferenceMs.estimate).toBeGreaterThanOrEqual(18);
    expect(delivery[1]!.medianDifferenceMs.estimate).toBeLessThan(30);
    expect(Math.abs(delivery[0]!.medianDifferenceMs.estimate)).toBeLessThan(4);
    // The words: one line per hop and one end to end, each following its interval.
    const lines = result.stdout.split('\n').filter((l) => /time to first token over/.test(l));
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^chat stream max-8: edge adds [\d.]+ ms to time to first token over gateway \(95% CI/);
    expect(lines[2]).toMatch(/^chat stream max-8, end to end: edge adds [\d.]+ ms to time to first token over direct/);
    for (const line of lines) expect(findingWordProblems(line, { sentence: false })).toEqual([]);
    // report.html carries the chain, one row per hop and the end-to-end row.
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('The chain, hop by hop');
    expect(html).toMatch(
      /edge over gateway<\/td><td>\+\d+\.\d ms \(95% CI[^<]*<\/td><td>\+(1[89]|2\d)\.\d ms \(95% CI/,
    );
    expect(html).toMatch(/adds to each frame(&#39;|&#x27;|')s delivery/);
    expect(html).toContain('end to end: edge over direct');
  });
});
