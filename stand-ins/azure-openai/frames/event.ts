import { DEFAULT_HUGE_FRAME_BYTES, type Generation } from '../generation.ts';

/**
 * A frame the mock will write: the SSE block text (ending in a blank line, without the
 * ground-truth stamp) and when to write it, in ms after the response started.
 */
export interface PlannedEvent {
  atMs: number;
  text: string;
  /** Carries content (a token); used to place faults such as `stall` and `malformed-frame`. */
  isContent: boolean;
  /** The `data: [DONE]` terminator, which the `no-done` fault drops. */
  isTerminator?: boolean;
}

export function dataEvent(atMs: number, payload: unknown, isContent = false): PlannedEvent {
  return { atMs, text: `data: ${JSON.stringify(payload)}\n\n`, isContent };
}

/** The `prefix`/`suffix` that make a JsonTemplate render a whole `data:` frame (a ContentRun's renderer). */
export const DATA_FRAME = ['data: ', '\n\n'] as const;

export function namedEvent(atMs: number, name: string, payload: unknown, isContent = false): PlannedEvent {
  return { atMs, text: `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`, isContent };
}

export function doneEvent(atMs: number): PlannedEvent {
  return { atMs, text: 'data: [DONE]\n\n', isContent: false, isTerminator: true };
}

/**
 * Content frames for tokens [from, to): frame i is due at `times[i]` and rendered by
 * `render(i)` only when the emitter writes it, so a stream of 1,000 tokens allocates no
 * object per frame (the mock capacity benchmark is why). Frames are rendered once each, in
 * token order: renderers may draw from the stream's PRNG (obfuscation) or count (Responses
 * sequence numbers).
 */
export class ContentRun {
  readonly times: Float64Array;
  readonly from: number;
  readonly to: number;
  readonly render: (i: number) => string;

  constructor(times: Float64Array, from: number, to: number, render: (i: number) => string) {
    this.times = times;
    this.from = from;
    this.to = to;
    this.render = render;
  }

  /** The same frames one event at a time, for the schedule faults. */
  *events(): Generator<PlannedEvent> {
    for (let i = this.from; i < this.to; i++) yield { atMs: this.times[i]!, text: this.render(i), isContent: true };
  }
}

/** What a frame builder yields: single frames, and runs of token frames. */
export type PlannedItem = PlannedEvent | ContentRun;

/** How an API renders the token faults' frames. */
export interface TokenFaultFrames {
  /** The `huge-frame` fault: token i's frame padded with `padBytes` of obfuscation. */
  huge(i: number, atMs: number, padBytes: number): PlannedEvent;
  /** The `responses-error` fault: the error frames that end the stream at the middle token. */
  error(atMs: number): PlannedEvent[];
}

/**
 * A stream's token frames, the same for every API: runs of `render(i)`; at the middle token,
 * the `huge-frame` fault's padded frame or the `responses-error` fault's error frames.
 * Returns true when the error ended the stream (the builder then yields nothing more).
 */
export function* tokenFrames(
  gen: Generation,
  render: (i: number) => string,
  faults: TokenFaultFrames,
): Generator<PlannedItem, boolean> {
  const count = gen.tokens.length;
  const times = gen.tokenTimesMs;
  const middle = Math.floor(count / 2);
  const fault =
    count === 0
      ? undefined
      : 'responses-error' in gen.faults
        ? 'error'
        : 'huge-frame' in gen.faults
          ? 'huge'
          : undefined;
  if (fault === undefined) {
    if (count > 0) yield new ContentRun(times, 0, count, render);
    return false;
  }
  if (middle > 0) yield new ContentRun(times, 0, middle, render);
  if (fault === 'error') {
    yield* faults.error(times[middle]!);
    return true;
  }
  yield faults.huge(middle, times[middle]!, gen.faults['huge-frame'] ?? DEFAULT_HUGE_FRAME_BYTES);
  if (middle + 1 < count) yield new ContentRun(times, middle + 1, count, render);
  return false;
}
