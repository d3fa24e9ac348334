/**
 * Ground-truth stamps. When asked (control header `x-mock-stamp: 1`), the mock writes an SSE
 * comment line at the top of every event block:
 *
 *     : emit-ns=81234567890123 seq=4
 *     data: {"choices":[...]}
 *
 * `emit-ns` is `process.hrtime.bigint()` at the moment the frame was handed to the socket.
 * On Linux that clock is CLOCK_MONOTONIC, system-wide, so a client on the same host can
 * subtract it from its own arrival time to get the frame's delivery latency. `seq` counts
 * the stamped frames of one response from 0. SSE parsers (the openai SDK included) ignore
 * comment lines, so the JSON a client parses does not change.
 */

const STAMP_PATTERN = /^\s?emit-ns=(\d+) seq=(\d+)$/;

export interface FrameStamp {
  emitNs: bigint;
  seq: number;
}

/** The comment line (with its newline) that precedes a frame's `data:`/`event:` lines. */
export function formatStampLine(emitNs: bigint, seq: number): string {
  return `: emit-ns=${emitNs} seq=${seq}\n`;
}

/**
 * Reads a stamp from a comment's text as SSE parsers report it (without the leading `:`,
 * possibly with one leading space). Returns undefined for any other comment.
 */
export function parseStampComment(comment: string): FrameStamp | undefined {
  const match = STAMP_PATTERN.exec(comment);
  if (match === null) return undefined;
  return { emitNs: BigInt(match[1] ?? '0'), seq: Number(match[2]) };
}
