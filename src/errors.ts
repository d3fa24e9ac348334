/**
 * One error module with stable codes. During a run, a request's failure is data, never an
 * exception: it ends with an outcome code (`OutcomeCode` in src/client/outcome.ts: timeouts by
 * phase, `http_<status>`, protocol errors), which the run counts. These classes are for
 * misconfiguration and for the few places that must stop a command.
 * Messages read: `Failed to <action> "<subject>": <reason>. <fix>`.
 */

export const ERROR_CODES = [
  /** A flag, option or config value outside what is allowed (CLIs exit 2). */
  'E_INVALID_OPTION',
  /** The lab state file is missing, unreadable, or records another kind of lab. */
  'E_LAB_STATE',
  /** A process the lab starts (mock, gateway) did not start or did not answer. */
  'E_PROCESS_START',
  /** A guided lab could not measure what it set out to (no matching scenario, no successful request, misuse of the lab API). */
  'E_LAB_RESULT',
  /** Azure Resource Manager refused or failed an operation. */
  'E_AZURE',
  /** A destructive operation was not confirmed, or its target is not ours. */
  'E_REFUSED',
  /** Ctrl-C (SIGINT) or SIGTERM stopped a command before it had anything to write (CLIs exit 130). */
  'E_INTERRUPTED',
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

export function isLabError(value: unknown): value is LabError {
  return value instanceof LabError;
}
