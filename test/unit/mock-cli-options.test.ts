import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from '../../src/errors.ts';
import { parseMockArgs } from '../../stand-ins/azure-openai/cli-options.ts';

describe('mock CLI options', () => {
  it('has loopback defaults', () => {
    expect(parseMockArgs([])).toMatchObject({ host: '127.0.0.1', port: 0, seed: 1, timing: {} });
  });

  it('reads timing flags', () => {
    expect(parseMockArgs(['--ttft-ms', '50', '--mode', 'burst', '--burst-tokens', '8']).timing).toEqual({
      ttftMs: 50,
      mode: 'burst',
      burstTokens: 8,
    });
  });

  it.each([
    [['--port', '70000'], '--port', '0 to 65535'],
    [['--seed', '1.5'], '--seed', '0 to 4294967295'],
    [['--mode', 'fast'], '--mode', 'smooth, burst'],
    [['--bogus'], '--bogus', '--port'],
    [['--itl-ms', ''], '--itl-ms', '0 to 60000'],
  ])('%j is an InvalidOptionError naming %s and what is allowed', (argv, flag, allowed) => {
    try {
      parseMockArgs(argv);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      expect((error as InvalidOptionError).message).toContain(`"${flag}"`);
      expect((error as InvalidOptionError).message).toContain(allowed);
    }
  });
});
