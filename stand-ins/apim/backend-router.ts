import type { IncomingHttpHeaders } from 'node:http';
import type { BackendTable, BreakerRule, PoolMember } from '../../src/protocol/index.ts';

/** Where one attempt goes: a single backend and its origin. */
export interface RoutedBackend {
  kind: 'backend';
  name: string;
  url: URL;
}

/** No backend can take the attempt: every one tripped (APIM answers 503 at once). */
export interface Unavailable {
  kind: 'unavailable';
  message: string;
}

interface BreakerState {
  rule: BreakerRule;
  /** Times (ms, the router's clock) of failures inside the rule's interval. */
  failures: number[];
  trippedUntil: number;
}

/**
 * APIM's backends, as the gateway routes to them: a single backend, or a pool that takes the
 * lowest priority group with a backend not tripped and, inside it, spreads by weight (smooth
 * weighted round robin: exact proportions, the same order on every run; APIM's own choice
 * within a group is not documented). A circuit breaker counts the responses whose status falls
 * in its ranges within its interval and, at `count`, trips the backend for `tripDuration`, or
 * for the backend's `Retry-After` when `acceptRetryAfter` is set. `now` is injectable so tests
 * drive trips with a fake clock.
 */
export class BackendRouter {
  private readonly breakers = new Map<string, BreakerState>();
  /** Smooth weighted round robin: each pool member's running credit. */
  private readonly credit = new Map<string, number>();

  private readonly table: BackendTable;
  private readonly urls: ReadonlyMap<string, URL>;
  private readonly now: () => number;

  constructor(table: BackendTable, urls: ReadonlyMap<string, URL>, now: () => number = Date.now) {
    this.table = table;
    this.urls = urls;
    this.now = now;
    for (const backend of table.singles.values())
      if (backend.breaker)
        this.breakers.set(backend.name, { rule: backend.breaker, failures: [], trippedUntil: -Infinity });
  }

  /** Does `id` name a backend (single or pool) of this table? */
  has(id: string): boolean {
    return this.table.singles.has(id) || this.table.pools.has(id);
  }

  /** The backend for the next attempt at `id` (a single backend or a pool). */
  select(id: string): RoutedBackend | Unavailable {
    const pool = this.table.pools.get(id);
    if (pool === undefined) {
      if (this.isTripped(id))
        return {
          kind: 'unavailable',
          message: `Backend ${id} is temporarily unavailable: its circuit breaker is tripped.`,
        };
      return this.routed(id);
    }
    const open = pool.members.filter((m) => !this.isTripped(m.name));
    if (open.length === 0)
      return {
        kind: 'unavailable',
        message: `Backend pool ${id} is temporarily unavailable: every backend in it is tripped.`,
      };
    const top = Math.min(...open.map((m) => m.priority));
    return this.routed(
      this.byWeight(
        id,
        open.filter((m) => m.priority === top),
      ).name,
    );
  }

  /** A backend's response: counts toward its breaker. */
  observe(name: string, status: number, headers: IncomingHttpHeaders): void {
    const state = this.breakers.get(name);
    if (!state?.rule.statusCodeRanges.some((r) => status >= r.min && status <= r.max)) return;
    this.countFailure(state, headers);
  }

  /**
   * A backend that could not be reached (connection refused or reset, no answer in time):
   * a failure for a breaker whose rule lists error reasons (APIM's failureCondition.errorReasons;
   * see BreakerRule), else not counted.
   */
  observeUnreachable(name: string): void {
    const state = this.breakers.get(name);
    if (!state || state.rule.errorReasons.length === 0) return;
    this.countFailure(state, {});
  }

  private countFailure(state: BreakerState, headers: IncomingHttpHeaders): void {
    const now = this.now();
    state.failures = state.failures.filter((t) => t > now - state.rule.intervalMs);
    state.failures.push(now);
    if (state.failures.length < state.rule.count) return;
    const retryAfter = state.rule.acceptRetryAfter ? retryAfterMs(headers) : undefined;
    state.trippedUntil = now + (retryAfter ?? state.rule.tripDurationMs);
    state.failures = [];
  }

  isTripped(name: string): boolean {
    const state = this.breakers.get(name);
    return state !== undefined && this.now() < state.trippedUntil;
  }

  private routed(name: string): RoutedBackend {
    const url = this.urls.get(name);
    // Checked when the gateway starts: every single backend has a URL.
    if (url === undefined) throw new Error(`backend "${name}" has no URL`);
    return { kind: 'backend', name, url };
  }

  private byWeight(pool: string, members: readonly PoolMember[]): PoolMember {
    if (members.length === 1) return members[0]!;
    const total = members.reduce((sum, m) => sum + m.weight, 0);
    let best = members[0]!;
    let bestCredit = -Infinity;
    for (const member of members) {
      const key = `${pool}/${member.name}`;
      const credit = (this.credit.get(key) ?? 0) + member.weight;
      this.credit.set(key, credit);
      if (credit > bestCredit) {
        best = member;
        bestCredit = credit;
      }
    }
    const key = `${pool}/${best.name}`;
    this.credit.set(key, this.credit.get(key)! - total);
    return best;
  }
}

/**
 * `Retry-After` as seconds or an HTTP date, in ms; undefined when absent or unreadable. APIM
 * documents this header only, so Azure OpenAI's `retry-after-ms` is not read.
 */
function retryAfterMs(headers: IncomingHttpHeaders): number | undefined {
  const raw = headers['retry-after'];
  if (raw === undefined || raw === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
