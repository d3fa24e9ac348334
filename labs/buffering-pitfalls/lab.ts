import { defineLab, findScenario, formatMs, type ComplianceReport } from '../../src/index.ts';

/** The three policies, in the order the lab deploys them. */
const POLICIES = [
  { name: 'streaming', file: 'streaming', what: 'buffer-response="false"' },
  { name: 'buffered', file: 'buffered', what: 'forward-request left at its default (buffer-response="true")' },
  { name: 'body-logging', file: 'body-logging.xml', what: 'buffer-response="false" plus the response body logged to Event Hubs' },
] as const;

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
      await lab.deploy(policy.file);
      const summary = await lab.bench(`bench-${policy.name}`, ['--api', 'chat', '--stream', 'on', '--max-tokens', '256', '--requests', '4', '--concurrency', '4', '--warmup', '1']);
      const report = await lab.verify(`verify-${policy.name}`, ['--checks', CHECKS, '--api', 'chat']);
      const gateway = findScenario(summary, { path: 'gateway', stream: true });
      const costMs = gateway.ttftMs!.p50 - findScenario(summary, { path: 'direct', stream: true }).ttftMs!.p50;
      const failed = failing(report);
      facts[`${policy.name}.verdict`] = report.verdict;
      facts[`${policy.name}.failed`] = failed.map((c) => c.id).join(',') || 'none';
      facts[`${policy.name}.gatewayTtftCostMs`] = Math.round(costMs);
      facts[`${policy.name}.gatewayTtftShareOfE2e`] = Math.round((gateway.ttftMs!.p50 / gateway.e2eMs!.p50) * 100) / 100;
      sentences.push(
        `${policy.name} (${policy.what}): compliance ${report.verdict}${failed.length > 0 ? `, failing ${failed.map((c) => `${c.id} (${c.title.toLowerCase()})`).join(', ')}` : ''}; ` +
          `the gateway's first token came ${formatMs(Math.abs(costMs))} ${costMs >= 0 ? 'later' : 'sooner'} than direct.`,
      );
    }
    return { finding: sentences.join('\n'), facts };
  },
});
