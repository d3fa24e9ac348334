import { describe, expect, it } from 'vitest';
import { findingWordProblems } from '../helpers/finding-words.ts';

// The rule the labs' e2e test and the verifier's fault matrix hold every finding to: it must
// catch the sentences issue 30 found, and pass the ones that say what failed.
describe('finding words', () => {
  it('flags a pass title given as the failure reason, a bare overhead, an interval-less "adds", a lower-case start', () => {
    const old =
      "buffered: compliance fail, failing incremental-delivery (frames arrive as they are emitted); the gateway's first token came 0.1 ms sooner than direct.";
    const problems = findingWordProblems(old);
    expect(problems.join('\n')).toMatch(/title of incremental-delivery/);
    expect(problems.join('\n')).toMatch(/bare difference \("0\.1 ms sooner than"\)/);
    expect(problems.join('\n')).toMatch(/lower case/);
    expect(findingWordProblems('The gateway adds 3.2 ms to time to first token.')).toEqual([
      '"adds 3.2 ms to time to first token" has no interval',
    ]);
  });

  it('passes a finding that names what failed and follows the interval', () => {
    expect(
      findingWordProblems(
        'Buffered: compliance fail, failing incremental-delivery (chat: delivery p99 231 ms exceeds 50 ms for 23 frames in 3 runs: frames are held back); the gateway adds 93.9 ms to time to first token (95% CI +85.5 to +110.2 ms, 8 pairs).\n' +
          'Streaming: compliance pass; the gateway: no measurable difference to time to first token (95% CI −0.8 to +1.1 ms, 8 pairs).',
      ),
    ).toEqual([]);
  });
});
