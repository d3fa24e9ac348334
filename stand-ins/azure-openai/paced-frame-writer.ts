import { formatStampLine } from '../../src/protocol/index.ts';
import type { FaultSet } from '../../src/protocol/index.ts';
import { ContentRun, type PlannedEvent, type PlannedItem } from './frames/event.ts';
import type { MockStats, RequestRecord } from './recorder.ts';

export const DEFAULT_STALL_MS = 5_000;
export const DEFAULT_KEEPALIVE_MS = 1_000;
/** Frames joined into one write at most (about 20–40 KB of chat frames). */
const MAX_BATCH_FRAMES = 48;
/** Gap between the two writes of a split multibyte character. */
const SPLIT_WRITE_GAP_MS = 5;
const KEEPALIVE_TEXT = ': keep-alive\n\n';

interface ScheduledEvent extends PlannedEvent {
  isComment?: boolean;
  splitUtf8?: boolean;
}

/** What the schedule faults need to know about a stream before it starts. */
export interface StreamShape {
  /** Number of content frames the builder will yield. */
  contentCount: number;
  /** When the last planned frame is due, ms after the start. */
  endMs: number;
}

/**
 * Applies the faults that change the schedule, lazily (frames are rendered only when the
 * emitter pulls them): `no-done` drops the terminator; `stall` shifts everything from the
 * middle content frame (or from frame `stall-after`); `malformed-frame` cuts one frame's
 * JSON (the middle content frame, or the frame at that index); `buffered` holds everything
 * to the end; `keepalive` fills quiet gaps with SSE comments. Without such a fault the plan
 * passes through as it is, runs of token frames included; with one, runs are taken apart
 * into single frames first.
 */
export function applyScheduleFaults(
  planned: Iterable<PlannedItem>,
  faults: FaultSet,
  shape: StreamShape,
): Iterator<PlannedItem | ScheduledEvent> {
  const hasScheduleFault = SCHEDULE_FAULTS.some((name) => name in faults);
  return hasScheduleFault ? scheduleWithFaults(singleFrames(planned), faults, shape) : planned[Symbol.iterator]();
}

const SCHEDULE_FAULTS = [
  'no-done',
  'stall',
  'stall-after',
  'malformed-frame',
  'split-utf8',
  'buffered',
  'keepalive',
] as const;

function* singleFrames(planned: Iterable<PlannedItem>): Generator<PlannedEvent> {
  for (const item of planned) {
    if (item instanceof ContentRun) yield* item.events();
    else yield item;
  }
}

function* scheduleWithFaults(
  planned: Iterable<PlannedEvent>,
  faults: FaultSet,
  shape: StreamShape,
): Generator<ScheduledEvent> {
  const hasStall = 'stall' in faults || 'stall-after' in faults;
  const stallMs = hasStall ? (faults.stall ?? DEFAULT_STALL_MS) : 0;
  const middleContent = Math.floor(shape.contentCount / 2);
  const keepaliveMs = 'keepalive' in faults ? (faults.keepalive ?? DEFAULT_KEEPALIVE_MS) : 0;
  const bufferedAtMs = 'buffered' in faults ? shape.endMs + stallMs : undefined;
  let index = 0;
  let contentIndex = -1;
  let isStalled = false;
  let lastAtMs = 0;
  for (const original of planned) {
    if ('no-done' in faults && original.isTerminator) continue;
    const event: ScheduledEvent = { ...original };
    if (event.isContent) contentIndex++;
    const isMiddleContent = event.isContent && contentIndex === middleContent;
    if (hasStall && !isStalled)
      isStalled = faults['stall-after'] !== undefined ? index >= faults['stall-after'] : isMiddleContent;
    if (isStalled) event.atMs += stallMs;
    if (
      'malformed-frame' in faults &&
      (faults['malformed-frame'] === undefined ? isMiddleContent : index === faults['malformed-frame'])
    ) {
      event.text = `${event.text.slice(0, Math.max(8, Math.floor(event.text.length / 2)))}\n\n`;
    }
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point (any non-ASCII character)
    if ('split-utf8' in faults && /[^\x00-\x7f]/.test(event.text)) event.splitUtf8 = true;
    if (bufferedAtMs !== undefined) event.atMs = bufferedAtMs;
    if (keepaliveMs > 0) {
      for (let at = lastAtMs + keepaliveMs; at < event.atMs; at += keepaliveMs) {
        yield { atMs: at, text: KEEPALIVE_TEXT, isContent: false, isComment: true };
      }
    }
    lastAtMs = event.atMs;
    index++;
    yield event;
  }
}

export interface EmitOptions {
  stamp: boolean;
  faults: FaultSet;
  stats: MockStats;
  record: RequestRecord;
}

/** Where an emission writes. Strings are UTF-8 text; byte chunks are used for split writes. */
export interface EmissionSink {
  write(chunk: string | Uint8Array): void;
  /** Ends the stream; `last` (frames not yet written) goes with the end, in the same write. */
  close(last: string): void;
  /** The connection must drop (disconnect-after), after what was written is delivered. */
  error(error: Error): void;
}

export interface Emission {
  /** The client went away: stop generating at once. */
  cancel(): void;
}

/** Buffer.from takes small strings from Node's pooled allocator; TextEncoder allocates per call. */
const encode = (chunk: string | Uint8Array): Uint8Array =>
  typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;

/**
 * A response body of events, each written at its planned time (relative to the moment
 * emission starts), stamped when asked, stopped the moment the client goes away.
 * `disconnect-after` errors the output, which the adapter turns into a dropped connection.
 * Two outputs, the same frames on the same schedule: `start(sink)`, the HTTP adapter's direct
 * writes to the socket, and `toReadableStream()`, for fetch Responses (msw in-process).
 */
export class PacedFrameWriter {
  readonly #planned: Iterable<PlannedItem>;
  readonly #shape: StreamShape;
  readonly #options: EmitOptions;
  #emission: Emission | undefined;
  #isStarted = false;

  constructor(planned: Iterable<PlannedItem>, shape: StreamShape, options: EmitOptions) {
    this.#planned = planned;
    this.#shape = shape;
    this.#options = options;
  }

  /** Starts emitting into `sink`; once per stream. */
  start(sink: EmissionSink): Emission {
    if (this.#isStarted) throw new Error('This event stream is already being emitted.');
    this.#isStarted = true;
    this.#emission = startEmission(this.#planned, this.#shape, this.#options, sink);
    return this.#emission;
  }

  /** The client went away: stops the emission, or records a stream cancelled before it started. */
  cancel(): void {
    if (this.#emission !== undefined) this.#emission.cancel();
    else if (!this.#isStarted) {
      this.#isStarted = true;
      markCancelledBeforeStart(this.#options);
    }
  }

  /** The emission as a byte stream; it starts at the first read (highWaterMark 0). */
  toReadableStream(): ReadableStream<Uint8Array> {
    let isCancelled = false;
    return new ReadableStream<Uint8Array>(
      {
        pull: (controller) => {
          if (this.#isStarted) return;
          this.start({
            write: (chunk) => controller.enqueue(encode(chunk)),
            close: (last) => {
              if (last !== '') controller.enqueue(encode(last));
              controller.close();
            },
            error: (error) => errorWhenDrained(controller, error, () => isCancelled),
          });
        },
        cancel: () => {
          isCancelled = true;
          this.cancel();
        },
      },
      { highWaterMark: 0 },
    );
  }
}

function markCancelledBeforeStart({ record, stats }: EmitOptions): void {
  record.outcome = 'cancelled';
  record.endedAt = new Date().toISOString();
  stats.streamsCancelled++;
}

/** Runs the schedule, writing into `sink`; the scheduling loop shared by both outputs. */
function startEmission(
  planned: Iterable<PlannedItem>,
  shape: StreamShape,
  options: EmitOptions,
  sink: EmissionSink,
): Emission {
  const items = applyScheduleFaults(planned, options.faults, shape);
  const { stats, record } = options;
  const disconnectAfter = options.faults['disconnect-after'] ?? Infinity;
  record.contentFramesPlanned = shape.contentCount;
  let timer: NodeJS.Timeout | undefined;
  // What is written next: a single event, or frame `index` of a run. The next item is pulled
  // only once the current one is written whole (a run renders its frames in order).
  let current: PlannedItem | ScheduledEvent | undefined;
  let index = 0;
  const advance = (): void => {
    const next = items.next();
    current = next.done ? undefined : next.value;
    if (current instanceof ContentRun) index = current.from;
  };
  advance();
  let seq = 0;
  let isFinished = false;
  // Scheduling uses performance.now() (a double on the same monotonic clock as
  // process.hrtime, no allocation per frame); stamps convert to hrtime's absolute ns.
  const startNs = process.hrtime.bigint();
  const startMs = performance.now();
  stats.streamsStarted++;
  stats.activeStreams++;

  const finish = (outcome: RequestRecord['outcome']): void => {
    if (isFinished) return;
    isFinished = true;
    if (timer !== undefined) clearTimeout(timer);
    record.outcome = outcome;
    record.endedAt = new Date().toISOString();
    stats.activeStreams--;
    if (outcome === 'completed') stats.streamsCompleted++;
    else if (outcome === 'cancelled') stats.streamsCancelled++;
    else if (outcome === 'disconnected') stats.streamsDisconnected++;
  };

  // Frames due together (a burst, or a stream with no delays) leave in one write: each write
  // of a chunked response costs four buffered pieces and its share of a writev, which at
  // thousands of frames per second was the mock's largest cost. A frame alone goes as before.
  let batch = '';
  let batched = 0;
  const flush = (): void => {
    if (batched === 0) return;
    sink.write(batch);
    batch = '';
    batched = 0;
  };
  const add = (text: string): void => {
    batch += text;
    // Bounded, so a stream with no delays still leaves in socket-sized writes, not one huge string.
    if (++batched >= MAX_BATCH_FRAMES) flush();
  };
  /** Stamps and counts a frame written now; returns its text. */
  const written = (text: string, dueMs: number, nowMs: number): string => {
    stats.recordLatenessNs((nowMs - dueMs) * 1e6);
    record.framesEmitted++;
    return options.stamp
      ? formatStampLine(
          startNs + BigInt(Math.round((nowMs - startMs) * 1e6)),
          seq++,
          Math.round((dueMs - startMs) * 1000),
        ) + text
      : text;
  };
  /** Writes a single event; false when it was split and the rest of it goes later. */
  const emit = (event: ScheduledEvent, dueMs: number, nowMs: number): boolean => {
    if (event.isComment) {
      add(event.text);
      return true;
    }
    const text = written(event.text, dueMs, nowMs);
    if (event.splitUtf8) {
      flush();
      const bytes = Buffer.from(text, 'utf8');
      const cut = splitPoint(bytes);
      sink.write(bytes.subarray(0, cut));
      timer = setTimeout(() => {
        if (isFinished) return;
        sink.write(bytes.subarray(cut));
        pump();
      }, SPLIT_WRITE_GAP_MS);
      return false;
    }
    add(text);
    return true;
  };

  const pump = (): void => {
    timer = undefined;
    while (!isFinished && current !== undefined) {
      const run = current instanceof ContentRun ? current : undefined;
      if (run !== undefined && index >= run.to) {
        advance();
        continue;
      }
      if (record.framesEmitted >= disconnectAfter) {
        flush();
        finish('disconnected');
        sink.error(new Error('mock fault: disconnect-after'));
        return;
      }
      const dueMs = startMs + (run !== undefined ? run.times[index]! : (current as ScheduledEvent).atMs);
      const nowMs = performance.now();
      const waitMs = dueMs - nowMs;
      // Node timers have 1 ms granularity: a frame due within the next 0.5 ms goes now
      // rather than a whole timer tick late.
      if (waitMs > 0.5) {
        flush();
        timer = setTimeout(pump, Math.floor(waitMs));
        return;
      }
      if (run !== undefined) {
        add(written(run.render(index++), dueMs, nowMs));
        continue;
      }
      const event = current as ScheduledEvent;
      advance();
      if (!emit(event, dueMs, nowMs)) return;
    }
    if (isFinished) {
      flush();
      return;
    }
    const last = batch;
    batch = '';
    batched = 0;
    finish('completed');
    sink.close(last);
  };
  pump();
  return { cancel: () => finish('cancelled') };
}

/**
 * Errors the stream once its queue is empty: `controller.error()` discards queued chunks,
 * and the frames before the disconnect point must still reach the client.
 */
function errorWhenDrained(
  controller: ReadableStreamDefaultController<Uint8Array>,
  error: Error,
  isCancelled: () => boolean,
): void {
  if (isCancelled()) return;
  // With highWaterMark 0, desiredSize is 0 exactly when the queue is empty.
  if ((controller.desiredSize ?? 0) >= 0) {
    controller.error(error);
    return;
  }
  setImmediate(() => errorWhenDrained(controller, error, isCancelled));
}

/** A byte offset inside the first multibyte UTF-8 sequence, so both halves are invalid alone. */
function splitPoint(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i]! >= 0xc0) return i + 1;
  }
  return Math.floor(bytes.length / 2);
}
