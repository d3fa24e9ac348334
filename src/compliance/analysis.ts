import { extractEvent } from '../client/extract.ts';
import { nearestRank, round3 } from '../metrics/stats.ts';
import type { ApiKind } from '../protocol/index.ts';
import { msBetween, type ProbeEvent, type ProbeResult } from './probe.ts';

/** Whether the stream carried the mock's ground-truth stamps. */
export function hasStamps(probe: ProbeResult | undefined): boolean {
  return probe?.events.some((e) => e.stamp !== undefined) ?? false;
}

/** The events that carry content (the API's "token" events). */
export function contentEvents(probe: ProbeResult, api: ApiKind): ProbeEvent[] {
  return probe.events.filter((e) => {
    if (e.data === '[DONE]') return false;
    try {
      return extractEvent(api, e.event, JSON.parse(e.data)).content !== undefined;
    } catch {
      return false;
    }
  });
}

/** Time to first content from the request's start, ms; undefined when no content came. */
export function ttftMs(probe: ProbeResult, api: ApiKind): number | undefined {
  const first = contentEvents(probe, api)[0];
  return first ? msBetween(probe.startNs, first.arrivalNs) : undefined;
}

export interface Delivery {
  /** `stamps`: arrival − emission per frame (exact). `schedule`: arrival offsets against the
   *  direct stream's planned schedule (the gateway stripped the stamps). `none`: no reference. */
  method: 'stamps' | 'schedule' | 'none';
  latenciesMs: number[];
  p50Ms: number | undefined;
  p99Ms: number | undefined;
  maxMs: number | undefined;
}

/**
 * Per-frame delivery latency of a stream. With stamps it is exact. Without them, if the
 * direct probe of the same seed carried planned times (`due-us`), frame i's lag is its
 * arrival offset minus its planned offset, both measured from frame 0; the latency reported
 * is each lag's distance from the median lag (a frame held back stands out either way).
 */
export function deliveryOf(probe: ProbeResult, reference?: ProbeResult): Delivery {
  let latencies: number[] = [];
  let method: Delivery['method'] = 'none';
  if (hasStamps(probe)) {
    method = 'stamps';
    latencies = probe.events.filter((e) => e.stamp).map((e) => msBetween(e.stamp!.emitNs, e.arrivalNs));
  } else if (reference?.events.some((e) => e.stamp?.dueUs !== undefined) && probe.events.length > 1) {
    method = 'schedule';
    const planned = reference.events.map((e) => (e.stamp?.dueUs ?? 0) / 1000);
    const n = Math.min(planned.length, probe.events.length);
    const lags = probe.events
      .slice(0, n)
      .map((e, i) => msBetween(probe.events[0]!.arrivalNs, e.arrivalNs) - (planned[i]! - planned[0]!));
    // Measured against the median lag, so a late first frame (the anchor) shifts nothing.
    const median = nearestRank(
      [...lags].sort((a, b) => a - b),
      0.5,
    );
    latencies = lags.map((lag) => Math.abs(lag - median));
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q: number): number | undefined => (sorted.length > 0 ? round3(nearestRank(sorted, q)) : undefined);
  return { method, latenciesMs: latencies.map(round3), p50Ms: at(0.5), p99Ms: at(0.99), maxMs: at(1) };
}

/**
 * Share of the events that arrived in the last tenth of the time from sending the request to
 * the last event: about 0.1 for a stream delivered as generated, near 1 for one held back
 * and released at the end.
 */
export function lateShare(probe: ProbeResult): number {
  const last = probe.events.at(-1);
  if (!last || probe.events.length < 2) return 0;
  const spanMs = msBetween(probe.startNs, last.arrivalNs);
  const cutoffMs = spanMs * 0.9;
  const late = probe.events.filter((e) => msBetween(probe.startNs, e.arrivalNs) >= cutoffMs).length;
  return round3(late / probe.events.length);
}

/** Event data with the fields that legitimately differ between two requests masked. */
export function comparableData(data: string): string {
  return data.replace(/"(created|created_at)":\d+/g, '"$1":0');
}

/** A compact description of an evidence number list: `p50 0.4 ms, p99 1.2 ms`. */
export function formatDelivery(d: Delivery): string {
  return `delivery p50 ${d.p50Ms ?? '–'} ms, p99 ${d.p99Ms ?? '–'} ms, max ${d.maxMs ?? '–'} ms (${d.method === 'stamps' ? 'arrival − emission stamps' : 'against the planned schedule'})`;
}
