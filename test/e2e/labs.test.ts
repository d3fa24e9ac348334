import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, startCli } from '../helpers/cli.ts';
import { findingWordProblems } from '../helpers/finding-words.ts';

const ENV = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('LAB_') && !name.startsWith('AZURE_SEARCH')),
);

interface LabJson {
  lab: string;
  target: string;
  finding: string;
  facts: Record<string, number | string | boolean | null>;
}

/** Runs `npm run lab -- <name>` through the real CLI in a fresh directory; checks it ran in time and left no lab behind. */
async function runLab(name: string): Promise<LabJson & { stdout: string }> {
  const dir = mkdtempSync(join(tmpdir(), `lab-${name}-`));
  const result = await runCli(['lab', name, '--out', 'out'], dir, ENV);
  expect(result.code, result.stderr).toBe(0);
  process.stdout.write(`npm run lab -- ${name}: ${(result.durationMs / 1000).toFixed(1)} s\n`);
  expect(result.durationMs).toBeLessThan(60_000);
  // The lab's own state and processes are gone.
  expect(existsSync(join(dir, '.lab')) ? readdirSync(join(dir, '.lab')) : []).toEqual([]);
  const json = JSON.parse(readFileSync(join(dir, 'out/lab.json'), 'utf8')) as LabJson;
  expect(result.stdout.startsWith(json.finding)).toBe(true);
  // Every lab's finding names what failed from its evidence and follows the interval's words.
  expect(findingWordProblems(json.finding), json.finding).toEqual([]);
  return { ...json, stdout: result.stdout };
}

// Each test checks what the lab's README says you should see.
// Each lab runs in its own folder with its own ports and state, so they run side by side (e2e's maxConcurrency).
describe.concurrent('guided labs, locally, through the real CLI', { timeout: 90_000 }, () => {
  it('--list names every lab; an unknown lab or a flag the lab does not take exits 2, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'labs-'));
    const list = await runCli(['lab', '--list'], dir, ENV);
    expect(list.code).toBe(0);
    for (const name of [
      'buffering-pitfalls',
      'chat-with-data',
      'edge-buffering',
      'failover',
      'response-streaming',
      'responses-api',
      'stream-ids',
      'token-limits',
    ])
      expect(list.stdout).toContain(name);
    const unknown = await runCli(['lab', 'nope'], dir, ENV);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/"LAB".*"nope" is not allowed.*buffering-pitfalls, chat-with-data/);
    const load = await runCli(['lab', 'chat-with-data', '--requests', '3'], dir, ENV);
    expect(load.code).toBe(2);
    expect(load.stderr).toMatch(/"--requests": a guided lab sets its own/);
    const azureWhole = await runCli(['lab', '--target', 'azure'], dir, ENV);
    expect(azureWhole.code).toBe(2);
    expect(azureWhole.stderr).toMatch(/"--target": the whole-lab run is local only/);
  });

  it('response-streaming: TTFT stays flat while the full answer grows; streaming wins by an order of magnitude; the gateway adds little', async () => {
    const { facts } = await runLab('response-streaming');
    expect(Math.abs(facts['ttftGrowthMs'] as number)).toBeLessThan(100);
    expect(facts['nonStreamE2eGrowthMs'] as number).toBeGreaterThan(2000);
    expect(facts['soonerFactorAtLongest'] as number).toBeGreaterThan(8);
    // "a few ms": well under a quarter of the ~250 ms first-token time even on a loaded host.
    expect(facts['gatewayTtftOverheadMs'] as number).toBeLessThan(60);
    // A gateway cannot make its upstream faster: the finding never reports a significant saving.
    expect(facts['gatewayTtftVerdict']).not.toBe('suspect-negative');
  });

  it('buffering-pitfalls: only the streaming policy passes; body logging holds the whole answer', async () => {
    const { facts, finding } = await runLab('buffering-pitfalls');
    expect(facts['streaming.failed']).toBe('none');
    expect(String(facts['buffered.failed']).split(',')).toEqual(
      expect.arrayContaining(['incremental-delivery', 'lint-forward-request']),
    );
    expect(String(facts['body-logging.failed']).split(',')).toEqual(
      expect.arrayContaining(['incremental-delivery', 'lint-response-body', 'lint-body-logging']),
    );
    expect(facts['body-logging.gatewayTtftShareOfE2e'] as number).toBeGreaterThan(0.95);
    expect(facts['body-logging.gatewayTtftCostMs'] as number).toBeGreaterThan(1000);
    expect(facts['buffered.gatewayTtftCostMs'] as number).toBeGreaterThan(
      facts['streaming.gatewayTtftCostMs'] as number,
    );
    expect(finding).toMatch(/^Streaming .*compliance (pass|warn)/);
    // The failing checks are named with what failed, not with what passing would have meant.
    expect(finding).toMatch(/^Buffered .*failing incremental-delivery \(chat: .*(held back|released at the end)/m);
    expect(finding).toMatch(/^Body-logging .*lint-body-logging \(.*body-logging\.xml:\d+/m);
  });

  it('edge-buffering: behind a buffering edge, incremental delivery first fails at the edge while the gateway inside it passes', async () => {
    const { facts, finding } = await runLab('edge-buffering');
    expect(facts['streaming-safe.verdict']).toBe('pass');
    expect(facts['streaming-safe.firstFailingHop']).toBe('none');
    expect(facts['buffered.verdict']).toBe('fail');
    expect(facts['buffered.firstFailingHop']).toBe('incremental-delivery@edge');
    // Each hop has its paired comparison against the path just inside it.
    for (const key of [
      'streaming-safe.gatewayTtftVerdict',
      'streaming-safe.edgeTtftVerdict',
      'buffered.gatewayTtftVerdict',
      'buffered.edgeTtftVerdict',
    ])
      expect(['adds', 'no-measurable-difference'], key).toContain(facts[key]);
    expect(finding).toMatch(
      /^Buffered edge .*compliance fail, incremental-delivery first fails at the edge \(gateway inside it passes\); the gateway hop.*; the edge hop/m,
    );
    // Per-frame delivery (stamped frames): the buffering edge delays every frame, the streaming one next to nothing.
    expect(facts['buffered.edgeDeliveryVerdict']).toBe('adds');
    expect(facts['buffered.edgeDeliveryShiftMs'] as number).toBeGreaterThan(5);
    expect(facts['streaming-safe.edgeDeliveryShiftMs'] as number).toBeLessThan(3);
    expect(finding).toMatch(
      /^So the edge, not APIM, holds the stream back: behind the buffered edge it adds [\d.]+ ms to each frame's delivery \(95% CI/m,
    );
  });

  it('chat-with-data: citations and intent first, the conversation carried, a capped reply reported as truncated', async () => {
    const { facts } = await runLab('chat-with-data');
    expect(facts['contextBeforeContentOnEveryTurn']).toBe(true);
    expect(facts['topCitations']).toBe('Streaming through API Management | Token limits | Diagnostics and logging');
    expect(facts['messagesSent']).toBe('2,4,6');
    expect(facts['truncatedAt8']).toBe(3);
    expect(facts['okAt8']).toBe(3);
    expect(facts['truncatedAt256']).toBe(0);
  });

  it('responses-api: typed events on both URL shapes; the bridge costs next to nothing in TTFT', async () => {
    const { facts } = await runLab('responses-api');
    expect(String(facts['typedEvents']).split(',')).toEqual(
      expect.arrayContaining(['response.created', 'response.output_text.delta', 'response.completed']),
    );
    for (const key of ['datedResponsesTtftMs', 'v1ResponsesTtftMs', 'datedChatTtftMs', 'bridgeTtftMs'])
      expect(facts[key] as number).toBeGreaterThan(200);
    expect(Math.abs(facts['bridgeTtftCostMs'] as number)).toBeLessThan(50);
  });

  it('stream-ids: every stream carries its ids and every one is found in the gateway log', async () => {
    const { facts } = await runLab('stream-ids');
    expect(facts['requests']).toBe(12);
    expect(facts['requestsWithAllIds']).toBe(12);
    expect(facts['everyChunkHasResponseId']).toBe(true);
    expect(facts['joinedToGatewayLog']).toBe(12);
    expect(facts['slowestFoundInLog']).toBe(true);
  });

  it('token-limits: 429s start once the window fills, retry-after says when, honouring it trades errors for latency', async () => {
    const { facts } = await runLab('token-limits');
    expect(facts['throttled'] as number).toBeGreaterThan(0);
    expect(facts['firstThrottledRequest'] as number).toBeGreaterThan(5);
    expect(facts['retryAfterMinMs'] as number).toBeGreaterThanOrEqual(1000);
    expect(facts['retryAfterMaxMs'] as number).toBeLessThanOrEqual(6000);
    // Retries compete with new arrivals for the window: nearly all are answered (the client gives up after 5 attempts).
    expect(facts['honouredOk'] as number).toBeGreaterThanOrEqual(0.9 * (facts['honouredRequests'] as number));
    expect(facts['honouredOk'] as number).toBeGreaterThan(facts['noRetryOk'] as number);
    expect(facts['retried'] as number).toBeGreaterThan(0);
    expect(facts['ttftP50HonouredMs'] as number).toBeGreaterThan(facts['ttftP50NoRetryMs'] as number);
  });

  it('failover: steady on the primary, a 429 spills to the secondary at a measured cost, the breaker holds the primary out for its Retry-After, a cut stream is never retried, a tripped pool fails fast', async () => {
    const { facts, finding } = await runLab('failover');
    // 1. steady state
    expect(facts['steadyOnPrimary']).toBe(facts['steadyRequests']);
    // 2. spill-over: every stream retried onto the secondary and answered; the cost has an interval, and it is not a saving
    expect(facts['spills']).toBe(facts['spillRounds']);
    expect(facts['spillCostLowMs']).not.toBeNull();
    expect(facts['spillCostHighMs'] as number).toBeGreaterThan(0);
    expect(facts['spillTtftP50Ms'] as number).toBeGreaterThan(300);
    // 3. the breaker: the tripping request retried, the rest of the trip straight to the secondary, then back after about 3 s
    expect(facts['tripRoute']).toBe('ptu:429 payg:200');
    expect(facts['duringTrip'] as number).toBeGreaterThanOrEqual(8);
    expect(facts['duringTripOnSecondary']).toBe(facts['duringTrip']);
    expect(facts['duringTripRetried']).toBe(0);
    expect(facts['returnedAfterMs'] as number).toBeGreaterThanOrEqual(3000);
    expect(facts['returnedAfterMs'] as number).toBeLessThan(3600);
    expect(facts['afterTripOnPrimary']).toBe(facts['afterTrip']);
    // 4. a stream cut after its headers: counted as an outcome, never retried
    expect(facts['droppedCut']).toBe(facts['dropped']);
    expect(facts['droppedOutcomes']).toBe('protocol_truncated');
    expect(facts['droppedRetried']).toBe(0);
    // 5. every backend tripped: 503 at once, no backend reached
    expect(facts['allTrippedRoute']).toBe('ptu:429 payg:429 -:503');
    expect(facts['failFast503']).toBe(8);
    expect(facts['failFastReachedBackend']).toBe(0);
    expect(facts['failFastP50Ms'] as number).toBeLessThan(50);
    expect(finding).toMatch(/^Steady: 16 of 16 streams went to the ptu backend/);
  });

  it('Ctrl-C mid-lab: exits 130, keeps what was measured, leaves no lab behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lab-interrupt-'));
    const { child, done } = startCli(['lab', 'response-streaming', '--out', 'out'], dir, ENV);
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    for (let i = 0; i < 300 && !stderr.includes('bench bench:'); i++) await sleep(50);
    await sleep(3000);
    child.kill('SIGINT');
    const result = await done;
    expect(result.code, result.stderr).toBe(130);
    expect(result.stderr).toMatch(/interrupted/);
    expect(existsSync(join(dir, '.lab')) ? readdirSync(join(dir, '.lab')) : []).toEqual([]);
    // The bench wrote what it measured before stopping.
    // What it measured is kept: whole samples, not an empty file (split('\n') of '' is one element).
    expect(
      readFileSync(join(dir, 'out/bench/samples.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l)).length,
    ).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'out/bench/summary.json'))).toBe(true);
  });
});
