import type { ApiKind } from '../protocol/index.ts';
import { hasStamps } from './analysis.ts';
import type { ProbeResult } from './probe.ts';
import type { ProbeSession } from './session.ts';
import type { CheckResult, CheckStatus } from './types.ts';

export type Verdict = Omit<CheckResult, 'id' | 'title'>;

/** One verification. Dynamic checks use the session's probes; lint checks read configuration. */
export interface Check {
  id: string;
  title: string;
  run(session: ProbeSession): Promise<Verdict>;
}

export const verdict = (status: CheckStatus, evidence: string, details?: Record<string, unknown>): Verdict =>
  details === undefined ? { status, evidence } : { status, evidence, details };

/** The worst of several statuses (fail > warn > pass > skip), for checks judged per API. */
export function worstOf(statuses: readonly CheckStatus[]): CheckStatus {
  for (const status of ['fail', 'warn', 'pass'] as const) if (statuses.includes(status)) return status;
  return 'skip';
}

/** Runs `judge` for each API's main gateway stream and merges the verdicts into one line. */
export async function judgePerApi(
  session: ProbeSession,
  apis: readonly ApiKind[],
  judge: (api: ApiKind, gateway: ProbeResult, direct: ProbeResult | undefined) => Verdict | Promise<Verdict>,
): Promise<Verdict> {
  if (session.plan.gateway === undefined)
    return verdict('skip', 'no gateway to probe (pass --gateway or deploy a lab)');
  if (apis.length === 0) return verdict('skip', 'none of the selected APIs applies');
  const parts: Array<Verdict & { api: ApiKind }> = [];
  for (const api of apis) {
    const gateway = (await session.main('gateway', api))!;
    const unusable = describeUnusable(gateway);
    const result = unusable ? verdict('fail', unusable) : await judge(api, gateway, await session.main('direct', api));
    parts.push({ ...result, api });
  }
  const status = worstOf(parts.map((p) => p.status));
  const shown = parts.filter((p) => p.status === status);
  return verdict(
    status,
    shown.map((p) => `${p.api}: ${p.evidence}`).join('; '),
    Object.fromEntries(parts.map((p) => [p.api, p.details ?? {}])),
  );
}

/** Why a probe cannot be judged as a stream (no answer, not 200), or undefined. */
export function describeUnusable(probe: ProbeResult): string | undefined {
  if (probe.status === 0) return `no response from ${probe.url} (${probe.error ?? probe.end})`;
  if (probe.status !== 200)
    return `HTTP ${probe.status} from the gateway: ${probe.bodyText.slice(0, 200).replace(/\s+/g, ' ')}`;
  return undefined;
}

/**
 * Whether the upstream is this project's mock (its frames carry stamps on either path). Only
 * then do control headers inject faults, so checks that need a fault skip otherwise.
 */
export async function upstreamIsMock(session: ProbeSession): Promise<boolean> {
  const api = session.plan.apis[0]!;
  return hasStamps(await session.main('direct', api)) || hasStamps(await session.main('gateway', api));
}

export const NOT_MOCK = 'the upstream is not the mock (no stamps), so this fault cannot be injected';
