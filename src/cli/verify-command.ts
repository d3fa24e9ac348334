import { mkdirSync } from 'node:fs';
import { CHECK_IDS } from '../compliance/index.ts';
import { durationText, shownDefault } from '../config/help-defaults.ts';
import { TARGET_DEFAULTS } from '../config/target-flags.ts';
import { resolveVerifyOptions, VERIFY_DEFAULTS } from '../config/verify-options.ts';
import { API_KINDS } from '../protocol/index.ts';
import { runVerifyPlans, verifyPlans } from '../lab/verify-plan.ts';
import type { ArmConnection, DeployedConfig } from '../lab/azure-lab.ts';
import { readLabState, withLabSecrets } from '../lab/state.ts';
import { complianceToTable, hopLines } from '../report/compliance-text.ts';
import { writeComplianceFiles } from '../report/write-compliance.ts';
import { refreshHtmlReport } from '../report/write-report.ts';
import { createAuthHeaders } from '../endpoint/auth.ts';
import { withInterrupt } from './interrupt.ts';
import { defaultOutDir } from './run-paths.ts';

const V = VERIFY_DEFAULTS;
const d = shownDefault;

export const VERIFY_USAGE = `Usage: npm run lab:verify -- [options]

Proves, check by check, whether a gateway relays an LLM stream faithfully.

Target (default: the gateway and direct paths in ${TARGET_DEFAULTS.stateFile})
  --gateway URL               the gateway (APIM) base URL to verify
  --direct URL                the upstream reached without the gateway (the reference)
  --mock-admin URL            where the mock's /_mock/requests lives (default: the direct URL)
  --api ${API_KINDS.join(',')}   APIs to probe ${d(V.apis)}
  --api-style azure|v1|openai  --deployment NAME  --completions-deployment NAME  --api-version V
                              as npm run bench takes them: over the lab state's, for every path
  --api-key-env NAME          env var with the API key ${d(TARGET_DEFAULTS.apiKeyEnv)}
  --subscription-key-env NAME env var with the gateway's subscription key (sent as api-key)
  --entra                     the direct path authenticates with Entra ID
  --state FILE                lab state file ${d(TARGET_DEFAULTS.stateFile)}

Checks
  --checks id,id              run only these (default: all): ${CHECK_IDS.join(', ')}
  --idle-gap D                quiet period the idle-gap probe holds ${d(durationText(V.idleGapMs))};
                              Microsoft's guidance: try 4m
  --max-delivery-p99 D        per-frame delivery latency p99 allowed ${d(durationText(V.deliveryP99Ms))}
  --max-ttft-overhead D       time to first token the gateway may add ${d(durationText(V.ttftOverheadMs))}
  --streams N                 streams opened at once by concurrent-streams ${d(V.streams)}

Static lint (an Azure lab's deployed policy, diagnostics and tier are read through ARM;
a local lab's policy file is linted; these flags override either)
  --policy FILE.xml           an APIM policy document
  --diagnostics FILE.json     APIM diagnostics as ARM returns them
  --sku NAME                  the APIM tier (Consumption fails)

Output
  --out DIR                   (default: reports/verify-<timestamp>)
  --json                      print compliance.json on stdout instead of the table

Exit code: 0 no check failed, 1 a check failed, 2 bad usage, 130 interrupted.`;

/** `streamlab verify`: returns the exit code. */
export async function verifyCommand(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  connectAzure?: (subscriptionId: string) => Promise<ArmConnection>,
): Promise<number> {
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
  const plans = verifyPlans(options, state, labEnv, deployed);
  // A missing key is a usage error, found before any probe runs.
  for (const { plan } of plans)
    for (const target of [plan.gateway, plan.direct]) if (target) await createAuthHeaders(target.auth, labEnv);
  const outDir = options.out ?? defaultOutDir('verify');
  return withInterrupt('writing the checks that finished', async (signal) => {
    const report = await runVerifyPlans(plans, options.checks, signal, (line) => process.stderr.write(`${line}\n`));
    mkdirSync(outDir, { recursive: true });
    writeComplianceFiles(outDir, report);
    // Verifying into a bench run's directory puts the verdict into that run's report.html.
    const html = await refreshHtmlReport(outDir);
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : `${complianceToTable(report)}\n`);
    if (report.hops !== undefined && !options.json) process.stdout.write(`${hopLines(report).join('\n')}\n`);
    if (report.unreachable !== undefined)
      process.stderr.write(
        `Nothing was verified: ${report.unreachable}. Is the gateway running? Start the lab with npm run lab:deploy (or check --gateway).\n`,
      );
    else if (!signal.aborted && report.checks.every((c) => c.status === 'skip')) {
      const reasons = [...new Set(report.checks.map((c) => c.evidence))].slice(0, 3);
      process.stderr.write(
        `Nothing was verified: every check skipped (${reasons.join('; ') || 'no check ran'}). Give the lab's paths (npm run lab:deploy), or --gateway URL, or --policy FILE for the lint.\n`,
      );
    }
    process.stderr.write(
      `results: ${outDir}/ (compliance.json, compliance.xml, compliance.md${html ? ', report.html' : ''})\n`,
    );
    if (signal.aborted) return 130;
    return report.verdict === 'fail' ? 1 : 0;
  });
}
