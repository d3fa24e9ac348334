import { readFileSync } from 'node:fs';
import {
  CHECK_IDS,
  diagnosticsFromJson,
  parseDiagnostics,
  parsePolicyForLint,
  runVerify,
  type ComplianceReport,
  type LintInput,
  type VerifyPlan,
} from '../compliance/index.ts';
import type { DeployedConfig } from './azure-lab.ts';
import type { VerifyOptions } from '../config/verify-options.ts';
import { InvalidOptionError } from '../errors.ts';
import type { LabState } from './state.ts';
import { resolveTargets } from './targets.ts';

/** The lab's chain of paths the verifier probes hop by hop: `direct`, then the gateway and anything in front of it (not the backends a lab plays). */
export function verifyChain(state: LabState | undefined): string[] {
  if (state === undefined) return [];
  const labels = Object.keys(state.paths).filter((label) => !label.startsWith('backend-'));
  return labels.includes('direct') ? ['direct', ...labels.filter((l) => l !== 'direct')] : labels;
}

/**
 * What `lab:verify` probes: `--gateway`/`--direct` when given, else the lab state's paths.
 * The mock's request log is looked for at the direct path (the local lab's upstream) unless
 * `--mock-admin` says where; on a real Azure endpoint the lookup finds nothing and the check
 * that needs it skips.
 *
 * `hop` (a path of the lab state's chain) plays the gateway: the probes go through it, the
 * direct path stays the ground truth. Lint runs with the first hop only (it reads the gateway's
 * configuration, whichever hop is probed).
 */
export function buildVerifyPlan(
  options: VerifyOptions,
  state: LabState | undefined,
  env: NodeJS.ProcessEnv,
  deployed?: DeployedConfig,
  hop?: string,
): VerifyPlan {
  const fromFlags = options.gateway !== undefined || options.direct !== undefined;
  if (
    !fromFlags &&
    state === undefined &&
    options.policy === undefined &&
    options.diagnostics === undefined &&
    options.sku === undefined
  ) {
    throw new InvalidOptionError(
      '--gateway',
      `nothing to verify: no --gateway, no --policy and no lab state at "${options.stateFile}"`,
      'run npm run lab:deploy first, or pass --gateway URL [--direct URL] or --policy FILE',
    );
  }
  const byUrl = [
    ...(options.gateway !== undefined ? [{ label: 'gateway', baseUrl: options.gateway }] : []),
    ...(options.direct !== undefined ? [{ label: 'direct', baseUrl: options.direct }] : []),
  ];
  const probed = hop ?? 'gateway';
  const pick = state && !fromFlags ? [probed, 'direct'].filter((label) => state.paths[label] !== undefined) : [];
  const targets = resolveTargets({ flags: options, byUrl, pick, state: fromFlags ? undefined : state });
  const direct = targets.find((t) => t.label === 'direct');
  return {
    gateway: targets.find((t) => t.label === probed),
    direct,
    apis: options.apis,
    thresholds: {
      deliveryP99Ms: options.deliveryP99Ms,
      ttftOverheadMs: options.ttftOverheadMs,
      idleGapMs: options.idleGapMs,
      concurrentStreams: options.streams,
    },
    mockAdminUrl: options.mockAdmin ?? direct?.baseUrl,
    // Lint what is running: an Azure lab's configuration as ARM returns it, a local lab's policy file.
    lint:
      deployed !== undefined && !fromFlags
        ? deployedLintInput(options, deployed)
        : readLintInput({ ...options, policy: options.policy ?? (fromFlags ? undefined : state?.policyFile) }),
    search: options.search,
    env,
  };
}

/** An Azure lab's deployed policy, diagnostics and tier; a --policy/--diagnostics/--sku flag still wins. */
function deployedLintInput(options: VerifyOptions, deployed: DeployedConfig): LintInput | undefined {
  const fromFiles = readLintInput(options);
  const source = `${deployed.source} (read through ARM)`;
  return {
    policyFile:
      fromFiles?.policyFile ?? (deployed.policyXml !== undefined ? `${deployed.source}/policies/policy` : undefined),
    policy:
      fromFiles?.policy ??
      (deployed.policyXml !== undefined ? parsePolicyForLint(deployed.policyXml, source) : undefined),
    diagnosticsFile: fromFiles?.diagnosticsFile ?? `${deployed.source}/diagnostics`,
    diagnostics: fromFiles?.diagnostics ?? diagnosticsFromJson(deployed.diagnostics, source),
    sku: fromFiles?.sku ?? deployed.sku,
  };
}

function readLintInput(options: VerifyOptions): LintInput | undefined {
  if (options.policy === undefined && options.diagnostics === undefined && options.sku === undefined) return undefined;
  let policy;
  if (options.policy !== undefined) {
    let xml: string;
    try {
      xml = readFileSync(options.policy, 'utf8');
    } catch (error) {
      throw new InvalidOptionError(
        '--policy',
        `cannot read "${options.policy}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
        'a readable APIM policy XML file',
      );
    }
    policy = parsePolicyForLint(xml, options.policy);
  }
  return {
    policyFile: options.policy,
    policy,
    diagnosticsFile: options.diagnostics,
    diagnostics: options.diagnostics !== undefined ? parseDiagnostics(options.diagnostics) : undefined,
    sku: options.sku,
  };
}

/** One plan per hop of the lab's chain (the first also lints), or the one plan of a two-path lab or of --gateway/--direct. */
export function verifyPlans(
  options: VerifyOptions,
  state: LabState | undefined,
  env: NodeJS.ProcessEnv,
  deployed?: DeployedConfig,
): Array<{ hop: string; plan: VerifyPlan; lint: boolean }> {
  const fromFlags = options.gateway !== undefined || options.direct !== undefined;
  const hops = fromFlags ? [] : verifyChain(state).slice(1);
  if (hops.length <= 1) return [{ hop: 'gateway', plan: buildVerifyPlan(options, state, env, deployed), lint: true }];
  return hops.map((hop, i) => ({ hop, plan: buildVerifyPlan(options, state, env, deployed, hop), lint: i === 0 }));
}

/** Runs every hop's plan in chain order and returns one report (a chain's: chainReport). */
export async function runVerifyPlans(
  plans: ReadonlyArray<{ hop: string; plan: VerifyPlan; lint: boolean }>,
  checkIds: readonly string[],
  signal: AbortSignal,
  onLine: (line: string) => void,
): Promise<ComplianceReport> {
  const reports: Array<{ hop: string; report: ComplianceReport }> = [];
  for (const { hop, plan, lint } of plans) {
    // Interrupted: the hops that finished are the report (runVerify itself writes what a started hop finished).
    if (signal.aborted && reports.length > 0) break;
    if (plans.length > 1) onLine(`hop ${hop} (${plan.gateway?.baseUrl ?? '?'}):`);
    const checks = lint
      ? checkIds
      : (checkIds.length > 0 ? checkIds : CHECK_IDS).filter((id) => !id.startsWith('lint-'));
    reports.push({
      hop,
      report: await runVerify(plan, {
        checks: [...checks],
        signal,
        onCheck: (c) => onLine(`${c.status.padEnd(4)} ${c.id}`),
      }),
    });
  }
  return plans.length > 1 ? chainReport(reports) : reports[0]!.report;
}

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
  for (const { hop, report } of reports)
    for (const c of report.checks)
      if (c.status === 'fail' && firstFailingHop[c.id] === undefined) firstFailingHop[c.id] = hop;
  const hops = reports.map(({ hop, report }) => ({
    path: hop,
    verdict: report.verdict,
    failed: report.checks.filter((c) => c.status === 'fail').map((c) => c.id),
    warned: report.checks.filter((c) => c.status === 'warn').map((c) => c.id),
  }));
  const verdict = hops.some((h) => h.verdict === 'fail')
    ? 'fail'
    : hops.some((h) => h.verdict === 'warn')
      ? 'warn'
      : 'pass';
  return {
    ...outer,
    verdict,
    checks,
    hops,
    firstFailingHop,
    durationMs: reports.reduce((sum, r) => sum + r.report.durationMs, 0),
    startedAt: reports[0]!.report.startedAt,
  };
}
