import { randomUUID } from 'node:crypto';
import { formatControlHeaders, type ApiKind, type MockControl } from '../protocol/index.ts';
import { azureSearchDataSources, buildRequest } from '../endpoint/build-request.ts';
import { createAuthHeaders, type AuthHeaders } from '../endpoint/auth.ts';
import type { ChatMessage, SearchSource, Target } from '../endpoint/types.ts';
import { runProbe, type ProbeRequest, type ProbeResult } from './probe.ts';
import type { LintInput, VerifyThresholds } from './types.ts';

export type PathName = 'gateway' | 'direct';

/** What the verifier was pointed at. */
export interface VerifyPlan {
  gateway: Target | undefined;
  direct: Target | undefined;
  apis: ApiKind[];
  thresholds: VerifyThresholds;
  /** Base URL of the mock's `/_mock/*` endpoints (the upstream's request log), when known. */
  mockAdminUrl: string | undefined;
  /** Configuration for the static lint checks. */
  lint: LintInput | undefined;
  /** The "On Your Data" source. */
  search: SearchSource;
  env: NodeJS.ProcessEnv;
}

/**
 * The probes' timing: short enough that a full run is quick, long enough that buffering
 * shows (30 frames over ~0.7 s: an 8 KB buffer holds ~12 of them, ~240 ms), seeded so that the gateway and direct paths receive the
 * same text, ids and schedule, stamped so that every verdict can be exact.
 */
export const PROBE_CONTROL = { ttftMs: 60, itlMs: 20, jitterMs: 5, outputTokens: 30, seed: 4242, stamp: true } as const;
const PROMPT: ChatMessage[] = [{ role: 'user', content: 'Verify streaming: reply with a short paragraph.' }];

export interface ProbeSpec {
  api: ApiKind;
  /** Control headers for the mock (ignored by a real Azure upstream). */
  control?: Partial<MockControl>;
  stream?: boolean;
  closeAfterEvents?: number;
  closeAfterMs?: number;
  timeoutMs?: number;
  headers?: Record<string, string>;
  /** Fields set on the request body (e.g. an out-of-range value Azure refuses with 400). */
  bodyFields?: Record<string, unknown>;
}

/**
 * Runs and remembers probes, so several checks can judge the same stream. A probe never
 * throws: connection failures come back as a result with `end: 'error'`.
 */
export class ProbeSession {
  readonly plan: VerifyPlan;
  private readonly cache = new Map<string, Promise<ProbeResult>>();
  private readonly authCache = new Map<PathName, Promise<AuthHeaders>>();

  constructor(plan: VerifyPlan) {
    this.plan = plan;
  }

  target(path: PathName): Target | undefined {
    return path === 'gateway' ? this.plan.gateway : this.plan.direct;
  }

  /** The standard stream for an API on a path, probed once and shared between checks. */
  main(path: PathName, api: ApiKind): Promise<ProbeResult | undefined> {
    return this.cached(`main:${path}:${api}`, path, { api });
  }

  /** A named variant, probed once per path. */
  cached(key: string, path: PathName, spec: ProbeSpec): Promise<ProbeResult | undefined> {
    if (this.target(path) === undefined) return Promise.resolve(undefined);
    const fullKey = `${key}:${path}`;
    let probe = this.cache.get(fullKey);
    if (!probe) {
      probe = this.probe(path, spec) as Promise<ProbeResult>;
      this.cache.set(fullKey, probe);
    }
    return probe;
  }

  /** A fresh probe (not cached). */
  async probe(path: PathName, spec: ProbeSpec): Promise<ProbeResult | undefined> {
    const target = this.target(path);
    if (target === undefined) return undefined;
    const built = buildRequest({
      api: spec.api,
      stream: spec.stream ?? true,
      maxTokens: 256,
      target,
      messages: PROMPT,
      ...(spec.api === 'on-your-data' ? { dataSources: azureSearchDataSources(this.plan.search) } : {}),
    });
    const control = { ...PROBE_CONTROL, faults: {}, ...spec.control };
    const request: ProbeRequest = {
      url: built.url,
      body: { ...built.body, ...spec.bodyFields },
      headers: {
        ...(await this.authHeaders(path)),
        ...formatControlHeaders(control),
        'x-ms-client-request-id': randomUUID(),
        ...spec.headers,
      },
      timeoutMs: spec.timeoutMs ?? 30_000,
    };
    if (spec.closeAfterEvents !== undefined) request.closeAfterEvents = spec.closeAfterEvents;
    if (spec.closeAfterMs !== undefined) request.signal = AbortSignal.timeout(spec.closeAfterMs);
    return runProbe(request);
  }

  private async authHeaders(path: PathName): Promise<Readonly<Record<string, string>>> {
    let provider = this.authCache.get(path);
    if (!provider) {
      provider = createAuthHeaders(this.target(path)!.auth, this.plan.env);
      this.authCache.set(path, provider);
    }
    return (await provider)();
  }
}
