import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files whose assertions are tight timing or calibration (1 ms accuracy, an A/A interval that
 * must hold 0, a self-watch that must stay silent on a light run, a merged run's median within
 * 5 ms of a single run's): they run after everything else, one at a time, with this 2-core
 * machine to themselves. Everything else runs two files at a time (the suite is mostly waiting
 * on paced streams: 7 CPU-minutes in 7.5 wall-minutes).
 */
const TIMING = [
  'test/integration/client-accuracy.test.ts',
  'test/integration/calibrate-cli.test.ts',
  'test/integration/harness-self-watch.test.ts',
  'test/integration/bench-chain.test.ts',
  'test/integration/bench-drift.test.ts',
  'test/integration/load-models.test.ts',
  'test/integration/edge-chain.test.ts',
  'test/integration/shards.test.ts',
];

/**
 * The order files start in, before the rest (which follow in base order: the longest first, from
 * the last run), so a clean clone runs them as this machine does. The files that run whole labs
 * side by side (a mock, a gateway, a bench, a verify each) go first, two at a time; three of them
 * at once starve each other on two cores (runs with three workers failed a verify on a 221 ms
 * stall and a lab's "under 60 s", from the contention, not the code).
 */
const START_ORDER = [
  'test/e2e/doc-commands.test.ts',
  'test/e2e/labs.test.ts',
  'test/e2e/lab-lifecycle.test.ts',
  'test/e2e/report-compare.test.ts',
  'test/integration/verify-fault-matrix.test.ts',
  'test/integration/verify-cli.test.ts',
  'test/integration/state-recovery.test.ts',
];

class StartOrderSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const at = START_ORDER.indexOf(relative(spec.project.config.root, spec.moduleId));
      return at === -1 ? START_ORDER.length : at;
    };
    const group = (spec: TestSpecification): number => spec.project.config.sequence.groupOrder;
    // Array sort is stable: within a group and a rank, the base order stays.
    return sorted.sort((a, b) => group(a) - group(b) || rank(a) - rank(b));
  }
}

export default defineConfig({
  test: {
    maxWorkers: 2,
    sequence: { sequencer: StartOrderSequencer },
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
