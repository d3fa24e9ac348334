import { defineConfig } from 'vitest/config';

/**
 * Files whose assertions are tight timing or calibration (1 ms accuracy, an A/A interval that
 * must hold 0, a self-watch that must stay silent on a light run): they run after everything
 * else, one at a time, with this 2-core machine to themselves. Everything else runs two files
 * at a time (the suite is mostly waiting on paced streams: 6 CPU-minutes in 15 wall-minutes
 * when it ran one file at a time).
 */
const TIMING = [
  'test/integration/client-accuracy.test.ts',
  'test/integration/calibrate-cli.test.ts',
  'test/integration/harness-self-watch.test.ts',
  'test/integration/bench-chain.test.ts',
  'test/integration/bench-drift.test.ts',
  'test/integration/load-models.test.ts',
  'test/integration/edge-chain.test.ts',
];

export default defineConfig({
  test: {
    maxWorkers: 2,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: TIMING,
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 30_000,
          // describe.concurrent blocks (the verifier's fault matrix) run at most this many at once.
          maxConcurrency: 4,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 30_000,
          // The guided labs and the lab lifecycle run their independent labs side by side.
          maxConcurrency: 3,
        },
      },
      {
        test: {
          name: 'timing',
          include: TIMING,
          environment: 'node',
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 30_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
