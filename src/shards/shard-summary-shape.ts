import { HISTOGRAM_METRICS } from '../bench/aggregate.ts';

/**
 * The shape of a shard's summary.json, checked field by field before a merge does any work: a
 * summary edited by hand, truncated or from another tool is refused naming the field, what it
 * holds and what is allowed, never a TypeError half-way through the merge. Only what the merge
 * reads (and what the merged run's reports print) is checked; the rest is carried over as is.
 */
export interface ShapeProblem {
  /** The field, as a path into summary.json (`run.targets`, `scenarios[0].load`). */
  field: string;
  /** What it holds (`null`, `missing`, `an array`, `"abc"`). */
  is: string;
  /** What a shard writes there. */
  allowed: string;
}

type Check = (value: unknown) => boolean;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const str: Check = (v) => typeof v === 'string';
const bool: Check = (v) => typeof v === 'boolean';
const finite: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const count: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const orNull =
  (check: Check): Check =>
  (v) =>
    v === null || check(v);

/** What a value is, in a few words, for a refusal. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** The first field of `summary` (already known to hold an object `run` and an array `scenarios`) that a merge cannot use; undefined when it fits. */
export function shardSummaryProblem(summary: { run: unknown; scenarios: unknown[] }): ShapeProblem | undefined {
  const problem = (field: string, value: unknown, allowed: string): ShapeProblem => ({
    field,
    is: describeValue(value),
    allowed,
  });
  const fields = (
    at: string,
    object: Record<string, unknown>,
    spec: Array<[string, Check, string]>,
  ): ShapeProblem | undefined => {
    for (const [name, check, allowed] of spec)
      if (!check(object[name])) return problem(`${at}.${name}`, object[name], allowed);
    return undefined;
  };

  const run = summary.run as Record<string, unknown>;
  const top = fields('run', run, [
    ['startedAt', str, 'an ISO 8601 time'],
    ['endedAt', str, 'an ISO 8601 time'],
    ['interrupted', bool, 'true or false'],
    ['seed', (v) => Number.isSafeInteger(v), 'an integer'],
    ['host', isObject, 'an object {platform, cpus, cpuModel}'],
    ['targets', Array.isArray, 'an array of targets {label, baseUrl, apiStyle, deployment, apiVersion}'],
    ['load', isObject, 'an object (the load model)'],
    ['harness', (v) => v === undefined || v === null || isObject(v), 'absent, null or an object (the harness health)'],
  ]);
  if (top) return top;
  const shard = run['shard'] as Record<string, unknown>;
  const startLate = fields('run.shard', shard, [
    ['startLateMs', (v) => v === undefined || orNull(finite)(v), 'a number of ms, or null'],
  ]);
  if (startLate) return startLate;
  const host = fields('run.host', run['host'] as Record<string, unknown>, [
    ['platform', str, 'a string'],
    ['cpus', count, 'a whole number'],
    ['cpuModel', str, 'a string'],
  ]);
  if (host) return host;
  const targets = run['targets'] as unknown[];
  for (const [i, target] of targets.entries()) {
    if (!isObject(target))
      return problem(`run.targets[${i}]`, target, 'an object {label, baseUrl, apiStyle, deployment, apiVersion}');
    const wrong = fields(`run.targets[${i}]`, target, [
      ['label', str, 'a string'],
      ...(['baseUrl', 'apiStyle', 'deployment', 'apiVersion'] as const).map((name): [string, Check, string] => [
        name,
        (v) => v === undefined || str(v),
        'a string',
      ]),
    ]);
    if (wrong) return wrong;
  }
  if ('interleaved' in (run['load'] as object) && !bool((run['load'] as Record<string, unknown>)['interleaved']))
    return problem('run.load.interleaved', (run['load'] as Record<string, unknown>)['interleaved'], 'true or false');

  for (const [i, scenario] of summary.scenarios.entries()) {
    const at = `scenarios[${i}]`;
    if (!isObject(scenario))
      return problem(
        at,
        scenario,
        'an object (one scenario: name, path, api, stream, maxTokens, requests, ok, load, histograms)',
      );
    const wrong = fields(at, scenario, [
      ['name', str, 'a string'],
      ['path', str, 'a string (a target label)'],
      ['api', str, 'a string'],
      ['stream', bool, 'true or false'],
      [
        'maxTokens',
        (v) => v === 'max' || (Number.isSafeInteger(v) && (v as number) > 0),
        'a positive integer or "max"',
      ],
      ['requests', count, 'a whole number'],
      [
        'ok',
        (v) => count(v) && (v as number) <= (scenario['requests'] as number),
        `a whole number, at most requests (${String(scenario['requests'])})`,
      ],
      ['load', (v) => v === null || isObject(v), 'null or an object {stoppedBy, achievedRatePerSec, meanInFlight}'],
      ['histograms', (v) => v === undefined || isObject(v), 'absent or an object of encoded histograms'],
    ]);
    if (wrong) return wrong;
    const load = scenario['load'];
    if (isObject(load)) {
      const bad = fields(`${at}.load`, load, [
        ['stoppedBy', str, 'a string'],
        ['achievedRatePerSec', orNull(finite), 'a number or null'],
        ['meanInFlight', orNull(finite), 'a number or null'],
      ]);
      if (bad) return bad;
    }
    const histograms = scenario['histograms'];
    if (isObject(histograms)) {
      for (const metric of HISTOGRAM_METRICS)
        if (metric in histograms && !str(histograms[metric]))
          return problem(`${at}.histograms.${metric}`, histograms[metric], 'an encoded histogram (a string)');
    }
  }
  return undefined;
}
