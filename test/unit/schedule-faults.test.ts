import { describe, expect, it } from 'vitest';
import { applyScheduleFaults as applyLazily } from '../../mock-server/emitter.ts';
import { dataEvent, doneEvent } from '../../mock-server/frames/event.ts';

const SHAPE = { contentCount: 4, endMs: 40 };
const applyScheduleFaults = (plan: typeof PLAN, faults: Parameters<typeof applyLazily>[1]) => Array.from({ [Symbol.iterator]: () => applyLazily(plan, faults, SHAPE) });

const PLAN = [
  dataEvent(5, { filter: true }),
  ...[10, 20, 30, 40].map((at, i) => dataEvent(at, { token: i }, true)),
  dataEvent(40, { finish: true }),
  doneEvent(40),
];

describe('schedule faults', () => {
  it('no-done drops only the terminator', () => {
    const events = applyScheduleFaults(PLAN, { 'no-done': undefined });
    expect(events).toHaveLength(PLAN.length - 1);
    expect(events.some((e) => e.text.includes('[DONE]'))).toBe(false);
  });

  it('stall shifts everything from the middle content frame', () => {
    const events = applyScheduleFaults(PLAN, { stall: 1000 });
    expect(events.map((e) => e.atMs)).toEqual([5, 10, 20, 1030, 1040, 1040, 1040]);
  });

  it('buffered moves every frame to the end; keepalive fills gaps', () => {
    expect(new Set(applyScheduleFaults(PLAN, { buffered: undefined }).map((e) => e.atMs))).toEqual(new Set([40]));
    const withComments = applyScheduleFaults(PLAN, { stall: 100, keepalive: 30 });
    expect(withComments.filter((e) => e.text === ': keep-alive\n\n').map((e) => e.atMs)).toEqual([50, 80, 110]);
  });

  it('malformed-frame cuts the chosen frame', () => {
    const events = applyScheduleFaults(PLAN, { 'malformed-frame': 1 });
    expect(() => JSON.parse(events[1]!.text.slice(6))).toThrow();
    expect(events[2]!.text).toBe(PLAN[2]!.text);
  });
});
