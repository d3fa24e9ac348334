import { ALL_CHECKS } from './checks/index.ts';
import { ProbeSession, type VerifyPlan } from './session.ts';
import { hasStamps } from './analysis.ts';
import { verdictOf, type CheckResult, type ComplianceReport } from './types.ts';

export interface VerifyRunOptions {
  /** Check ids to run (all when empty). */
  checks: readonly string[];
  /** Called after each check, for progress on stderr. */
  onCheck?: (result: CheckResult) => void;
  signal?: AbortSignal;
}

/**
 * Runs the selected checks one after another (their probes must not disturb each other's
 * timing) and assembles the report. A check that throws is reported as failed with the
 * error, never crashes the run; an interrupted run reports the checks it finished.
 */
export async function runVerify(plan: VerifyPlan, options: VerifyRunOptions): Promise<ComplianceReport> {
  const started = new Date();
  const t0 = performance.now();
  const session = new ProbeSession(plan);
  const selected = ALL_CHECKS.filter((c) => options.checks.length === 0 || options.checks.includes(c.id));
  const checks: CheckResult[] = [];
  // A gateway that does not answer at all fails every probe for one reason: said once, not sixteen ways.
  let unreachable: string | undefined;
  if (plan.gateway !== undefined && selected.some((c) => !c.id.startsWith('lint-')) && !options.signal?.aborted) {
    const probe = await session.main('gateway', plan.apis[0]!);
    if (probe !== undefined && probe.status === 0)
      unreachable = `nothing answers at ${probe.url} (${probe.error ?? probe.end})`;
  }
  for (const check of selected) {
    if (options.signal?.aborted) break;
    let result: CheckResult;
    try {
      result =
        unreachable !== undefined && !check.id.startsWith('lint-')
          ? { id: check.id, title: check.title, status: 'fail', evidence: `not run: ${unreachable}` }
          : { id: check.id, title: check.title, ...(await check.run(session)) };
    } catch (error) {
      result = {
        id: check.id,
        title: check.title,
        status: 'fail',
        evidence: `the check could not run: ${(error as Error).message}`,
      };
    }
    checks.push(result);
    options.onCheck?.(result);
  }
  const firstApi = plan.apis[0]!;
  const ranProbes = selected.some((c) => !c.id.startsWith('lint-'));
  const groundTruth =
    ranProbes &&
    plan.gateway !== undefined &&
    (hasStamps(await session.main('gateway', firstApi)) || hasStamps(await session.main('direct', firstApi)));
  return {
    schemaVersion: 1,
    verdict: verdictOf(checks),
    startedAt: started.toISOString(),
    endedAt: new Date().toISOString(),
    durationMs: Math.round(performance.now() - t0),
    gateway: plan.gateway?.baseUrl,
    direct: plan.direct?.baseUrl,
    groundTruth,
    thresholds: plan.thresholds,
    ...(unreachable !== undefined ? { unreachable } : {}),
    checks,
  };
}
