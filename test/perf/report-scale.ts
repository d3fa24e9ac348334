/**
 * report.html at scale: a real 10,000-request bench run against the mock (in-process, fast
 * timing), then the report's size, the time to write it, and the time Chromium takes to open
 * it, side by side with a 100-request run and with an empty page in the same browser (the
 * floor: browser start-up and navigation, not our page). Targets: < 2 MB, opens in < 2 s.
 */
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMockServer } from '../../stand-ins/azure-openai/server.ts';
import { runBench } from '../../src/bench/run-bench.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { benchTargets } from '../../src/lab/targets.ts';
import { writeRunReports } from '../../src/report/write-report.ts';
import { writeHtmlReport } from '../../src/report/write-report.ts';
import { openBrowser } from '../helpers/browser.ts';

const RUNS = Number(process.env['PERF_RUNS'] ?? 3);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(2)} MB`;

async function benchRun(requestsPerScenario: number, dir: string, mockUrl: string): Promise<number> {
  const env = { PERF_KEY: 'perf-key-not-a-secret' };
  const options = resolveBenchOptions(
    [
      '--endpoint',
      mockUrl,
      '--api-key-env',
      'PERF_KEY',
      '--api',
      'chat',
      '--stream',
      'both',
      '--max-tokens',
      '16,64',
      '--requests',
      String(requestsPerScenario),
      '--concurrency',
      '32',
      '--warmup',
      '0',
      '--stamp',
      '--out',
      dir,
    ],
    env,
  );
  const started = performance.now();
  const { summary } = await runBench({
    options,
    targets: benchTargets(options, undefined),
    outDir: dir,
    env,
    signal: new AbortController().signal,
    toolVersion: 'perf',
  });
  await writeRunReports(dir, summary);
  return performance.now() - started;
}

/** Navigation start to the load event, for a file:// page: the page is static, so load means drawn. */
async function openMs(file: string): Promise<number[]> {
  const browser = await openBrowser();
  try {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const page = await browser.context.newPage();
      const started = performance.now();
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      // One frame after load: layout and paint of the SVG are done.
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve(null))));
      times.push(performance.now() - started);
      await page.close();
    }
    return times;
  } finally {
    await browser.close();
  }
}

export async function runReportScale(): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'perf-report-'));
  const mock = await createMockServer({
    host: '127.0.0.1',
    port: 0,
    timing: { ttftMs: 20, itlMs: 1, jitterMs: 0.3, outputTokens: 64 },
  });
  const rows: string[] = [];
  try {
    const empty = join(root, 'empty.html');
    writeFileSync(empty, '<!doctype html><title>empty</title>');
    rows.push(`| empty page (browser floor) | – | – | – | ${median(await openMs(empty)).toFixed(0)} ms |`);
    for (const requests of [25, 2500]) {
      const dir = join(root, `run-${requests * 4}`);
      const benchMs = await benchRun(requests, dir, mock.url);
      const writes: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        const started = performance.now();
        await writeHtmlReport(dir);
        writes.push(performance.now() - started);
      }
      const report = join(dir, 'report.html');
      rows.push(
        `| ${(requests * 4).toLocaleString('en-US')} requests (bench ${(benchMs / 1000).toFixed(0)} s) | ${mb(statSync(join(dir, 'samples.jsonl')).size)} | ${mb(statSync(report).size)} | ${median(writes).toFixed(0)} ms | ${median(await openMs(report)).toFixed(0)} ms |`,
      );
    }
  } finally {
    await mock.close();
    rmSync(root, { recursive: true, force: true });
  }
  return [
    `chat, streamed and not, 16 and 64 tokens, one path, --stamp; medians of ${RUNS}. Open = navigation to the first frame after load, headless Debian Chromium.`,
    '',
    '| run | samples.jsonl | report.html (target < 2 MB) | write report | open in Chromium (target < 2 s) |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}
