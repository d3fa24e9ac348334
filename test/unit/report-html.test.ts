import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScenarioAggregate } from '../../src/bench/aggregate.ts';
import { cellName } from '../../src/bench/matrix.ts';
import { buildSummary, type RunMetadata } from '../../src/bench/summary.ts';
import { createTimeline } from '../../src/client/timeline.ts';
import type { ComplianceReport } from '../../src/compliance/types.ts';
import { toSample } from '../../src/metrics/sample.ts';
import { collectReportData } from '../../src/report/html/report-data.ts';
import { renderReportPage } from '../../src/report/html/page.ts';
import { writeSummaryFiles } from '../../src/report/write-summary.ts';
import type { Target } from '../../src/endpoint/types.ts';

const RUN: RunMetadata = {
  tool: { name: 'apim-streaming-lab', version: 'test' },
  startedAt: '2026-11-22T00:00:00.000Z',
  endedAt: '2026-11-22T00:01:00.000Z',
  interrupted: false,
  node: 'v24',
  host: { platform: 'linux', cpus: 2, cpuModel: 'cpu' },
  targets: [],
  load: { model: 'closed' },
  client: 'http',
  seed: 1,
  retry429: 'none',
  warmup: 0,
};

const target = (label: string): Target => ({
  label,
  baseUrl: 'http://127.0.0.1:1',
  apiStyle: 'azure',
  deployment: 'gpt-4o-mini',
  apiVersion: '2024-10-21',
  auth: { kind: 'api-key', envName: 'K' },
});

/**
 * A run through the real pipeline (timeline -> sample -> aggregate -> summary.json and
 * samples.jsonl). Request i of a streamed scenario gets its first token at 100 + i ms and
 * one token every 10 ms; `failing` requests end as http_500 with a hostile message.
 */
function writeRun(streams: readonly boolean[], requests = 9, failing = 1): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-unit-'));
  const lines: string[] = [];
  const aggregates: ScenarioAggregate[] = [];
  for (const path of ['direct', 'gateway']) {
    for (const stream of streams) {
      const cell = {
        name: cellName('chat', stream, 16, path),
        api: 'chat' as const,
        stream,
        maxTokens: 16,
        target: target(path),
      };
      const aggregate = new ScenarioAggregate(cell);
      for (let i = 0; i < requests + failing; i++) {
        const tl = createTimeline('chat', stream, 0n);
        if (i >= requests) {
          tl.outcome = 'http_500';
          tl.status = 500;
          tl.errorMessage = '<img src=x onerror=alert(1)>';
        } else {
          const first = 100 + i;
          if (stream) for (let k = 0; k < 16; k++) tl.contentArrivalsMs.push(first + 10 * k);
          tl.firstContentMs = stream ? first : undefined;
          tl.endMs = first + 160;
          tl.usage = { completionTokens: 16 };
        }
        const sample = toSample(tl, {
          scenario: cell.name,
          path,
          maxTokens: 16,
          index: i,
          isWarmup: false,
          countTokens: () => 16,
        });
        lines.push(JSON.stringify(sample));
        aggregate.add(sample);
      }
      aggregates.push(aggregate);
    }
  }
  writeFileSync(join(dir, 'samples.jsonl'), `${lines.join('\n')}\n`);
  writeSummaryFiles(dir, buildSummary(aggregates, RUN, 1));
  return dir;
}

const chartIds = (html: string): string[] => [...html.matchAll(/data-chart="([^"]+)"/g)].map((m) => m[1]!);

describe('report.html from a run directory', () => {
  it('draws every section from a streamed and non-streamed run, with the median and slowest requests traced', async () => {
    const dir = writeRun([true, false]);
    const data = await collectReportData(dir);
    expect(chartIds(renderReportPage(data))).toEqual([
      'ttft-vs-completion-chat',
      'cdf-ttft-0',
      'cdf-e2e-0',
      'cdf-e2e-1',
      'token-timeline',
      'itl-distribution',
      'outcomes',
    ]);
    // TTFTs are 100..108 ms, E2E 260..268: the median request is #4, the slowest first token #8.
    expect(data.traces.map((t) => [t.path, t.why, t.index])).toEqual([
      ['direct', 'median E2E', 4],
      ['direct', 'slowest first token', 8],
      ['gateway', 'median E2E', 4],
      ['gateway', 'slowest first token', 8],
    ]);
    expect(data.traces[0]!.arrivalsMs).toHaveLength(16);
    // Every gap is 10 ms: all 9 × 15 gaps of a path land in the bin [10, 11.2) ms.
    const shares = data.itlByPath.get('direct')!.shares();
    expect(data.itlByPath.get('direct')!.total).toBe(9 * 15);
    expect(shares.filter(([, share]) => share > 0)).toEqual([[expect.closeTo(10.59, 2), 100]]);
    expect(data.values.get('chat/stream/max-16/direct')!.ttftMs).toHaveLength(9);
  });

  it('counts failures in the outcomes chart, escapes text from the wire, and shows compliance evidence', async () => {
    const dir = writeRun([true]);
    const compliance: ComplianceReport = {
      schemaVersion: 1,
      verdict: 'fail',
      startedAt: RUN.startedAt,
      endedAt: RUN.endedAt,
      durationMs: 1200,
      gateway: 'http://127.0.0.1:2',
      direct: undefined,
      groundTruth: true,
      thresholds: { deliveryP99Ms: 50, ttftOverheadMs: 50, idleGapMs: 2000, concurrentStreams: 10 },
      checks: [
        {
          id: 'headers-passthrough',
          title: 'Headers',
          status: 'fail',
          evidence: 'content-type was <script>alert(1)</script>',
          details: { seen: '</pre><script>' },
        },
      ],
    };
    writeFileSync(join(dir, 'compliance.json'), JSON.stringify(compliance));
    const html = renderReportPage(await collectReportData(dir));
    expect(html).not.toMatch(/<script|<img/);
    expect(html).toContain('content-type was &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('<span class="pill fail">fail</span>');
    expect(html).toContain('Outcomes: 2 failed requests');
    expect(html).toMatch(/<rect class="data bar c5"[^>]*><title>chat\/stream\/max-16\/gateway: 1 http_500<\/title>/);
  });

  it('a run without streamed requests has no timeline and says why; a torn last line is counted, not fatal', async () => {
    const dir = writeRun([false], 6, 0);
    appendFileSync(join(dir, 'samples.jsonl'), '{"scenario":"chat/no-str');
    const data = await collectReportData(dir);
    expect(data.unreadableLines).toBe(1);
    const html = renderReportPage(data);
    expect(chartIds(html)).toEqual(['ttft-vs-completion-chat', 'cdf-e2e-0', 'outcomes']);
    expect(html).toContain('No per-token arrivals in samples.jsonl');
    expect(html).toContain('No streamed scenario.');
    expect(html).toContain('1 unreadable line(s) skipped');
    expect(html).toContain('The upstream did not stamp its frames');
  });

  it('a directory that is not a run is named in the error', async () => {
    await expect(collectReportData(mkdtempSync(join(tmpdir(), 'empty-')))).rejects.toThrow(
      /Failed to read run ".*empty-.*": it has no summary\.json/,
    );
  });
});
