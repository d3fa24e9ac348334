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
  return renderedDataEvent(atMs, JSON.stringify(payload), isContent);
}

/** A `data:` frame whose JSON is already rendered (by a JsonTemplate). */
export function renderedDataEvent(atMs: number, json: string, isContent = false): PlannedEvent {
  return { atMs, text: `data: ${json}\n\n`, isContent };
}

export function namedEvent(atMs: number, name: string, payload: unknown, isContent = false): PlannedEvent {
  return renderedNamedEvent(atMs, name, JSON.stringify(payload), isContent);
}

export function renderedNamedEvent(atMs: number, name: string, json: string, isContent = false): PlannedEvent {
  return { atMs, text: `event: ${name}\ndata: ${json}\n\n`, isContent };
}

export function doneEvent(atMs: number): PlannedEvent {
  return { atMs, text: 'data: [DONE]\n\n', isContent: false, isTerminator: true };
}
