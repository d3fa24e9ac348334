import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { writeFileAtomic } from '../files.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBench, type BenchRunResult } from '../bench/run-bench.ts';
import { CHECK_IDS, runVerify, type ComplianceReport } from '../compliance/index.ts';
import { BENCH_DEFAULTS, resolveBenchOptions, type BenchOptions } from '../config/bench-options.ts';
import { shownDefault } from '../config/help-defaults.ts';
import { LAB_RUN_DEFAULTS, resolveLabRunOptions } from '../config/lab-options.ts';
import { LabError } from '../errors.ts';
import { resolveVerifyOptions, type VerifyOptions } from '../config/verify-options.ts';
import { cleanupLocal, deployLocal } from '../lab/local-lab.ts';
import { labRunInfo, withLabSecrets, type LabState } from '../lab/state.ts';
import { benchTargets } from '../lab/targets.ts';
import { buildVerifyPlan } from '../lab/verify-plan.ts';
import { complianceToMarkdown } from '../report/compliance-text.ts';
import { harnessWarning, labHeadline } from '../report/headline.ts';
import { summaryToMarkdown } from '../report/summary-markdown.ts';
import { writeComplianceFiles } from '../report/write-compliance.ts';
import { refreshHtmlReport, writeRunReports } from '../report/write-report.ts';
import { progressPrinter, readVersion } from './bench-command.ts';
import { guidedLabCommand, labNames, listLabs } from './guided-lab-command.ts';
import { withInterrupt } from './interrupt.ts';
import { defaultOutDir, ownStateFile, stepPrinter } from './run-paths.ts';

export const LAB_RUN_USAGE = `Usage: npm run lab -- [options]
       npm run lab -- <lab> [--target local|azure] [--state FILE] [--out DIR]
       npm run lab -- --list

The whole local lab in one go: deploy (mock + gateway), bench, verify, report, clean up
(also on failure or Ctrl-C). Ends with the finding in plain words and where the report is.
With a lab name, runs that guided lab from labs/<lab>/ instead (--list names them).
  --policy streaming|buffered|FILE   gateway policy ${shownDefault(LAB_RUN_DEFAULTS.policy)}
  --requests N                requests per bench scenario, all at once ${shownDefault(LAB_RUN_DEFAULTS.requests)}
  --out DIR                   (default: reports/lab-<timestamp>, or reports/<lab>-<timestamp>)

Guided labs (labs/README.md):
  --list                      the labs and what each shows
  --target local|azure        local: its own mock + gateway, cleaned up after; azure: the lab
                              deployed with lab:deploy -- --target azure ${shownDefault(LAB_RUN_DEFAULTS.target)}
  --state FILE                the Azure lab's state ${shownDefault(LAB_RUN_DEFAULTS.stateFile)}
  --search-endpoint URL --search-index NAME   chat-with-data on Azure (or AZURE_SEARCH_ENDPOINT/_INDEX)

Exit code: 0 compliant (a guided lab: it ran), 1 a compliance check failed (or the lab failed),
2 bad usage, 130 interrupted.`;

/** The lab's model: gpt-4o-mini's time to first token, a brisk 8 ms per token, 256-token answers. */
const LAB_MOCK_ARGS = ['--itl-ms', '8', '--output-tokens', '256'];
const LAB_MAX_TOKENS = [32, 256];

/** `streamlab lab`: returns the exit code. */
export async function labRunCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const options = resolveLabRunOptions(argv, labNames(), env);
  if (options.help) {
    process.stdout.write(`${LAB_RUN_USAGE}\n`);
    return 0;
  }
  if (options.list) {
    process.stdout.write(`${await listLabs()}\n`);
    return 0;
  }
  if (options.name !== undefined) return guidedLabCommand({ ...options, name: options.name }, env);
  const outDir = options.out ?? defaultOutDir('lab');
  const stateFile = ownStateFile();
  const step = stepPrinter('lab');
  return withInterrupt('stopping, writing what was measured, cleaning up', async (signal) => {
    let bench: BenchRunResult | undefined;
    let compliance: ComplianceReport | undefined;
    try {
      step(`deploy: mock + gateway (policy ${options.policy})`);
      const deployed = await deployLocal(
        { stateFile, policy: options.policy, seed: BENCH_DEFAULTS.seed, mockArgs: LAB_MOCK_ARGS },
        signal,
      );
      if (deployed.kind !== 'deployed')
        throw new LabError(
          'E_LAB_STATE',
          `Failed to deploy the lab under "${stateFile}": a lab was already up there. Run npm run lab:cleanup -- --state ${stateFile}.`,
        );
      const state: LabState = deployed.state;
      const labEnv = withLabSecrets(state, env);
      mkdirSync(outDir, { recursive: true });

      // Warm both paths first (JIT, connection pools): otherwise the first scenario, on the
      // direct path, pays the processes' warm-up and the gateway looks faster than no gateway.
      step('warm-up: a few short requests on both paths, not measured');
      // The lab's matrix: chat and Responses, streamed and not, all requests of a scenario at once.
      const defaults = resolveBenchOptions([], labEnv);
      const runMatrix = (
        maxTokens: number[],
        dir: string,
        stamp: boolean,
        onProgress?: ReturnType<typeof progressPrinter>,
      ): Promise<BenchRunResult> => {
        const benchOptions: BenchOptions = {
          ...defaults,
          stateFile,
          out: dir,
          apis: ['chat', 'responses'],
          streams: [true, false],
          maxTokens,
          requests: options.requests,
          load: { kind: 'closed', concurrency: options.requests },
          warmup: 0,
          stamp,
        };
        return runBench({
          options: benchOptions,
          targets: benchTargets(benchOptions, state),
          outDir: dir,
          env: labEnv,
          signal,
          toolVersion: readVersion(),
          lab: labRunInfo(state),
          ...(onProgress ? { onProgress } : {}),
        });
      };
      const warmDir = mkdtempSync(join(tmpdir(), 'lab-warmup-'));
      try {
        await runMatrix([8], warmDir, false);
      } finally {
        rmSync(warmDir, { recursive: true, force: true });
      }

      step('bench: chat and responses, streamed and not, 32 and 256 tokens, direct and gateway');
      bench = await runMatrix(LAB_MAX_TOKENS, outDir, true, process.stderr.isTTY ? progressPrinter() : undefined);
      await writeRunReports(outDir, bench.summary);
      if (process.stderr.isTTY) process.stderr.write('\n');

      if (!signal.aborted) {
        step('verify: SSE compliance of the gateway');
        // The probes' stall is 2 s here (not the default 30 s): the lab's gateway is local and the run stays short.
        const verifyOptions: VerifyOptions = {
          ...resolveVerifyOptions([], labEnv, CHECK_IDS),
          stateFile,
          idleGapMs: 2_000,
          out: outDir,
        };
        compliance = await runVerify(buildVerifyPlan(verifyOptions, state, labEnv), {
          checks: [],
          signal,
          onCheck: (c) => step(`  ${c.status.padEnd(4)} ${c.id}`),
        });
        writeComplianceFiles(outDir, compliance);
        await refreshHtmlReport(outDir);
      }
    } finally {
      const cleaned = await cleanupLocal(stateFile);
      step(
        cleaned.kind === 'cleaned'
          ? `cleanup: stopped ${cleaned.stopped.join(', ') || 'nothing'}`
          : 'cleanup: nothing to stop',
      );
    }
    const headline = labHeadline(bench?.summary, compliance);
    writeFileAtomic(
      join(outDir, 'lab.md'),
      `# Lab run\n\n${headline}.\n\n${bench ? summaryToMarkdown(bench.summary) : ''}\n\n${compliance ? complianceToMarkdown(compliance) : ''}\n`,
    );
    const harness = bench ? harnessWarning(bench.summary) : undefined;
    process.stdout.write(
      `${headline}.\n${harness ? `${harness}\n` : ''}Report: ${join(outDir, 'report.html')} and ${join(outDir, 'lab.md')} (with summary.json, samples.jsonl, compliance.json)\n`,
    );
    step('done');
    if (signal.aborted) return 130;
    return compliance?.verdict === 'fail' ? 1 : 0;
  });
}
