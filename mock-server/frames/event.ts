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

/** The `prefix`/`suffix` that make a JsonTemplate render a whole `data:` frame. */
export const DATA_FRAME = ['data: ', '\n\n'] as const;

/** A frame whose full SSE text is already rendered (by a JsonTemplate with DATA_FRAME). */
export function renderedEvent(atMs: number, text: string, isContent = false): PlannedEvent {
  return { atMs, text, isContent };
}

export function namedEvent(atMs: number, name: string, payload: unknown, isContent = false): PlannedEvent {
  return { atMs, text: `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`, isContent };
}

export function doneEvent(atMs: number): PlannedEvent {
  return { atMs, text: 'data: [DONE]\n\n', isContent: false, isTerminator: true };
}
