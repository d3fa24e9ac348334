import { describe, expect, it } from 'vitest';
import { applyScheduleFaults as applyLazily } from '../../stand-ins/azure-openai/paced-frame-writer.ts';
import {
  ContentRun,
  dataEvent,
  doneEvent,
  type PlannedEvent,
  type PlannedItem,
} from '../../stand-ins/azure-openai/frames/event.ts';

const SHAPE = { contentCount: 4, endMs: 40 };
type Faults = Parameters<typeof applyLazily>[1];
/** The scheduled frames; with a schedule fault every frame is a single event. */
const applyScheduleFaults = (plan: readonly PlannedItem[], faults: Faults) =>
  Array.from({ [Symbol.iterator]: () => applyLazily(plan, faults, SHAPE) }).map((item) => {
    if (item instanceof ContentRun) throw new Error('a run was not taken apart');
    return item as PlannedEvent & { isComment?: boolean; splitUtf8?: boolean };
  });

const PLAN = [
  dataEvent(5, { filter: true }),
  ...[10, 20, 30, 40].map((at, i) => dataEvent(at, { token: i }, true)),
  dataEvent(40, { finish: true }),
  doneEvent(40),
];

/** The same plan with its four token frames as one run, rendered on demand. */
const TOKEN_TIMES = Float64Array.from([10, 20, 30, 40]);
const RUN_PLAN = (): PlannedItem[] => [
  PLAN[0]!,
  new ContentRun(TOKEN_TIMES, 0, 4, (i) => PLAN[1 + i]!.text),
  ...PLAN.slice(5),
];

describe('schedule faults', () => {
  it('a run of token frames is taken apart into the same frames as single events', () => {
    const faults: Faults[] = [
      { 'no-done': undefined },
      { stall: 1000 },
      { 'stall-after': 2, stall: 50 },
      { buffered: undefined },
      { stall: 100, keepalive: 30 },
      { 'malformed-frame': 3 },
      { 'malformed-frame': undefined },
    ];
    for (const fault of faults)
      expect(applyScheduleFaults(RUN_PLAN(), fault)).toEqual(applyScheduleFaults(PLAN, fault));
  });

  it('without a schedule fault the plan passes through, runs whole', () => {
    const plan = RUN_PLAN();
    expect(Array.from({ [Symbol.iterator]: () => applyLazily(plan, { 'disconnect-after': 3 }, SHAPE) })).toEqual(plan);
  });

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
