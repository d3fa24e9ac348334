/**
 * How a help text prints a default, so every `(default …)` of every command's --help is made
 * from that command's defaults object (test/unit/help-defaults.test.ts reads each one back and
 * compares it with what the resolver gives for an empty command line).
 */

/** `(default 30s)`, `(default chat,responses)`: a value of a defaults object as --help prints it. */
export function shownDefault(value: string | number | readonly (string | number)[]): string {
  return `(default ${Array.isArray(value) ? value.join(',') : String(value)})`;
}

/** A duration as flags take it: `2m`, `30s`, `50ms` (the largest unit that is whole). */
export function durationText(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
