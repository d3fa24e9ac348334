import type { OutcomeCode } from '../client/outcome.ts';
import type { Timeline } from '../client/timeline.ts';
import type { ApiKind } from '../protocol/index.ts';
import { nearestRank } from './stats.ts';

export type TokenSource = 'usage' | 'tokenizer';

/** Per-stream delivery latency when the upstream stamped its frames (ms). */
export interface DeliverySummary {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** One line of samples.jsonl: one request, its outcome and metrics. Times in ms. */
export interface Sample {
  scenario: string;
  api: ApiKind;
  stream: boolean;
  maxTokens: number | null;
  path: string;
  /** The request's round within its scenario: the same on every path, so direct and gateway pair up by it (and share the mock seed). */
  index: number;
  /** Position in the run's launch sequence (paths interleaved): which requests were neighbours in time. */
  sequence: number;
  /** When the schedule meant it to start, ms from the scenario's schedule start (the common start on a shard). */
  intendedMs: number | null;
  isWarmup: boolean;
  /** The harness's own event loop was late past its threshold during this request (src/load/harness-monitor.ts). */
  harnessStalled: boolean;
  outcome: OutcomeCode;
  status: number | null;
  error: string | null;
  attempts: number;
  /** What the last 429 asked for (`retry-after-ms`, or `retry-after` in seconds), ms. */
  retryAfterMs: number | null;
  /** Send time minus intended start: time spent waiting to go (open loop, retries). */
  queueMs: number | null;
  ttfbMs: number | null;
  firstEventMs: number | null;
  /** Time to first content token, from the intended start. Non-streaming: the whole body. */
  ttftMs: number | null;
  e2eMs: number | null;
  itl: { n: number; meanMs: number; p50Ms: number; p99Ms: number; maxMs: number } | null;
  /** (E2E - TTFT) / (tokens - 1). */
  tpotMs: number | null;
  outputTokens: number | null;
  tokenSource: TokenSource | null;
  tokensPerSec: number | null;
  /** Content-bearing events (chunks are not tokens: a burst can carry several). */
  chunks: number;
  events: number;
  finishReason: string | null;
  isLengthLimited: boolean;
  delivery: DeliverySummary | null;
  /** Arrival of each content-bearing event, ms since the intended start (to 10 µs): the report's token timeline and ITL distribution. */
  arrivalsMs: number[] | null;
  /** Per stamped frame: arrival minus the upstream's emission stamp, ms (to 10 µs, clamped at 0; see deliveryLatenciesMs). */
  deliveryMs: number[] | null;
  ids: { requestId: string | null; apimRequestId: string | null; responseId: string | null };
}

export interface SampleContext {
  scenario: string;
  path: string;
  maxTokens: number | undefined;
  index: number;
  /** Launch position (default: `index`). */
  sequence?: number;
  intendedMs?: number;
  isWarmup: boolean;
  /** Default false. */
  harnessStalled?: boolean;
  /** Counts output tokens when the stream carried no usage. */
  countTokens: (text: string) => number;
}

/** Recorded arrival and delivery times are kept to 10 µs: finer is below the clock's noise, and every consumer derives from the same rounded values. */
const round2 = (ms: number): number => Math.round(ms * 100) / 100;
const round = (ms: number | undefined): number | null => (ms === undefined ? null : Math.round(ms * 1000) / 1000);

/**
 * Inter-token latency: the gaps between a request's content arrivals, in ms. The one
 * derivation of ITL: the sample's own ITL summary, summary.json's pooled ITL and the report's
 * ITL chart all call it on the sample's recorded `arrivalsMs`.
 */
export function interTokenGapsMs(arrivalsMs: readonly number[] | null): number[] {
  const gaps: number[] = [];
  if (arrivalsMs === null) return gaps;
  for (let i = 1; i < arrivalsMs.length; i++) gaps.push(round2(arrivalsMs[i]! - arrivalsMs[i - 1]!));
  return gaps;
}

/**
 * Per-frame delivery latency (arrival minus the upstream's emission stamp), clamped at 0: both
 * times come from the same monotonic clock, so a negative value is rounding, never a frame
 * delivered before it was sent. The one derivation; the sample records its result.
 */
export function deliveryLatenciesMs(tl: Timeline): number[] {
  return tl.deliveryLatencyMs.map((ms) => round2(Math.max(0, ms)));
}

/** Derives every per-request metric from a timeline. Pure. */
export function toSample(tl: Timeline, ctx: SampleContext): Sample {
  const ok = tl.outcome === 'ok';
  const ttft = tl.isStream ? tl.firstContentMs : tl.endMs;
  const e2e = tl.endMs;
  const usageTokens = tl.usage?.completionTokens;
  const outputTokens = usageTokens ?? (tl.text !== '' ? ctx.countTokens(tl.text) : ok ? 0 : undefined);
  const arrivalsMs = tl.contentArrivalsMs.length === 0 ? null : tl.contentArrivalsMs.map(round2);
  const deliveryMs = tl.deliveryLatencyMs.length === 0 ? null : deliveryLatenciesMs(tl);
  const gaps = interTokenGapsMs(arrivalsMs).sort((a, b) => a - b);
  const delivery = [...(deliveryMs ?? [])].sort((a, b) => a - b);
  const tpot =
    ok && tl.isStream && ttft !== undefined && e2e !== undefined && outputTokens !== undefined && outputTokens > 1
      ? (e2e - ttft) / (outputTokens - 1)
      : undefined;
  return {
    scenario: ctx.scenario,
    api: tl.api,
    stream: tl.isStream,
    maxTokens: ctx.maxTokens ?? null,
    path: ctx.path,
    index: ctx.index,
    sequence: ctx.sequence ?? ctx.index,
    intendedMs: ctx.intendedMs === undefined ? null : round(ctx.intendedMs),
    isWarmup: ctx.isWarmup,
    harnessStalled: ctx.harnessStalled ?? false,
    outcome: tl.outcome,
    status: tl.status ?? null,
    error: tl.errorMessage ?? null,
    attempts: tl.attempts,
    retryAfterMs: tl.retryAfterMs ?? null,
    queueMs: round(tl.sentMs),
    ttfbMs: round(tl.firstByteMs),
    firstEventMs: round(tl.firstEventMs),
    ttftMs: ok ? round(ttft) : null,
    e2eMs: ok ? round(e2e) : null,
    itl:
      gaps.length === 0
        ? null
        : {
            n: gaps.length,
            meanMs: round(gaps.reduce((s, g) => s + g, 0) / gaps.length)!,
            p50Ms: round(nearestRank(gaps, 0.5))!,
            p99Ms: round(nearestRank(gaps, 0.99))!,
            maxMs: round(gaps.at(-1))!,
          },
    tpotMs: round(tpot),
    outputTokens: outputTokens ?? null,
    tokenSource: usageTokens !== undefined ? 'usage' : outputTokens !== undefined ? 'tokenizer' : null,
    tokensPerSec:
      ok && outputTokens !== undefined && e2e !== undefined && e2e > 0
        ? Math.round((outputTokens / (e2e / 1000)) * 100) / 100
        : null,
    chunks: tl.contentArrivalsMs.length,
    events: tl.events,
    finishReason: tl.finishReason ?? null,
    isLengthLimited: tl.finishReason === 'length',
    delivery:
      delivery.length === 0
        ? null
        : {
            n: delivery.length,
            p50: round(nearestRank(delivery, 0.5))!,
            p99: round(nearestRank(delivery, 0.99))!,
            max: round(delivery.at(-1))!,
          },
    arrivalsMs,
    deliveryMs,
    ids: {
      requestId: tl.ids.requestId ?? null,
      apimRequestId: tl.ids.apimRequestId ?? null,
      responseId: tl.ids.responseId ?? null,
    },
  };
}
