/**
 * `npm run perf`: the benchmarks, each side by side with its baseline in the same run.
 * Not part of `npm test`: speed targets are measured and recorded in the README, not
 * asserted in timed tests. Environment knobs: PERF_STREAM_LEVELS (e.g. 250,500,1000,2000),
 * PERF_RUNS, PERF_PACED_TOKENS.
 */
import os from 'node:os';
import { runMockCapacity } from './mock-capacity.ts';

const header = `node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
process.stdout.write(`## Mock capacity (${header})\n\n${await runMockCapacity()}\n`);
