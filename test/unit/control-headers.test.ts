import { describe, expect, it } from 'vitest';
import {
  ControlHeaderError,
  formatControlHeaders,
  parseControlHeaders,
  parseFaults,
} from '../../src/protocol/index.ts';

describe('control headers', () => {
  it('round-trips through format and parse', () => {
    const control = {
      ttftMs: 120,
      itlMs: 15.5,
      jitterMs: 2,
      mode: 'burst' as const,
      burstTokens: 8,
      outputTokens: 300,
      seed: 9,
      stamp: true,
      faults: { '429': 1500, 'split-utf8': undefined },
    };
    expect(parseControlHeaders(new Headers(formatControlHeaders(control)))).toEqual(control);
  });

  it('reads nothing from a request without control headers', () => {
    expect(parseControlHeaders(new Headers({ 'api-key': 'x' }))).toEqual({ faults: {} });
  });

  it('rejects out-of-range numbers, naming the header and the range', () => {
    expect(() => parseControlHeaders(new Headers({ 'x-mock-itl-ms': '-1' }))).toThrowError(/x-mock-itl-ms.*0 to 60000/);
    expect(() => parseControlHeaders(new Headers({ 'x-mock-mode': 'jumpy' }))).toThrowError(ControlHeaderError);
  });

  it('parses fault lists with and without values, and rejects unknown faults', () => {
    expect(parseFaults(' stall=300 , keepalive ,disconnect-after=2')).toEqual({
      stall: 300,
      keepalive: undefined,
      'disconnect-after': 2,
    });
    expect(() => parseFaults('stall=soon')).toThrowError(/whole number from 0 to 600,000/);
    expect(() => parseFaults('meltdown')).toThrowError(/unknown fault "meltdown"/);
  });
});
