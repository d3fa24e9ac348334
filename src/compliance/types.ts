import type { PolicyElement } from '../protocol/policy-xml.ts';
/** One verification result. `evidence` is one line a user can act on; `details` holds the numbers behind it. */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  evidence: string;
  details?: Record<string, unknown>;
}

/** `compliance.json`, schema version 1. */
export interface ComplianceReport {
  schemaVersion: 1;
  verdict: 'pass' | 'warn' | 'fail';
  startedAt: string;
  endedAt: string;
  durationMs: number;
  gateway: string | undefined;
  direct: string | undefined;
  /** Whether the upstream stamped its frames (this project's mock): verdicts are then exact. */
  groundTruth: boolean;
  thresholds: VerifyThresholds;
  /** Set when the gateway answered nothing at all (no connection, no status): the probes did not run. */
  unreachable?: string;
  /**
   * A lab with a chain (direct → gateway → edge …): the same probes through every hop, from
   * the model outward, and for each check that fails, the first hop where it fails (the hop
   * that breaks it; the hops inside it pass). `checks` are the outermost hop's.
   */
  hops?: Array<{ path: string; verdict: 'pass' | 'warn' | 'fail'; failed: string[]; warned: string[] }>;
  firstFailingHop?: Record<string, string>;
  checks: CheckResult[];
}

export interface VerifyThresholds {
  /** Per-frame delivery latency p99 (arrival − emission, or − the direct path's arrival). */
  deliveryP99Ms: number;
  /** Time to first token the gateway may add over the direct path (median of pairs). */
  ttftOverheadMs: number;
  /** Quiet period the `idle-gap` probe holds the stream open for. */
  idleGapMs: number;
  /** Streams opened at once by `concurrent-streams`. */
  concurrentStreams: number;
}

/**
 * The overall verdict: fail if any check failed, warn if any warned, else pass. A run where
 * every check skipped checked nothing, and a gate that checked nothing fails (it never passes
 * a gateway it could not see).
 */
export function verdictOf(checks: readonly CheckResult[]): ComplianceReport['verdict'] {
  if (checks.every((c) => c.status === 'skip')) return 'fail';
  if (checks.some((c) => c.status === 'fail')) return 'fail';
  if (checks.some((c) => c.status === 'warn')) return 'warn';
  return 'pass';
}

/** What the static lint reads: the policy (parsed), the diagnostics, the tier. */
export interface LintInput {
  policyFile: string | undefined;
  policy: PolicyElement[] | undefined;
  diagnosticsFile: string | undefined;
  diagnostics: DiagnosticSetting[] | undefined;
  sku: string | undefined;
}

/** The parts of an APIM diagnostic (ARM `service/diagnostics` or `apis/diagnostics`) that matter here. */
export interface DiagnosticSetting {
  name: string;
  loggerId?: string;
  frontend?: { request?: { body?: { bytes?: number } }; response?: { body?: { bytes?: number } } };
  backend?: { request?: { body?: { bytes?: number } }; response?: { body?: { bytes?: number } } };
}
