import { defineLab, describeShift, findScenario, type ComplianceReport, type PathComparison } from '../../src/index.ts';

/** The three policies, in the order the lab deploys them. */
const POLICIES = [
  { name: 'streaming', file: 'streaming', what: 'buffer-response="false"' },
  { name: 'buffered', file: 'buffered', what: 'forward-request left at its default (buffer-response="true")' },
  {
    name: 'body-logging',
    file: 'body-logging.xml',
    what: 'buffer-response="false" plus the response body logged to Event Hubs',
  },
] as const;

/** The id of an Event Hubs logger in the Azure lab's APIM, for the body-logging policy on Azure. */
const EVENTHUB_LOGGER_ENV = 'LAB_EVENTHUB_LOGGER';

const CHECKS = 'incremental-delivery,lint-forward-request,lint-response-body,lint-body-logging';

const failing = (report: ComplianceReport) => report.checks.filter((c) => c.status === 'fail');

/** The same stream through a streaming policy and two that buffer it; verify says which and why. */
export default defineLab({
  name: 'buffering-pitfalls',
  title: 'Buffering pitfalls: buffer-response and body logging',
  mockArgs: ['--itl-ms', '8', '--output-tokens', '256'],
  async run(lab) {
    const facts: Record<string, number | string | boolean> = {};
    const sentences: string[] = [];
    for (const policy of POLICIES) {
      // On Azure, APIM refuses a policy whose logger does not exist, and the lab creates none
      // (an Event Hubs namespace is billable): body logging runs with a logger of yours.
      const logger =
        lab.target === 'azure' && policy.name === 'body-logging' ? lab.setting(EVENTHUB_LOGGER_ENV) : undefined;
      if (lab.target === 'azure' && policy.name === 'body-logging' && logger === undefined) {
        facts[`${policy.name}.verdict`] = 'not run';
        sentences.push(
          `Body-logging: not run on Azure. It logs to Event Hubs through an APIM logger, which the lab does not create (an Event Hubs namespace is billable); create one in the lab's APIM and set ${EVENTHUB_LOGGER_ENV} to its id to include it.`,
        );
        continue;
      }
      await lab.deploy(policy.file, logger !== undefined ? { loggers: { 'audit-logger': logger } } : {});
      // 8 requests per path: the paired interval needs at least 6 pairs (docs/decisions/0006).
      const summary = await lab.bench(`bench-${policy.name}`, [
        '--api',
        'chat',
        '--stream',
        'on',
        '--max-tokens',
        '256',
        '--requests',
        '8',
        '--concurrency',
        '4',
        '--warmup',
        '1',
      ]);
      const report = await lab.verify(`verify-${policy.name}`, ['--checks', CHECKS, '--api', 'chat']);
      const gateway = findScenario(summary, { path: 'gateway', stream: true });
      const costMs = gateway.ttftMs!.p50 - findScenario(summary, { path: 'direct', stream: true }).ttftMs!.p50;
      const overhead = summary.comparisons.find(
        (c): c is PathComparison => c.kind === 'path-overhead' && c.metric === 'ttftMs' && c.path === 'gateway',
      );
      const failed = failing(report);
      facts[`${policy.name}.verdict`] = report.verdict;
      facts[`${policy.name}.failed`] = failed.map((c) => c.id).join(',') || 'none';
      facts[`${policy.name}.gatewayTtftCostMs`] = Math.round(costMs);
      facts[`${policy.name}.gatewayTtftShareOfE2e`] =
        Math.round((gateway.ttftMs!.p50 / gateway.e2eMs!.p50) * 100) / 100;
      // Each failing check with what failed (its evidence), and the gateway's cost in the words its interval allows.
      const failures = failed.map((c) => `${c.id} (${c.evidence})`).join('; ');
      const cost = overhead
        ? describeShift(overhead.medianDifferenceMs, 'the gateway', 'to time to first token')
        : 'no paired comparison (too few requests on both paths)';
      sentences.push(
        `${policy.name[0]!.toUpperCase()}${policy.name.slice(1)} (${policy.what}): compliance ${report.verdict}${failed.length > 0 ? `, failing ${failures}` : ''}; ${cost}.`,
      );
    }
    return { finding: sentences.join('\n'), facts };
  },
});
