import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files whose assertions are tight timing or calibration (1 ms accuracy, an A/A interval that
 * must hold 0, a self-watch that must stay silent on a light run, a merged run's median within
 * 5 ms of a single run's): they run after everything else, one at a time, with this 2-core
 * machine to themselves. Everything else runs three files at a time (the suite is mostly waiting
 * on paced streams: 7 CPU-minutes in 7.5 wall-minutes when it ran two files at a time).
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
 * The files that run whole labs side by side (a mock, a gateway, a bench, a verify each). On two
 * cores, too many at once starve each other: a verify then sees a gateway stalled for 200 ms
 * ("frames are held back") and a lab misses its "under 60 s", from the contention, not the code.
 * So the two longest start first, every other file of their group starts before the rest of
 * these, and the e2e files run two of their labs at a time (maxConcurrency below).
 */
const START_FIRST = ['test/e2e/labs.test.ts', 'test/e2e/doc-commands.test.ts'];
const START_LAST = [
  'test/e2e/lab-lifecycle.test.ts',
  'test/integration/verify-fault-matrix.test.ts',
  'test/e2e/report-compare.test.ts',
  'test/integration/state-recovery.test.ts',
  'test/integration/verify-cli.test.ts',
];

class StartOrderSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification): number => {
      const file = relative(spec.project.config.root, spec.moduleId);
      const first = START_FIRST.indexOf(file);
      const last = START_LAST.indexOf(file);
      return first !== -1 ? first : last !== -1 ? START_FIRST.length + 1 + last : START_FIRST.length;
    };
    const group = (spec: TestSpecification): number => spec.project.config.sequence.groupOrder;
    // A stable sort: within a group and a rank, the base order.
    return sorted
      .map((spec, index) => ({ spec, index }))
      .sort((a, b) => group(a.spec) - group(b.spec) || rank(a.spec) - rank(b.spec) || a.index - b.index)
      .map(({ spec }) => spec);
  }
}

export default defineConfig({
  test: {
    maxWorkers: 3,
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
          // The guided labs and the lab lifecycle run their independent labs two at a time.
          maxConcurrency: 2,
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
