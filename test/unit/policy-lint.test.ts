import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isLabError } from '../../src/errors.ts';
import { ProbeSession, parseDiagnostics, parsePolicyForLint, type LintInput } from '../../src/compliance/index.ts';
import { LINT_CHECKS } from '../../src/compliance/lint/policy-lint.ts';
import { escapeExpressions } from '../../src/compliance/lint/parse-policy.ts';
import { findingWordProblems } from '../helpers/finding-words.ts';

const path = (relative: string): string => fileURLToPath(new URL(`../../${relative}`, import.meta.url));

async function lint(input: Partial<LintInput>): Promise<Record<string, { status: string; evidence: string }>> {
  const full: LintInput = {
    policyFile: undefined,
    policy: undefined,
    diagnosticsFile: undefined,
    diagnostics: undefined,
    sku: undefined,
    ...input,
  };
  const session = new ProbeSession({
    gateway: undefined,
    direct: undefined,
    apis: ['chat'],
    thresholds: { deliveryP99Ms: 50, ttftOverheadMs: 50, idleGapMs: 1000, concurrentStreams: 1 },
    mockAdminUrl: undefined,
    lint: full,
    search: { endpoint: '', index: '' },
    env: {},
  });
  const results = Object.fromEntries(
    await Promise.all(LINT_CHECKS.map(async (c) => [c.id, await c.run(session)] as const)),
  );
  // Every failure says what failed (file, line, element), never what passing would have meant.
  for (const [id, r] of Object.entries(results))
    if (r.status === 'fail' || r.status === 'warn')
      expect(findingWordProblems(r.evidence, { sentence: false }), `${id}: ${r.evidence}`).toEqual([]);
  return results;
}

const policy = (relative: string) => ({
  policyFile: relative,
  policy: parsePolicyForLint(readFileSync(path(relative), 'utf8'), relative),
});

describe('static policy lint', () => {
  it('passes the lab streaming policy', async () => {
    const result = await lint(policy('infra/policies/streaming.xml'));
    expect(result['lint-forward-request']!.status).toBe('pass');
    expect(result['lint-response-body']!.status).toBe('pass');
    expect(result['lint-response-cache']!.status).toBe('pass');
    expect(result['lint-body-logging']!.status).toBe('pass');
    expect(result['lint-tier']!.status).toBe('skip');
  });

  it('fails the AI-Gateway style policy without buffer-response="false", naming file and line', async () => {
    const result = await lint(policy('test/fixtures/policies/ai-gateway-backend-pool.xml'));
    expect(result['lint-forward-request']!.status).toBe('fail');
    expect(result['lint-forward-request']!.evidence).toContain('ai-gateway-backend-pool.xml:14 <forward-request>');
    // Its retry condition is a C# expression with quotes inside the attribute: parsed, not rejected.
    expect(result['lint-response-body']!.status).toBe('pass');
  });

  it('fails a policy that logs or parses the response body', async () => {
    const result = await lint(policy('test/fixtures/policies/body-logging.xml'));
    expect(result['lint-forward-request']!.status).toBe('pass');
    expect(result['lint-response-body']!.status).toBe('fail');
    expect(result['lint-response-body']!.evidence).toMatch(/:14 <log-to-eventhub>.*:18 <set-variable>/);
    expect(result['lint-body-logging']!.status).toBe('fail');
  });

  it('fails diagnostics that log bodies and the Consumption tier', async () => {
    const diagnostics = parseDiagnostics(path('test/fixtures/policies/diagnostics-body-logging.json'));
    expect(diagnostics.map((d) => d.name)).toEqual(['applicationinsights', 'azuremonitor']);
    const result = await lint({ diagnostics, sku: 'Consumption' });
    expect(result['lint-body-logging']!.status).toBe('fail');
    expect(result['lint-body-logging']!.evidence).toContain(
      '"applicationinsights" logs frontend response bodies (8192 bytes)',
    );
    expect(result['lint-body-logging']!.evidence).not.toContain('azuremonitor');
    expect(result['lint-tier']!.status).toBe('fail');
    expect((await lint({ sku: 'BasicV2' }))['lint-tier']!.status).toBe('pass');
  });

  it('flags caching, body rewrites and an inherited forward-request', async () => {
    const xml = `<policies><inbound><base /><cache-lookup vary-by-developer="false" vary-by-developer-groups="false" /></inbound>
<backend><base /></backend><outbound><base /><find-and-replace from="a" to="b" /><cache-store duration="60" /></outbound></policies>`;
    const result = await lint({ policyFile: 'p.xml', policy: parsePolicyForLint(xml, 'p.xml') });
    expect(result['lint-response-cache']!.status).toBe('fail');
    expect(result['lint-response-cache']!.evidence).toContain('p.xml:1 <cache-lookup>');
    expect(result['lint-response-body']!.evidence).toContain('p.xml:2 <find-and-replace>');
    expect(result['lint-forward-request']!.status).toBe('warn');
  });

  it('escapes APIM expressions without moving lines, and rejects malformed XML with the flag', () => {
    const raw = '<a v="@(x.As<JObject>()["k"] && y)">\n@{ return a < b; }</a>';
    const escaped = escapeExpressions(raw);
    expect(escaped.split('\n')).toHaveLength(2);
    expect(escaped).toContain('@(x.As&lt;JObject&gt;()[&quot;k&quot;] &amp;&amp; y)');
    let error: unknown;
    try {
      parsePolicyForLint('<policies><inbound></policies>', 'bad.xml');
    } catch (e) {
      error = e;
    }
    expect(isLabError(error) && error.code === 'E_INVALID_OPTION' && error.message).toContain(
      '"bad.xml" is not well-formed XML',
    );
  });
});
