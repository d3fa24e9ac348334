/**
 * Ground-truth stamps. When asked (control header `x-mock-stamp: 1`), the mock writes an SSE
 * comment line at the top of every event block:
 *
 *     : emit-ns=81234567890123 seq=4 due-us=1250
 *     data: {"choices":[...]}
 *
 * `emit-ns` is `process.hrtime.bigint()` at the moment the frame was emitted (frames due
 * together are handed to the socket in one write, in the same pass of the emitter).
 * `due-us` is when the frame's schedule planned it, in microseconds after emission started:
 * a seed reproduces it exactly, and `emit - (start + due)` is the mock's own lateness, which
 * a verifier must not blame on the gateway.
 * On Linux that clock is CLOCK_MONOTONIC, system-wide, so a client on the same host can
 * subtract it from its own arrival time to get the frame's delivery latency. `seq` counts
 * the stamped frames of one response from 0. SSE parsers (the openai SDK included) ignore
 * comment lines, so the JSON a client parses does not change.
 */

const STAMP_PATTERN = /^\s?emit-ns=(\d+) seq=(\d+)(?: due-us=(\d+))?$/;

export interface FrameStamp {
  emitNs: bigint;
  seq: number;
  /** Planned emission time, µs after the stream's emission started (absent from older stamps). */
  dueUs?: number;
}

/** The comment line (with its newline) that precedes a frame's `data:`/`event:` lines. */
export function formatStampLine(emitNs: bigint, seq: number, dueUs?: number): string {
  return dueUs === undefined ? `: emit-ns=${emitNs} seq=${seq}\n` : `: emit-ns=${emitNs} seq=${seq} due-us=${dueUs}\n`;
}

/**
 * Reads a stamp from a comment's text as SSE parsers report it (without the leading `:`,
 * possibly with one leading space). Returns undefined for any other comment.
 */
export function parseStampComment(comment: string): FrameStamp | undefined {
  const match = STAMP_PATTERN.exec(comment);
  if (match === null) return undefined;
  const stamp: FrameStamp = { emitNs: BigInt(match[1] ?? '0'), seq: Number(match[2]) };
  if (match[3] !== undefined) stamp.dueUs = Number(match[3]);
  return stamp;
}
