/**
 * One error module with stable codes. During a run, request failures are data (outcome
 * codes), not exceptions; these classes are for misconfiguration and for the few places
 * that must throw. Messages read: `Failed to <action> "<subject>": <reason>. <fix>`.
 */

export const ERROR_CODES = [
  'E_INVALID_OPTION',
  'E_TIMEOUT_CONNECT',
  'E_TIMEOUT_HEADERS',
  'E_TIMEOUT_FIRST_TOKEN',
  'E_TIMEOUT_IDLE',
  'E_TIMEOUT_TOTAL',
  'E_HTTP_STATUS',
  'E_STREAM_PROTOCOL',
  'E_ABORTED',
  'E_LAB_STATE',
  'E_AZURE',
  'E_REFUSED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class LabError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'LabError';
    this.code = code;
  }
}

/** A flag, option or config value outside what is allowed. CLIs exit 2 on it. */
export class InvalidOptionError extends LabError {
  readonly option: string;
  constructor(option: string, reason: string, allowed: string) {
    super('E_INVALID_OPTION', `Failed to read option "${option}": ${reason}. Allowed: ${allowed}.`);
    this.name = 'InvalidOptionError';
    this.option = option;
  }
}

export type TimeoutPhase = 'connect' | 'headers' | 'first-token' | 'idle' | 'total';

const TIMEOUT_CODES: Record<TimeoutPhase, ErrorCode> = {
  connect: 'E_TIMEOUT_CONNECT',
  headers: 'E_TIMEOUT_HEADERS',
  'first-token': 'E_TIMEOUT_FIRST_TOKEN',
  idle: 'E_TIMEOUT_IDLE',
  total: 'E_TIMEOUT_TOTAL',
};

export class TimeoutError extends LabError {
  readonly phase: TimeoutPhase;
  readonly timeoutMs: number;
  constructor(phase: TimeoutPhase, subject: string, timeoutMs: number) {
    super(TIMEOUT_CODES[phase], `Failed to receive ${phase} of "${subject}": no progress within ${timeoutMs} ms.`);
    this.name = 'TimeoutError';
    this.phase = phase;
    this.timeoutMs = timeoutMs;
  }
}

export class HttpStatusError extends LabError {
  readonly status: number;
  constructor(subject: string, status: number, detail: string) {
    super('E_HTTP_STATUS', `Failed to request "${subject}": HTTP ${status}. ${detail}`);
    this.name = 'HttpStatusError';
    this.status = status;
  }
}

export class StreamProtocolError extends LabError {
  constructor(subject: string, reason: string) {
    super('E_STREAM_PROTOCOL', `Failed to read stream "${subject}": ${reason}.`);
    this.name = 'StreamProtocolError';
  }
}

export function isLabError(value: unknown): value is LabError {
  return value instanceof LabError;
}
