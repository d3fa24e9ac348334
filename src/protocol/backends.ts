import { readFileSync } from 'node:fs';

/**
 * A lab backends file: APIM backend resources as ARM models them (`Microsoft.ApiManagement/
 * service/backends`, api-version 2024-05-01), one `{ name, properties }` per backend, so the
 * same file configures the local gateway and is what the Azure path PUTs. Single backends
 * carry `url` (omitted: the lab provisions one, a mock locally or an Azure OpenAI account on
 * Azure) and an optional `circuitBreaker`; a `type: "Pool"` backend lists them in
 * `pool.services` with `priority` and `weight`. Shapes: ../shared/notes/apim-ai-gateway.md.
 */

export interface StatusCodeRange {
  min: number;
  max: number;
}

export interface CircuitBreakerRule {
  name?: string;
  failureCondition: {
    count: number;
    /** ISO 8601 duration, e.g. `PT1M`. */
    interval: string;
    statusCodeRanges?: StatusCodeRange[];
    errorReasons?: string[];
  };
  /** ISO 8601 duration the backend stays tripped. */
  tripDuration: string;
  /** Trip for as long as the backend's `Retry-After` says instead, when it says. */
  acceptRetryAfter?: boolean;
}

export interface PoolService {
  /** `/backends/<name>`, or a full ARM id ending so. */
  id: string;
  priority?: number;
  weight?: number;
}

export interface BackendProperties {
  url?: string;
  protocol?: 'http' | 'soap';
  title?: string;
  description?: string;
  type?: 'Single' | 'Pool';
  pool?: { services: PoolService[] };
  circuitBreaker?: { rules: CircuitBreakerRule[] };
}

export interface BackendEntry {
  name: string;
  properties: BackendProperties;
}

/** A breaker rule with its durations in ms. */
export interface BreakerRule {
  name: string;
  count: number;
  intervalMs: number;
  statusCodeRanges: StatusCodeRange[];
  tripDurationMs: number;
  acceptRetryAfter: boolean;
  /**
   * failureCondition.errorReasons as the file gives them. APIM documents the field (a list of
   * error reasons that count as failures) but not its vocabulary; the local gateway counts a
   * backend it cannot reach (connection refused or reset, no answer in time) as a failure of a
   * rule that lists any error reason.
   */
  errorReasons: string[];
}

export interface SingleBackend {
  name: string;
  /** Undefined until the lab provisions it (a mock locally, an account on Azure). */
  url: string | undefined;
  breaker: BreakerRule | undefined;
}

export interface PoolMember {
  name: string;
  priority: number;
  weight: number;
}

export interface PoolBackend {
  name: string;
  members: PoolMember[];
}

/** The file read and checked: entries as written (for ARM), singles and pools as the gateway routes them. */
export interface BackendTable {
  entries: BackendEntry[];
  singles: Map<string, SingleBackend>;
  pools: Map<string, PoolBackend>;
  /** Fields APIM honours that the local gateway does not, once each. */
  ignored: string[];
}

/** A backends file APIM would refuse (or the local gateway cannot honour): what and where. */
export class BackendsFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendsFileError';
  }
}

/** What `--backends` takes, for the flag errors of every CLI that reads the file. */
export const BACKENDS_FILE_SHAPE =
  'a JSON array of APIM backend resources, each { "name", "properties" } (docs/gateway.md)';

/** APIM allows at most 30 backends in a pool. */
export const MAX_POOL_SERVICES = 30;
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,78}[A-Za-z0-9])?$/;
const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** An ISO 8601 duration (`PT1M`, `PT10S`, `P1DT2H`) in ms; undefined when it is not one. */
export function isoDurationMs(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (!match || text === 'P' || text.endsWith('T')) return undefined;
  const [, days, hours, minutes, seconds] = match.map((part) => Number(part ?? 0));
  return Math.round((((days! * 24 + hours!) * 60 + minutes!) * 60 + seconds!) * 1000);
}

/** Reads and checks a backends file; BackendsFileError says what is wrong (unreadable, not JSON, or a shape APIM would refuse). */
export function readBackendsFile(file: string): BackendTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new BackendsFileError(
      `cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new BackendsFileError(`"${file}" is not JSON (${(error as Error).message})`);
  }
  try {
    return parseBackends(value);
  } catch (error) {
    if (error instanceof BackendsFileError) throw new BackendsFileError(`"${file}": ${error.message}`);
    throw error;
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** Reads a parsed backends file; throws BackendsFileError naming the backend and the field. */
export function parseBackends(value: unknown): BackendTable {
  if (!Array.isArray(value) || value.length === 0)
    throw new BackendsFileError('the file must hold a JSON array of backends, each { "name": …, "properties": { … } }');
  const entries: BackendEntry[] = [];
  const seen = new Set<string>();
  for (const [index, raw] of value.entries()) {
    if (!isObject(raw) || typeof raw['name'] !== 'string' || !isObject(raw['properties']))
      throw new BackendsFileError(`backend ${index + 1} needs "name" (a string) and "properties" (an object)`);
    const name = raw['name'];
    if (!NAME.test(name))
      throw new BackendsFileError(
        `backend "${name}": a name is 1–80 letters, digits or hyphens, starting and ending with a letter or digit`,
      );
    if (seen.has(name.toLowerCase())) throw new BackendsFileError(`backend "${name}" is named twice`);
    seen.add(name.toLowerCase());
    entries.push({ name, properties: raw['properties'] as BackendProperties });
  }
  const singles = new Map<string, SingleBackend>();
  for (const { name, properties } of entries.filter((e) => e.properties.type !== 'Pool')) {
    if (properties.type !== undefined && properties.type !== 'Single')
      throw new BackendsFileError(`backend "${name}": type "${String(properties.type)}" (allowed: Single, Pool)`);
    if (properties.url !== undefined && !isHttpUrl(properties.url))
      throw new BackendsFileError(
        `backend "${name}": url "${String(properties.url)}" is not an http(s) URL (omit it to let the lab provision the backend)`,
      );
    singles.set(name, { name, url: properties.url, breaker: breakerOf(name, properties.circuitBreaker) });
  }
  const pools = new Map<string, PoolBackend>();
  for (const { name, properties } of entries.filter((e) => e.properties.type === 'Pool')) {
    if (properties.circuitBreaker !== undefined)
      throw new BackendsFileError(
        `backend "${name}": a circuit breaker belongs on the pool's single backends, not on the pool`,
      );
    if (!isObject(properties.pool))
      throw new BackendsFileError(
        `pool "${name}" needs pool, an object { "services": [ … ] }, not ${JSON.stringify(properties.pool ?? null)}`,
      );
    const services = properties.pool.services;
    if (!Array.isArray(services) || services.length === 0)
      throw new BackendsFileError(`pool "${name}" needs pool.services, a non-empty list`);
    if (services.length > MAX_POOL_SERVICES)
      throw new BackendsFileError(
        `pool "${name}" has ${services.length} services; APIM allows at most ${MAX_POOL_SERVICES}`,
      );
    const members = services.map((service, i) => poolMember(name, service, i, singles));
    pools.set(name, { name, members });
  }
  const ignored: string[] = [];
  for (const { name, properties } of entries) {
    const extra = properties as Record<string, unknown>;
    for (const field of ['credentials', 'proxy', 'tls', 'resourceId'])
      if (Object.hasOwn(extra, field) && extra[field] !== undefined) ignored.push(`backend "${name}" ${field}`);
    if (isObject(properties.pool) && (properties.pool as Record<string, unknown>)['sessionAffinity'] !== undefined)
      ignored.push(`pool "${name}" sessionAffinity`);
  }
  return { entries, singles, pools, ignored };
}

function isHttpUrl(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

function poolMember(
  pool: string,
  service: PoolService,
  index: number,
  singles: ReadonlyMap<string, SingleBackend>,
): PoolMember {
  const where = `pool "${pool}" service ${index + 1}`;
  if (!isObject(service))
    throw new BackendsFileError(
      `${where}: each service is an object { "id": "/backends/<name>", "priority", "weight" }, not ${JSON.stringify(service)}`,
    );
  const id = typeof service?.id === 'string' ? service.id : '';
  const name = /\/backends\/([^/]+)$/i.exec(id)?.[1];
  if (name === undefined)
    throw new BackendsFileError(`${where}: id "${id}" must be /backends/<name> (or a full ARM id ending so)`);
  if (!singles.has(name))
    throw new BackendsFileError(`${where}: "${name}" is not a single backend of this file (a pool cannot hold a pool)`);
  const priority = service.priority ?? 1;
  const weight = service.weight ?? 1;
  if (!Number.isInteger(priority) || priority < 0 || priority > 100)
    throw new BackendsFileError(
      `${where}: priority ${String(service.priority)} (an integer from 0 to 100; lower goes first)`,
    );
  if (!Number.isInteger(weight) || weight < 1 || weight > 100)
    throw new BackendsFileError(`${where}: weight ${String(service.weight)} (an integer from 1 to 100)`);
  return { name, priority, weight };
}

function breakerOf(backend: string, breaker: BackendProperties['circuitBreaker']): BreakerRule | undefined {
  if (breaker === undefined) return undefined;
  if (!isObject(breaker))
    throw new BackendsFileError(
      `backend "${backend}": circuitBreaker must be an object { "rules": [ … ] }, not ${JSON.stringify(breaker)}`,
    );
  const rules = breaker.rules;
  // ARM takes a list, and APIM supports exactly one rule per backend.
  if (!Array.isArray(rules) || rules.length !== 1)
    throw new BackendsFileError(
      `backend "${backend}": circuitBreaker.rules must hold exactly one rule (APIM supports one per backend)`,
    );
  const rule = rules[0]!;
  const where = `backend "${backend}" circuit breaker`;
  if (!isObject(rule)) throw new BackendsFileError(`${where}: its rule must be an object, not ${JSON.stringify(rule)}`);
  const condition = rule.failureCondition;
  if (!isObject(condition)) throw new BackendsFileError(`${where}: failureCondition is missing`);
  if (!Number.isInteger(condition.count) || condition.count < 1)
    throw new BackendsFileError(
      `${where}: failureCondition.count ${String(condition.count)} (a positive integer; percentage conditions are not implemented locally)`,
    );
  const intervalMs = isoDurationMs(String(condition.interval));
  if (intervalMs === undefined || intervalMs <= 0)
    throw new BackendsFileError(
      `${where}: failureCondition.interval "${String(condition.interval)}" (an ISO 8601 duration such as PT1M)`,
    );
  const tripDurationMs = isoDurationMs(String(rule.tripDuration));
  if (tripDurationMs === undefined)
    throw new BackendsFileError(
      `${where}: tripDuration "${String(rule.tripDuration)}" (an ISO 8601 duration such as PT1M)`,
    );
  const ranges = condition.statusCodeRanges ?? [];
  if (!Array.isArray(ranges))
    throw new BackendsFileError(
      `${where}: failureCondition.statusCodeRanges must be a list of { "min", "max" }, not ${JSON.stringify(ranges)}`,
    );
  for (const range of ranges) {
    if (
      !isObject(range) ||
      !Number.isInteger(range.min) ||
      !Number.isInteger(range.max) ||
      range.min < 100 ||
      range.max > 599 ||
      range.min > range.max
    ) {
      throw new BackendsFileError(
        `${where}: statusCodeRanges entry ${JSON.stringify(range)} (each { "min": 100–599, "max": ≥ min })`,
      );
    }
  }
  const reasons = condition.errorReasons ?? [];
  if (!Array.isArray(reasons) || reasons.some((r) => typeof r !== 'string' || r === ''))
    throw new BackendsFileError(
      `${where}: failureCondition.errorReasons must be a list of error reasons (strings), not ${JSON.stringify(reasons)}`,
    );
  if (ranges.length === 0 && reasons.length === 0)
    throw new BackendsFileError(
      `${where}: failureCondition needs statusCodeRanges or errorReasons (nothing would ever trip it)`,
    );
  return {
    name: rule.name ?? 'rule',
    count: condition.count,
    intervalMs,
    statusCodeRanges: ranges,
    tripDurationMs,
    acceptRetryAfter: rule.acceptRetryAfter === true,
    errorReasons: reasons,
  };
}

/** The backends of a table the lab must provision (no url in the file), in file order. */
export function provisionedBackends(table: BackendTable): string[] {
  return [...table.singles.values()].filter((b) => b.url === undefined).map((b) => b.name);
}
