import hdr from 'hdr-histogram-js';
import type { ApiKind } from '../../src/protocol/index.ts';

/** How a request ended, from the mock's side. */
export type StreamOutcome = 'pending' | 'completed' | 'cancelled' | 'disconnected' | 'error';

/** What the mock knows about one request; served at GET /_mock/requests. */
export interface RequestRecord {
  requestId: string;
  apimRequestId: string;
  clientRequestId: string | null;
  method: string;
  path: string;
  api: ApiKind | null;
  deployment: string | null;
  status: number;
  isStream: boolean;
  startedAt: string;
  endedAt: string | null;
  /** Content frames (tokens) the answer was planned to have. */
  contentFramesPlanned: number;
  framesEmitted: number;
  outcome: StreamOutcome;
  /** Request headers without credentials. */
  headers: Record<string, string>;
  /** The parsed JSON body when it was at most MAX_RECORDED_BODY_BYTES, else its size. */
  body: unknown;
}

const MAX_RECORDS = 2_000;
export const MAX_RECORDED_BODY_BYTES = 64 * 1024;
const SECRET_HEADERS = new Set(['api-key', 'authorization', 'ocp-apim-subscription-key', 'cookie']);

export function redactHeaders(
  headers: Pick<Headers, 'forEach'> | { forEach(callback: (value: string, name: string) => void): void },
): Record<string, string> {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    out[name] = SECRET_HEADERS.has(name) ? '[redacted]' : value;
  });
  return out;
}

/** Counters and emission lateness (actual write time minus planned time) since start. */
export class MockStats {
  requests = 0;
  streamsStarted = 0;
  streamsCompleted = 0;
  streamsCancelled = 0;
  streamsDisconnected = 0;
  activeStreams = 0;
  framesEmitted = 0;
  /** Microseconds, 1 µs to 60 s, 3 significant digits. */
  private lateness = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  private earlyFrames = 0;

  recordLatenessNs(latenessNs: number): void {
    this.framesEmitted++;
    if (latenessNs < 0) {
      this.earlyFrames++;
      this.lateness.recordValue(1);
      return;
    }
    this.lateness.recordValue(Math.max(1, Math.round(latenessNs / 1000)));
  }

  reset(): void {
    this.requests = this.streamsStarted = this.streamsCompleted = this.streamsCancelled = 0;
    this.streamsDisconnected = this.framesEmitted = this.earlyFrames = 0;
    this.lateness.reset();
  }

  toJSON(): Record<string, unknown> {
    const h = this.lateness;
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      requests: this.requests,
      streamsStarted: this.streamsStarted,
      streamsCompleted: this.streamsCompleted,
      streamsCancelled: this.streamsCancelled,
      streamsDisconnected: this.streamsDisconnected,
      activeStreams: this.activeStreams,
      framesEmitted: this.framesEmitted,
      emissionLatenessMs: {
        count: h.totalCount,
        p50: ms(h.getValueAtPercentile(50)),
        p90: ms(h.getValueAtPercentile(90)),
        p99: ms(h.getValueAtPercentile(99)),
        p999: ms(h.getValueAtPercentile(99.9)),
        max: ms(h.maxValue),
        mean: ms(h.mean),
        earlyFrames: this.earlyFrames,
      },
    };
  }
}

/** The last MAX_RECORDS request records, newest last. */
export class Recorder {
  private records: RequestRecord[] = [];
  private byId = new Map<string, RequestRecord>();

  add(record: RequestRecord): void {
    this.records.push(record);
    this.byId.set(record.requestId, record);
    if (this.records.length > MAX_RECORDS) {
      const old = this.records.shift();
      if (old) this.byId.delete(old.requestId);
    }
  }

  get(requestId: string): RequestRecord | undefined {
    return this.byId.get(requestId);
  }

  list(): readonly RequestRecord[] {
    return this.records;
  }

  clear(): void {
    this.records = [];
    this.byId.clear();
  }
}
