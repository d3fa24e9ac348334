import { mkdirSync } from 'node:fs';
import { CHECK_IDS, runVerify, type ComplianceReport } from '../compliance/index.ts';
import { resolveVerifyOptions } from '../config/verify-options.ts';
import { buildVerifyPlan, verifyChain } from '../lab/verify-plan.ts';
import type { ArmConnection, DeployedConfig } from '../lab/azure-lab.ts';
import { readLabState, withLabSecrets } from '../lab/state.ts';
import { complianceToTable } from '../report/compliance-text.ts';
import { writeComplianceFiles } from '../report/write-compliance.ts';
import { refreshHtmlReport } from '../report/write-report.ts';
import { createAuthHeaders } from '../endpoint/auth.ts';
import { withInterrupt } from './interrupt.ts';
import { defaultOutDir } from './run-paths.ts';

export const VERIFY_USAGE = `Usage: npm run lab:verify -- [options]

Proves, check by check, whether a gateway relays an LLM stream faithfully.

Target (default: the gateway and direct paths in .lab/state.json)
  --gateway URL               the gateway (APIM) base URL to verify
  --direct URL                the upstream reached without the gateway (the reference)
  --mock-admin URL            where the mock's /_mock/requests lives (default: the direct URL)
  --api chat,responses,completions,on-your-data   APIs to probe (default chat,responses)
  --api-style azure|v1|openai  --deployment NAME  --completions-deployment NAME  --api-version V
                              as npm run bench takes them: over the lab state's, for every path
  --api-key-env NAME          env var with the API key (default AZURE_OPENAI_API_KEY)
  --subscription-key-env NAME env var with the gateway's subscription key (sent as api-key)
  --entra                     the direct path authenticates with Entra ID
  --state FILE                lab state file (default .lab/state.json)

Checks
  --checks id,id              run only these (default all): ${CHECK_IDS.join(', ')}
  --idle-gap 30s              quiet period the idle-gap probe holds (Microsoft's guidance: try 4m)
  --max-delivery-p99 50ms     per-frame delivery latency p99 allowed
  --max-ttft-overhead 50ms    time to first token the gateway may add
  --streams 10                streams opened at once by concurrent-streams

Static lint (an Azure lab's deployed policy, diagnostics and tier are read through ARM;
a local lab's policy file is linted; these flags override either)
  --policy FILE.xml           an APIM policy document
  --diagnostics FILE.json     APIM diagnostics as ARM returns them
  --sku NAME                  the APIM tier (Consumption fails)

Output
  --out DIR                   (default reports/verify-<timestamp>)
  --json                      print compliance.json on stdout instead of the table

Exit code: 0 no check failed, 1 a check failed, 2 bad usage, 130 interrupted.`;

/**
 * One report for a chain: the outermost hop's checks (the lint from the first hop's run), the
 * verdict of every hop, and for each check that fails, the first hop from the model outward
 * where it does (the hops inside it pass it: that hop breaks it).
 */
function chainReport(reports: ReadonlyArray<{ hop: string; report: ComplianceReport }>): ComplianceReport {
  const outer = reports.at(-1)!.report;
  const lints = reports[0]!.report.checks.filter((c) => c.id.startsWith('lint-'));
  const checks = [...outer.checks.filter((c) => !c.id.startsWith('lint-')), ...lints];
  const firstFailingHop: Record<string, string> = {};
  for (const { hop, report } of reports) for (const c of report.checks) if (c.status === 'fail' && firstFailingHop[c.id] === undefined) firstFailingHop[c.id] = hop;
  const hops = reports.map(({ hop, report }) => ({ path: hop, verdict: report.verdict, failed: report.checks.filter((c) => c.status === 'fail').map((c) => c.id), warned: report.checks.filter((c) => c.status === 'warn').map((c) => c.id) }));
  const verdict = hops.some((h) => h.verdict === 'fail') ? 'fail' : hops.some((h) => h.verdict === 'warn') ? 'warn' : 'pass';
  return { ...outer, verdict, checks, hops, firstFailingHop, durationMs: reports.reduce((sum, r) => sum + r.report.durationMs, 0), startedAt: reports[0]!.report.startedAt };
}

/** The chain in words: which hop first fails each check, with that hop's evidence. */
function hopLines(report: ComplianceReport): string[] {
  const order = report.hops!.map((h) => h.path);
  const lines = [`Hop by hop (${order.join(' → ')}): ${report.hops!.map((h) => `${h.path} ${h.verdict}`).join(', ')}.`];
  for (const [id, hop] of Object.entries(report.firstFailingHop ?? {})) {
    const inside = order.slice(0, order.indexOf(hop));
    lines.push(`  ${id} first fails at ${hop}${inside.length > 0 ? ` (passes through ${inside.join(', ')})` : ''}: the ${hop} hop breaks it.`);
  }
  return lines;
}

/** `streamlab verify`: returns the exit code. */
export async function verifyCommand(argv: readonly string[], env: NodeJS.ProcessEnv, connectAzure?: (subscriptionId: string) => Promise<ArmConnection>): Promise<number> {
  const options = resolveVerifyOptions(argv, env, CHECK_IDS);
  if (options.help) {
    process.stdout.write(`${VERIFY_USAGE}\n`);
    return 0;
  }
  const fromFlags = options.gateway !== undefined || options.direct !== undefined;
  const state = fromFlags ? undefined : readLabState(options.stateFile);
  const labEnv = withLabSecrets(state, env);
  // An Azure lab: lint the policy and diagnostics that are deployed, read through ARM
  // (not when --checks leaves out every lint check: then nothing would read them).
  const lints = options.checks.length === 0 || options.checks.some((id) => id.startsWith('lint-'));
  let deployed: DeployedConfig | undefined;
  if (state?.azure !== undefined && lints) {
    // Loaded only here: the Azure SDKs take about a second to import.
    const { defaultArmConnection, readAzureConfig } = await import('../lab/azure-lab.ts');
    deployed = await readAzureConfig(state.azure, connectAzure ?? defaultArmConnection);
  }
  // A chain (direct → gateway → edge …): the probes run through every hop, from the model outward.
  const hops = fromFlags ? [] : verifyChain(state).slice(1);
  const plans = hops.length > 1 ? hops.map((hop, i) => ({ hop, plan: buildVerifyPlan(options, state, labEnv, deployed, hop), lint: i === 0 })) : [{ hop: 'gateway', plan: buildVerifyPlan(options, state, labEnv, deployed), lint: true }];
  // A missing key is a usage error, found before any probe runs.
  for (const { plan } of plans) for (const target of [plan.gateway, plan.direct]) if (target) await createAuthHeaders(target.auth, labEnv);
  const outDir = options.out ?? defaultOutDir('verify');
  return withInterrupt('writing the checks that finished', async (signal) => {
    const reports: Array<{ hop: string; report: ComplianceReport }> = [];
    for (const { hop, plan, lint } of plans) {
      if (signal.aborted) break;
      if (plans.length > 1) process.stderr.write(`hop ${hop} (${plan.gateway?.baseUrl ?? '?'}):\n`);
      const checks = lint ? options.checks : (options.checks.length > 0 ? options.checks : CHECK_IDS).filter((id) => !id.startsWith('lint-'));
      const hopReport = await runVerify(plan, { checks, signal, onCheck: (c) => process.stderr.write(`${c.status.padEnd(4)} ${c.id}\n`) });
      reports.push({ hop, report: hopReport });
    }
    const report = plans.length > 1 ? chainReport(reports) : reports[0]!.report;
    mkdirSync(outDir, { recursive: true });
    writeComplianceFiles(outDir, report);
    // Verifying into a bench run's directory puts the verdict into that run's report.html.
    const html = await refreshHtmlReport(outDir);
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${complianceToTable(report)}\n`);
    if (report.hops !== undefined && !options.json) process.stdout.write(`${hopLines(report).join('\n')}\n`);
    if (report.unreachable !== undefined) process.stderr.write(`Nothing was verified: ${report.unreachable}. Is the gateway running? Start the lab with npm run lab:deploy (or check --gateway).\n`);
    process.stderr.write(`results: ${outDir}/ (compliance.json, compliance.xml, compliance.md${html ? ', report.html' : ''})\n`);
    if (signal.aborted) return 130;
    return report.verdict === 'fail' ? 1 : 0;
  });
}
