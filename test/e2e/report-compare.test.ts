import { mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabState } from '../../src/lab/state.ts';
import type { RunComparison } from '../../src/report/compare-runs.ts';
import { openBrowser } from '../helpers/browser.ts';
import { runCli } from '../helpers/cli.ts';

const ENV = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LAB_')));
const ARTIFACTS = join(process.cwd(), 'test-artifacts');
const BENCH = [
  'bench',
  '--api',
  'chat',
  '--stream',
  'both',
  '--max-tokens',
  '8,32',
  '--requests',
  '8',
  '--concurrency',
  '8',
  '--warmup',
  '1',
  '--stamp',
];

/** What the page shows, read in the browser: every chart's data marks, console errors, overflow. */
interface PageFacts {
  charts: Array<{ id: string; marks: number; drawn: number; labels: string[] }>;
  overflowPx: number;
  background: string;
  firstLineStroke: string;
  verdict: string | null;
  headline: string;
  metadata: string;
}

async function inspect(
  file: string,
  colorScheme: 'light' | 'dark',
  screenshot: string,
): Promise<PageFacts & { consoleErrors: string[]; requests: string[]; openMs: number }> {
  const browser = await openBrowser({ colorScheme });
  try {
    const page = await browser.context.newPage();
    const consoleErrors: string[] = [];
    const requests: string[] = [];
    page.on(
      'console',
      (m) => void (m.type() === 'error' || m.type() === 'warning' ? consoleErrors.push(m.text()) : undefined),
    );
    page.on('pageerror', (error) => void consoleErrors.push(error.message));
    page.on('request', (r) => void (r.url().startsWith('file:') ? undefined : requests.push(r.url())));
    const started = performance.now();
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const openMs = performance.now() - started;
    const facts = await page.evaluate((): PageFacts => {
      const charts = [...document.querySelectorAll('figure[data-chart]')].map((figure) => {
        const marks = [...figure.querySelectorAll('svg.chart .data')] as SVGGraphicsElement[];
        // A mark is drawn when it has geometry: a path with segments, or a box with area.
        const drawn = marks.filter((m) => {
          const box = m.getBBox();
          return m.tagName === 'path'
            ? (m.getAttribute('d') ?? '').length > 3 && box.width + box.height > 0
            : box.width > 0 && box.height > 0;
        }).length;
        return {
          id: figure.getAttribute('data-chart') ?? '',
          marks: marks.length,
          drawn,
          labels: [...figure.querySelectorAll('svg .axis-label')].map((t) => t.textContent ?? ''),
        };
      });
      const line = document.querySelector('svg .line');
      return {
        charts,
        overflowPx: document.documentElement.scrollWidth - window.innerWidth,
        background: getComputedStyle(document.body).backgroundColor,
        firstLineStroke: line ? getComputedStyle(line).stroke : '',
        verdict: document.querySelector('#compliance .pill')?.textContent ?? null,
        headline: document.querySelector('#headline .lead')?.textContent ?? '',
        metadata: document.querySelector('#metadata')?.textContent ?? '',
      };
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    return { ...facts, consoleErrors, requests, openMs };
  } finally {
    await browser.close();
  }
}

const luminance = (rgb: string): number => {
  const [r, g, b] = (rgb.match(/\d+/g) ?? ['0', '0', '0']).map(Number);
  return (0.2126 * r! + 0.7152 * g! + 0.0722 * b!) / 255;
};

describe('report.html and compare, on a real local lab', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-e2e-'));
  let secrets: string[] = [];

  beforeAll(async () => {
    const deploy = await runCli(['deploy'], dir, ENV);
    expect(deploy.code, deploy.stderr).toBe(0);
    secrets = Object.values((JSON.parse(readFileSync(join(dir, '.lab/state.json'), 'utf8')) as LabState).secrets ?? {});
  });
  afterAll(async () => {
    await runCli(['cleanup'], dir, ENV);
  });

  it('bench writes report.html; after verify, npm run report puts the verdict in; Chromium renders every chart offline', async () => {
    const bench = await runCli([...BENCH, '--out', 'reports/a'], dir, ENV);
    expect(bench.code, bench.stderr).toBe(0);
    expect(bench.stderr).toContain('report.html');
    const verify = await runCli(
      ['verify', '--checks', 'incremental-delivery,headers-passthrough,lint-forward-request', '--out', 'reports/a'],
      dir,
      ENV,
    );
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const report = await runCli(['report', 'reports/a'], dir, ENV);
    expect(report.code, report.stderr).toBe(0);
    const file = join(dir, 'reports/a/report.html');
    expect(report.stdout.trim()).toBe(join('reports/a', 'report.html'));

    const html = readFileSync(file, 'utf8');
    for (const secret of secrets) expect(html.includes(secret)).toBe(false);
    // Self-contained: nothing fetched from anywhere, no script at all.
    expect(html).not.toMatch(/<script|<link|@import|url\(http|src="http/);
    expect(statSync(file).size).toBeLessThan(2_000_000);

    const light = await inspect(file, 'light', join(ARTIFACTS, 'report-light.png'));
    expect(light.consoleErrors).toEqual([]);
    expect(light.requests).toEqual([]);
    const ids = light.charts.map((c) => c.id);
    for (const id of [
      'ttft-vs-completion-chat',
      'cdf-ttft-0',
      'cdf-e2e-0',
      'token-timeline',
      'itl-distribution',
      'outcomes',
      'delivery-latency',
    ])
      expect(ids).toContain(id);
    // Two streamed groups (8, 32 tokens) for TTFT; four groups for E2E.
    expect(ids.filter((id) => id.startsWith('cdf-ttft-'))).toHaveLength(2);
    expect(ids.filter((id) => id.startsWith('cdf-e2e-'))).toHaveLength(4);
    for (const chart of light.charts) {
      expect(chart.drawn, `${chart.id} has drawn data`).toBeGreaterThan(0);
      expect(chart.drawn, `${chart.id}: every mark drawn`).toBe(chart.marks);
      // Units on the axes: (ms…), (%), or a count.
      expect(
        chart.labels.some((l) => /\(ms|\(%\)|requests|tokens|events/.test(l)),
        `${chart.id} labels ${chart.labels.join(' | ')}`,
      ).toBe(true);
    }
    // The timeline shows both paths' median requests: 32 content events each.
    expect(light.charts.find((c) => c.id === 'token-timeline')!.marks).toBeGreaterThanOrEqual(2);
    expect(light.verdict).toBe('pass');
    expect(light.headline).toMatch(/sooner .* SSE compliance: pass/);
    expect(light.overflowPx).toBeLessThanOrEqual(0);
    // The metadata names what was measured: the lab, its gateway policy, the api-version.
    expect(light.metadata).toMatch(/gateway policy.*infra\/policies\/streaming\.xml/);
    expect(light.metadata).toMatch(/api-version 2024-10-21/);
    expect(light.openMs).toBeLessThan(2000);

    const dark = await inspect(file, 'dark', join(ARTIFACTS, 'report-dark.png'));
    expect(dark.consoleErrors).toEqual([]);
    expect(luminance(light.background)).toBeGreaterThan(0.9);
    expect(luminance(dark.background)).toBeLessThan(0.15);
    expect(dark.firstLineStroke).not.toBe(light.firstLineStroke);
  });

  it('compare: a rerun is not a regression; a buffering policy is, and --fail-on-regression exits 1', async () => {
    const again = await runCli([...BENCH, '--out', 'reports/b'], dir, ENV);
    expect(again.code, again.stderr).toBe(0);
    const same = await runCli(['compare', 'reports/a', 'reports/b', '--fail-on-regression', '50'], dir, ENV);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toMatch(/\| chat\/stream\/max-32\/gateway \| TTFT \| 8\/8 \|/);
    expect(same.stdout).toContain('No significant regression over the 50% gate.');

    expect((await runCli(['cleanup'], dir, ENV)).code).toBe(0);
    expect((await runCli(['deploy', '--policy', 'buffered'], dir, ENV)).code).toBe(0);
    const buffered = await runCli([...BENCH, '--out', 'reports/buffered'], dir, ENV);
    expect(buffered.code, buffered.stderr).toBe(0);
    const gate = await runCli(
      ['compare', 'reports/a', 'reports/buffered', '--fail-on-regression', '20', '--out', 'reports/cmp'],
      dir,
      ENV,
    );
    expect(gate.code, gate.stdout + gate.stderr).toBe(1);
    const comparison = JSON.parse(readFileSync(join(dir, 'reports/cmp/compare.json'), 'utf8')) as RunComparison;
    const ttft = (scenario: string) =>
      comparison.scenarios.find((s) => s.scenario === scenario)!.metrics.find((m) => m.metric === 'ttft')!;
    // Buffering holds the first token back to the end of the stream: through the gateway only.
    const gateway = ttft('chat/stream/max-32/gateway');
    expect(gateway.verdict).toBe('slower');
    expect(gateway.quantiles.find((q) => q.q === 0.5)!.changePct).toBeGreaterThan(50);
    expect(comparison.regressions[0]!.scenario).toMatch(/chat\/stream\/max-\d+\/gateway/);
    // The direct path did not change; on a shared host it may still drift a little between
    // runs (and a drift can be real, hence significant), but nothing like the gateway's jump.
    const directP50 = ttft('chat/stream/max-32/direct').quantiles.find((q) => q.q === 0.5)!.changePct;
    expect(gateway.quantiles.find((q) => q.q === 0.5)!.changePct).toBeGreaterThan(directP50 + 40);
    const markdown = readFileSync(join(dir, 'reports/cmp/compare.md'), 'utf8');
    expect(markdown).toMatch(
      /significant regressions? over the 20% gate:\*\* chat\/stream\/max-\d+\/gateway TTFT p\d+ \+\d/,
    );
    expect(gate.stdout).toBe(markdown);
  });

  it('compare and report name the flag or the directory that is wrong (exit 2)', async () => {
    const one = await runCli(['compare', 'reports/a'], dir, ENV);
    expect(one.code).toBe(2);
    expect(one.stderr).toMatch(/"A B".*expected 2 run directories, got 1/);
    const flag = await runCli(['compare', 'reports/a', 'reports/b', '--fail-on-regression', 'lots'], dir, ENV);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/--fail-on-regression.*"lots".*a number from 0 to 10000/);
    const metric = await runCli(['compare', 'reports/a', 'reports/b', '--metrics', 'ttft,speed'], dir, ENV);
    expect(metric.code).toBe(2);
    expect(metric.stderr).toMatch(/--metrics.*"speed".*ttft, e2e, tpot, ttfb/);
    const missing = await runCli(['report', 'reports/nope'], dir, ENV);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Failed to read run "reports\/nope": no such directory/);
  });
});
