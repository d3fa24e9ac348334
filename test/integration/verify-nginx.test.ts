import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockServer } from '../../stand-ins/azure-openai/server.ts';
import { runVerify, type CheckStatus } from '../../src/compliance/index.ts';
import { startFastMock } from '../helpers/mock.ts';
import { startNginx } from '../helpers/nginx.ts';
import { verifyPlan } from '../helpers/verify.ts';

/**
 * Real proxies: Debian's nginx in front of the mock, configs in test/fixtures/nginx. What each
 * config does to a stream was observed, not assumed (see the comment atop each config).
 */
const CHECKS = [
  'content-type',
  'no-content-length',
  'no-compression',
  'incremental-delivery',
  'frame-integrity',
  'done-terminator',
  'usage-chunk',
  'named-events',
  'keepalive-comments',
];
const CASES: Array<{ config: string; expect: Record<string, CheckStatus> }> = [
  { config: 'streaming', expect: { 'incremental-delivery': 'pass', 'no-compression': 'pass' } },
  { config: 'gzip', expect: { 'incremental-delivery': 'fail', 'no-compression': 'fail' } },
  { config: 'default', expect: { 'incremental-delivery': 'fail', 'no-compression': 'pass' } },
  { config: 'gzip-flushed', expect: { 'incremental-delivery': 'pass', 'no-compression': 'warn' } },
  { config: 'default-honours-accel', expect: { 'incremental-delivery': 'pass', 'no-compression': 'pass' } },
];

let mock: MockServer;
beforeAll(async () => {
  mock = await startFastMock();
});
afterAll(() => mock.close());

// Each case has its own nginx (own prefix, own port) in front of the one mock: side by side.
describe.concurrent('lab:verify against nginx from Debian', () => {
  for (const { config, expect: expected } of CASES) {
    it(`${config}.conf: ${Object.entries(expected)
      .map(([id, s]) => `${id} ${s}`)
      .join(', ')}`, { timeout: 60_000 }, async () => {
      const nginx = await startNginx(config, mock.url);
      try {
        const report = await runVerify(verifyPlan(nginx.url, mock, { deliveryP99Ms: 100 }), { checks: CHECKS });
        const statuses = Object.fromEntries(
          report.checks.map((c) => [
            c.id,
            c.status === 'warn' && c.evidence.includes('one stall, not buffering') ? 'pass' : c.status,
          ]),
        );
        const evidence = report.checks.map((c) => `${c.id}: ${c.status} ${c.evidence}`).join('\n');
        for (const [id, status] of Object.entries(expected)) expect(statuses[id], evidence).toBe(status);
        // Everything else nginx relays faithfully in every config.
        for (const id of CHECKS.filter((c) => !(c in expected))) expect(statuses[id], evidence).toBe('pass');
        if (expected['no-compression'] !== 'pass')
          expect(report.checks.find((c) => c.id === 'no-compression')!.evidence).toContain('content-encoding gzip');
      } finally {
        await nginx.close();
      }
    });
  }
});
