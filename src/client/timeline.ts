import type { ApiKind } from '../protocol/index.ts';
import type { OutcomeCode } from './outcome.ts';

/**
 * One request, timed on process.hrtime (monotonic). To keep an in-flight stream small,
 * times are ms since `intendedNs` (a double: sub-µs precision for hours), events are
 * reduced to what metrics need, and raw frames are kept only when asked (`keepFrames`).
 */
export interface Timeline {
  api: ApiKind;
  isStream: boolean;
  /** When the scheduler meant to start this request (absolute, ns). */
  intendedNs: bigint;
  /** ms since intended: request handed to the socket (after any queueing or retry wait). */
  sentMs?: number;
  connectedMs?: number;
  headersMs?: number;
  firstByteMs?: number;
  /** First SSE event of any kind (Azure's prompt-filter frame counts here, not as a token). */
  firstEventMs?: number;
  firstContentMs?: number;
  lastContentMs?: number;
  usageMs?: number;
  /** `data: [DONE]`, or the Responses terminal event. */
  doneMs?: number;
  endMs?: number;
  /** Arrival of each content-bearing event, ms since intended. */
  contentArrivalsMs: number[];
  /** Per stamped frame: arrival minus the upstream's emission stamp, ms. */
  deliveryLatencyMs: number[];
  /** The first content frame's emission stamp, ms since intended (when stamped): TTFT's ground truth. */
  firstContentEmitMs?: number;
  /** SSE events received (all kinds). */
  events: number;
  status?: number;
  outcome: OutcomeCode;
  errorMessage?: string;
  finishReason?: string;
  usage?: { promptTokens?: number; completionTokens?: number };
  /** The answer text, kept to count tokens when the stream carries no usage. */
  text: string;
  ids: { requestId?: string; apimRequestId?: string; responseId?: string };
  retryAfterMs?: number;
  /** Attempts made (more than 1 when a 429 was honoured and retried). */
  attempts: number;
  /** Raw frames with arrival times, only when requested (compliance probes, tests). */
  frames?: Array<{
    arrivalMs: number;
    event?: string;
    data: string /** Upstream emission stamp, ms since intended, when stamped. */;
    emitMs?: number;
  }>;
}

/**
 * Every field the timeline may get is there from the start (undefined until set), so the
 * object keeps one shape with its fields inside it: added one by one, they went to a
 * separate property array (about 0.3 KB per in-flight stream) and changed its shape each time.
 */
export function createTimeline(api: ApiKind, isStream: boolean, intendedNs: bigint): Timeline {
  return {
    api,
    isStream,
    intendedNs,
    sentMs: undefined,
    connectedMs: undefined,
    headersMs: undefined,
    firstByteMs: undefined,
    firstEventMs: undefined,
    firstContentMs: undefined,
    lastContentMs: undefined,
    usageMs: undefined,
    doneMs: undefined,
    endMs: undefined,
    contentArrivalsMs: [],
    deliveryLatencyMs: [],
    firstContentEmitMs: undefined,
    events: 0,
    status: undefined,
    outcome: 'ok',
    errorMessage: undefined,
    finishReason: undefined,
    usage: undefined,
    text: '',
    ids: {},
    retryAfterMs: undefined,
    attempts: 1,
    frames: undefined,
  };
}
