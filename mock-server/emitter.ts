import { formatStampLine } from '../src/protocol/index.ts';
import type { FaultSet } from '../src/protocol/index.ts';
import type { PlannedEvent } from './frames/event.ts';
import type { MockStats, RequestRecord } from './recorder.ts';

export const DEFAULT_STALL_MS = 5_000;
export const DEFAULT_KEEPALIVE_MS = 1_000;
/** Gap between the two writes of a split multibyte character. */
const SPLIT_WRITE_GAP_MS = 5;
const KEEPALIVE_TEXT = ': keep-alive\n\n';

interface ScheduledEvent extends PlannedEvent {
  isComment?: boolean;
  splitUtf8?: boolean;
}

/**
 * Turns planned events into the schedule the faults ask for: `no-done` drops the
 * terminator; `stall` shifts everything after the stall point; `malformed-frame` cuts one
 * frame's JSON; `buffered` holds everything to the end; `keepalive` fills quiet gaps with
 * SSE comments.
 */
export function applyScheduleFaults(planned: readonly PlannedEvent[], faults: FaultSet): ScheduledEvent[] {
  let events: ScheduledEvent[] = planned.filter((e) => !('no-done' in faults && e.isTerminator));
  const contentIndexes = events.flatMap((e, i) => (e.isContent ? [i] : []));
  const middleContent = contentIndexes[Math.floor(contentIndexes.length / 2)] ?? Math.floor(events.length / 2);
  if ('stall' in faults || 'stall-after' in faults) {
    const stallMs = faults.stall ?? DEFAULT_STALL_MS;
    const from = faults['stall-after'] ?? middleContent;
    events = events.map((e, i) => (i >= from ? { ...e, atMs: e.atMs + stallMs } : e));
  }
  if ('malformed-frame' in faults) {
    const index = Math.min(faults['malformed-frame'] ?? middleContent, events.length - 1);
    const target = events[index];
    if (target) events[index] = { ...target, text: `${target.text.slice(0, Math.max(8, Math.floor(target.text.length / 2)))}\n\n` };
  }
  if ('split-utf8' in faults) {
    events = events.map((e) => (/[^\x00-\x7f]/.test(e.text) ? { ...e, splitUtf8: true } : e));
  }
  if ('buffered' in faults) {
    const end = events.reduce((max, e) => Math.max(max, e.atMs), 0);
    events = events.map((e) => ({ ...e, atMs: end }));
  }
  if ('keepalive' in faults) events = withKeepalives(events, faults.keepalive ?? DEFAULT_KEEPALIVE_MS);
  return events;
}

function withKeepalives(events: ScheduledEvent[], intervalMs: number): ScheduledEvent[] {
  if (intervalMs <= 0) return events;
  const out: ScheduledEvent[] = [];
  let last = 0;
  for (const event of events) {
    for (let at = last + intervalMs; at < event.atMs; at += intervalMs) {
      out.push({ atMs: at, text: KEEPALIVE_TEXT, isContent: false, isComment: true });
    }
    out.push(event);
    last = event.atMs;
  }
  return out;
}

export interface EmitOptions {
  stamp: boolean;
  faults: FaultSet;
  stats: MockStats;
  record: RequestRecord;
}

const encoder = new TextEncoder();

/**
 * A byte stream that writes each event at its planned time (relative to the moment the
 * stream starts), stamps frames when asked, and stops generating the moment its reader
 * cancels (the client went away). `disconnect-after` errors the stream, which the HTTP
 * adapter turns into an abrupt connection close.
 */
export function createEventStream(planned: readonly PlannedEvent[], options: EmitOptions): ReadableStream<Uint8Array> {
  const events = applyScheduleFaults(planned, options.faults);
  const { stats, record } = options;
  const disconnectAfter = options.faults['disconnect-after'];
  record.framesPlanned = events.filter((e) => !e.isComment).length;
  let timer: NodeJS.Timeout | undefined;
  let next = 0;
  let seq = 0;
  let startNs = 0n;
  let isFinished = false;
  let isCancelled = false;

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

  return new ReadableStream<Uint8Array>({
    start(controller) {
      startNs = process.hrtime.bigint();
      stats.streamsStarted++;
      stats.activeStreams++;

      const emit = (event: ScheduledEvent, dueNs: bigint): boolean => {
        const nowNs = process.hrtime.bigint();
        if (event.isComment) {
          controller.enqueue(encoder.encode(event.text));
          return true;
        }
        const bytes = encoder.encode(options.stamp ? formatStampLine(nowNs, seq++) + event.text : event.text);
        stats.recordLatenessNs(Number(nowNs - dueNs));
        record.framesEmitted++;
        if (event.splitUtf8) {
          const cut = splitPoint(bytes);
          controller.enqueue(bytes.subarray(0, cut));
          timer = setTimeout(() => {
            if (isFinished) return;
            controller.enqueue(bytes.subarray(cut));
            pump();
          }, SPLIT_WRITE_GAP_MS);
          return false;
        }
        controller.enqueue(bytes);
        return true;
      };

      const pump = (): void => {
        timer = undefined;
        while (!isFinished && next < events.length) {
          if (disconnectAfter !== undefined && record.framesEmitted >= disconnectAfter) {
            finish('disconnected');
            errorWhenDrained(controller, new Error('mock fault: disconnect-after'), () => isCancelled);
            return;
          }
          const event = events[next]!;
          const dueNs = startNs + BigInt(Math.round(event.atMs * 1e6));
          const waitMs = Number(dueNs - process.hrtime.bigint()) / 1e6;
          // Node timers have 1 ms granularity: a frame due within the next 0.5 ms goes now
          // rather than a whole timer tick late.
          if (waitMs > 0.5) {
            timer = setTimeout(pump, Math.floor(waitMs));
            return;
          }
          next++;
          if (!emit(event, dueNs)) return;
        }
        if (!isFinished) {
          finish('completed');
          controller.close();
        }
      };
      pump();
    },
    cancel() {
      isCancelled = true;
      finish('cancelled');
    },
  });
}

/**
 * Errors the stream once its queue is empty: `controller.error()` discards queued chunks,
 * and the frames before the disconnect point must still reach the client.
 */
function errorWhenDrained(controller: ReadableStreamDefaultController<Uint8Array>, error: Error, isCancelled: () => boolean): void {
  if (isCancelled()) return;
  if ((controller.desiredSize ?? 0) >= 1) {
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
