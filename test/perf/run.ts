/**
 * `npm run perf`: the benchmarks, each side by side with its baseline in the same run.
 * Not part of `npm test`: speed targets are measured and recorded in the README, not
 * asserted in timed tests. Environment knobs: PERF_STREAM_LEVELS (e.g. 250,500,1000,2000),
 * PERF_RUNS, PERF_PACED_TOKENS, PERF_FIDELITY_LEVELS (e.g. 1,100,1000), PERF_ONLY
 * (fidelity | mock | validation | tokenizer | gateway | report).
 */
import os from 'node:os';
import { runHarnessFidelity } from './harness-fidelity.ts';
import { runGatewayOverhead } from './gateway-overhead.ts';
import { runMockCapacity } from './mock-capacity.ts';
import { runMockValidation } from './mock-validation.ts';
import { runReportScale } from './report-scale.ts';
import { runTokenizer } from './tokenizer.ts';

import { withDeadline } from './child.ts';

/** Each benchmark's stated bound: past it, its processes are stopped and the run fails loudly. */
const DEADLINE_MS = {
  fidelity: 15 * 60_000,
  mock: 25 * 60_000,
  validation: 2 * 60_000,
  tokenizer: 2 * 60_000,
  gateway: 15 * 60_000,
  report: 10 * 60_000,
};

const header = `node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`;
const only = process.env['PERF_ONLY'];
if (only !== undefined && !Object.hasOwn(DEADLINE_MS, only)) {
  process.stderr.write(
    `PERF_ONLY: "${only}" is no benchmark; allowed: ${Object.keys(DEADLINE_MS).join(', ')} (or unset for all)\n`,
  );
  process.exit(2);
}
if (only === undefined || only === 'fidelity')
  process.stdout.write(
    `## Harness fidelity (${header})\n\n${await withDeadline('fidelity', DEADLINE_MS.fidelity, runHarnessFidelity)}\n\n`,
  );
if (only === undefined || only === 'mock')
  process.stdout.write(
    `## Mock capacity (${header})\n\n${await withDeadline('mock', DEADLINE_MS.mock, runMockCapacity)}\n`,
  );
if (only === undefined || only === 'validation')
  process.stdout.write(
    `\n## Mock request validation (${header})\n\n${await withDeadline('validation', DEADLINE_MS.validation, runMockValidation)}\n`,
  );
if (only === undefined || only === 'tokenizer')
  process.stdout.write(
    `\n## Token counting (${header})\n\n${await withDeadline('tokenizer', DEADLINE_MS.tokenizer, runTokenizer)}\n`,
  );
if (only === undefined || only === 'gateway')
  process.stdout.write(
    `\n## Gateway overhead (${header})\n\n${await withDeadline('gateway', DEADLINE_MS.gateway, runGatewayOverhead)}\n`,
  );
if (only === undefined || only === 'report')
  process.stdout.write(
    `\n## Report at scale (${header})\n\n${await withDeadline('report', DEADLINE_MS.report, runReportScale)}\n`,
  );
