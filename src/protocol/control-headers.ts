/**
 * Control headers: how a client asks the mock for a timing profile, a fault or ground-truth
 * stamps on a single request. The harness writes them with `formatControlHeaders`; the mock
 * reads them with `parseControlHeaders`. A real Azure endpoint ignores them.
 */

export const CONTROL_HEADERS = {
  /** Time to first content token, ms. */
  ttftMs: 'x-mock-ttft-ms',
  /** Mean inter-token latency, ms. */
  itlMs: 'x-mock-itl-ms',
  /** Standard deviation of the inter-token latency, ms. */
  jitterMs: 'x-mock-jitter-ms',
  /** `smooth` (one frame per token as generated) or `burst` (released in blocks). */
  mode: 'x-mock-mode',
  /** Tokens per released block in burst mode. */
  burstTokens: 'x-mock-burst-tokens',
  /** Natural length of the answer in tokens (before any max_tokens cut). */
  outputTokens: 'x-mock-output-tokens',
  /** PRNG seed for this request: same seed, same text, ids and timings. */
  seed: 'x-mock-seed',
  /** `1` to stamp every frame with its emission time (see stamp.ts). */
  stamp: 'x-mock-stamp',
  /** Comma-separated faults, each `name` or `name=value` (see FAULT_NAMES). */
  fault: 'x-mock-fault',
} as const;

export const TIMING_MODES = ['smooth', 'burst'] as const;
export type TimingMode = (typeof TIMING_MODES)[number];

/**
 * Faults the mock can inject. Values in parentheses are the `=value` argument.
 * - `429` (retry-after-ms, default 2000), `500`, `503`: error status with Azure's body.
 * - `disconnect-after` (N frames): destroys the connection after N frames.
 * - `stall` (ms, default 5000): goes quiet mid-stream (after half the content frames,
 *   or after `stall-after` frames), then carries on.
 * - `stall-after` (N frames): where the stall starts.
 * - `malformed-frame` (frame index, default middle): one frame's JSON is cut short.
 * - `split-utf8`: content carries a multibyte character whose bytes are written in two
 *   separate writes (and separate TCP segments when timing allows).
 * - `no-done`: the stream ends without `data: [DONE]`.
 * - `huge-frame` (bytes, default 1 MiB): one content frame padded to that size.
 * - `slow-headers` (ms, default 2000): response headers are held that long.
 * - `keepalive` (ms, default 1000): an SSE comment `: keep-alive` whenever the stream has
 *   been quiet that long.
 * - `responses-error`: Responses streams end with `event: error` + `response.failed`;
 *   chat/completions streams end with a `data: {"error":...}` frame.
 * - `buffered`: every frame is held and written at once at the end, as a buffering
 *   gateway would deliver it.
 */
export const FAULT_NAMES = [
  '429',
  '500',
  '503',
  'disconnect-after',
  'stall',
  'stall-after',
  'malformed-frame',
  'split-utf8',
  'no-done',
  'huge-frame',
  'slow-headers',
  'keepalive',
  'responses-error',
  'buffered',
] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/**
 * The values each fault takes (ms, frames or bytes): bounded, so one header cannot make the
 * mock allocate gigabytes (huge-frame) and take every other stream down, or flood a stream with
 * keep-alive comments (keepalive=1).
 */
const FAULT_VALUE_RANGE: Readonly<Record<FaultName, readonly [number, number]>> = {
  '429': [0, 600_000],
  '500': [0, 0],
  '503': [0, 0],
  'disconnect-after': [0, 1_000_000],
  stall: [0, 600_000],
  'stall-after': [0, 1_000_000],
  'malformed-frame': [0, 1_000_000],
  'split-utf8': [0, 0],
  'no-done': [0, 0],
  'huge-frame': [0, 64 * 1024 * 1024],
  'slow-headers': [0, 600_000],
  keepalive: [10, 600_000],
  'responses-error': [0, 0],
  buffered: [0, 0],
};

/** Faults by name; the value is the numeric argument, or `undefined` when none was given. */
export type FaultSet = Partial<Record<FaultName, number | undefined>>;

export interface MockControl {
  ttftMs?: number;
  itlMs?: number;
  jitterMs?: number;
  mode?: TimingMode;
  burstTokens?: number;
  outputTokens?: number;
  seed?: number;
  stamp?: boolean;
  faults: FaultSet;
}

/** A control header the mock could not understand; the mock answers 400 with this text. */
export class ControlHeaderError extends Error {
  readonly header: string;
  readonly reason: string;
  constructor(header: string, reason: string) {
    super(`Failed to read control header "${header}": ${reason}.`);
    this.name = 'ControlHeaderError';
    this.header = header;
    this.reason = reason;
  }
}

interface HeaderSource {
  get(name: string): string | null;
}

function readNumber(headers: HeaderSource, name: string, min: number, max: number): number | undefined {
  const raw = headers.get(name);
  if (raw === null || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new ControlHeaderError(name, `expected a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

function isFaultName(name: string): name is FaultName {
  return (FAULT_NAMES as readonly string[]).includes(name);
}

/** Parses `name[=value], ...` into a FaultSet; unknown names are an error, not ignored. */
export function parseFaults(raw: string | null): FaultSet {
  const faults: FaultSet = {};
  if (raw === null) return faults;
  for (const part of raw.split(',')) {
    const item = part.trim();
    if (item === '') continue;
    const [name = '', value] = item.split('=', 2).map((s) => s.trim());
    if (!isFaultName(name)) {
      throw new ControlHeaderError(
        CONTROL_HEADERS.fault,
        `unknown fault "${name}"; allowed: ${FAULT_NAMES.join(', ')}`,
      );
    }
    if (value === undefined) {
      faults[name] = undefined;
      continue;
    }
    const n = Number(value);
    const [min, max] = FAULT_VALUE_RANGE[name];
    if (value === '' || !Number.isInteger(n) || n < min || n > max) {
      throw new ControlHeaderError(
        CONTROL_HEADERS.fault,
        `fault "${name}" needs a whole number from ${min} to ${max.toLocaleString('en-US')}, got "${value.slice(0, 40)}"`,
      );
    }
    faults[name] = n;
  }
  return faults;
}

/** Reads every control header; throws ControlHeaderError naming the bad header. */
export function parseControlHeaders(headers: HeaderSource): MockControl {
  const mode = headers.get(CONTROL_HEADERS.mode);
  if (mode !== null && !(TIMING_MODES as readonly string[]).includes(mode)) {
    throw new ControlHeaderError(CONTROL_HEADERS.mode, `expected one of ${TIMING_MODES.join(', ')}, got "${mode}"`);
  }
  const control: MockControl = { faults: parseFaults(headers.get(CONTROL_HEADERS.fault)) };
  const ttftMs = readNumber(headers, CONTROL_HEADERS.ttftMs, 0, 600_000);
  const itlMs = readNumber(headers, CONTROL_HEADERS.itlMs, 0, 60_000);
  const jitterMs = readNumber(headers, CONTROL_HEADERS.jitterMs, 0, 60_000);
  const burstTokens = readNumber(headers, CONTROL_HEADERS.burstTokens, 1, 100_000);
  const outputTokens = readNumber(headers, CONTROL_HEADERS.outputTokens, 1, 1_000_000);
  const seed = readNumber(headers, CONTROL_HEADERS.seed, 0, 2 ** 32 - 1);
  if (ttftMs !== undefined) control.ttftMs = ttftMs;
  if (itlMs !== undefined) control.itlMs = itlMs;
  if (jitterMs !== undefined) control.jitterMs = jitterMs;
  if (mode !== null) control.mode = mode as TimingMode;
  if (burstTokens !== undefined) control.burstTokens = burstTokens;
  if (outputTokens !== undefined) control.outputTokens = outputTokens;
  if (seed !== undefined) control.seed = seed;
  const stamp = headers.get(CONTROL_HEADERS.stamp);
  if (stamp !== null) control.stamp = stamp === '1' || stamp === 'true';
  return control;
}

/** Writes a MockControl as request headers (the inverse of parseControlHeaders). */
export function formatControlHeaders(control: Partial<MockControl>): Record<string, string> {
  const out: Record<string, string> = {};
  const numeric = ['ttftMs', 'itlMs', 'jitterMs', 'burstTokens', 'outputTokens', 'seed'] as const;
  for (const key of numeric) {
    const value = control[key];
    if (value !== undefined) out[CONTROL_HEADERS[key]] = String(value);
  }
  if (control.mode !== undefined) out[CONTROL_HEADERS.mode] = control.mode;
  if (control.stamp !== undefined) out[CONTROL_HEADERS.stamp] = control.stamp ? '1' : '0';
  const faults = formatFaults(control.faults ?? {});
  if (faults !== '') out[CONTROL_HEADERS.fault] = faults;
  return out;
}

/** A FaultSet as `name[=value],…` (the inverse of parseFaults). */
export function formatFaults(faults: FaultSet): string {
  return Object.entries(faults)
    .map(([name, value]) => (value === undefined ? name : `${name}=${value}`))
    .join(',');
}
