import type { FaultSet } from '../../src/protocol/index.ts';
import type { DeploymentTable, TimingProfile } from './deployments.ts';
import { MockStats, Recorder } from './recorder.ts';

/** Server-wide settings, fixed at start (CLI flags or createMockServer options). */
export interface MockConfig {
  deployments: DeploymentTable;
  /** When set (MOCK_API_KEY), the only key accepted; otherwise any non-empty key is. */
  apiKey: string | undefined;
  maxBodyBytes: number;
  /** Reported in `x-ms-region`. */
  region: string;
  /** Seed of the whole run; each request derives its own from it and its sequence number. */
  seed: number;
  /** Overrides every deployment's timing defaults (a control header still wins). */
  timing: Partial<TimingProfile>;
  /** Per-deployment requests per minute reported in x-ratelimit-* (not enforced). */
  rateLimitRequestsPerMin: number;
  /** Per-deployment tokens per minute reported in x-ratelimit-* (not enforced). */
  rateLimitTokensPerMin: number;
  /** Faults for every request that sends no `x-mock-fault` (`--fault`; PUT /_mock/faults changes them). */
  faults: FaultSet;
}

export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Mutable state shared by the handlers of one mock instance. */
export class MockContext {
  readonly config: MockConfig;
  readonly stats = new MockStats();
  readonly recorder = new Recorder();
  /** performance.now() until which new API requests wait (POST /_mock/pause). */
  pausedUntilMs = 0;
  /** The standing faults (starts as config.faults). */
  faults: FaultSet;
  private sequence = 0;
  private window = { startMs: 0, requests: new Map<string, number>(), tokens: new Map<string, number>() };

  constructor(config: MockConfig) {
    this.config = config;
    this.faults = config.faults;
  }

  /** A per-request seed: reproducible for a given run seed and request order. */
  nextSeed(): number {
    this.sequence++;
    return (Math.imul(this.config.seed ^ 0x9e3779b9, 2654435761) + Math.imul(this.sequence, 0x85ebca6b)) >>> 0;
  }

  /** Counts a request in a fixed one-minute window and returns the remaining budget. */
  consumeRateLimit(deployment: string, tokens: number): { remainingRequests: number; remainingTokens: number } {
    const now = Date.now();
    if (now - this.window.startMs >= 60_000) {
      this.window = { startMs: now, requests: new Map(), tokens: new Map() };
    }
    const requests = (this.window.requests.get(deployment) ?? 0) + 1;
    const used = (this.window.tokens.get(deployment) ?? 0) + tokens;
    this.window.requests.set(deployment, requests);
    this.window.tokens.set(deployment, used);
    return {
      remainingRequests: Math.max(0, this.config.rateLimitRequestsPerMin - requests),
      remainingTokens: Math.max(0, this.config.rateLimitTokensPerMin - used),
    };
  }
}
