import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interpretPolicy, loadGatewayPolicy } from '../../stand-ins/apim/policy.ts';
import { TokenWindow } from '../../stand-ins/apim/token-limit.ts';
import { parsePolicyXml } from '../../src/protocol/index.ts';

const read = (xml: string) => interpretPolicy(parsePolicyXml(xml, 'test.xml'), 'test.xml');

describe('gateway policy interpretation', () => {
  it('reads the lab policies: streaming relays, buffered keeps APIM default buffering', () => {
    const streaming = loadGatewayPolicy('infra/policies/streaming.xml');
    expect(streaming).toMatchObject({
      bufferResponse: false,
      timeoutMs: 120_000,
      backendId: 'openai-backend',
      usesManagedIdentity: true,
      ignored: [],
    });
    expect(loadGatewayPolicy('infra/policies/buffered.xml').bufferResponse).toBe(true);
  });

  it('with no forward-request, <base/> inherits the global default: buffer-response true, 300 s', () => {
    const policy = read(
      '<policies><inbound><base/></inbound><backend><base/></backend><outbound><base/></outbound></policies>',
    );
    expect(policy).toMatchObject({ bufferResponse: true, timeoutMs: 300_000 });
  });

  it('lists every policy it does not implement, with section and line, instead of dropping it', () => {
    const xml = readFileSync('test/fixtures/policies/ai-gateway-backend-pool.xml', 'utf8');
    const policy = read(xml);
    expect(policy.ignored.length).toBeGreaterThan(0);
    for (const entry of policy.ignored)
      expect(entry).toMatch(/^<[a-z-]+> \((inbound|backend|outbound|on-error|root), line \d+\)/);
    const custom = read(`<policies><inbound><rate-limit-by-key calls="5" renewal-period="60" counter-key="x" />
      <set-header name="x-id" exists-action="override"><value>@(context.RequestId)</value></set-header></inbound>
      <backend><forward-request buffer-response="false" follow-redirects="true" /></backend></policies>`);
    expect(custom.ignored).toEqual([
      '<rate-limit-by-key> (inbound, line 1)',
      '<set-header> (inbound, line 2): policy expressions are not evaluated locally',
      '<forward-request> (backend, line 3) attribute follow-redirects',
    ]);
  });

  it('refuses what it cannot honour faithfully: token quotas without tokens-per-minute, expression timeouts', () => {
    expect(() =>
      read(
        '<policies><inbound><llm-token-limit token-quota="1000" token-quota-period="Daily" counter-key="k" estimate-prompt-tokens="true" /></inbound></policies>',
      ),
    ).toThrow(/tokens-per-minute/);
    expect(() => read('<policies><backend><forward-request timeout="@(30)" /></backend></policies>')).toThrow(
      /not a number of seconds/,
    );
  });
});

describe('token window (tokens per minute, sliding)', () => {
  it('admits under the limit, refuses at it, and says when enough tokens leave the window', () => {
    let now = 0;
    const window = new TokenWindow(
      {
        policy: 'llm-token-limit',
        tokensPerMinute: 100,
        estimatePromptTokens: true,
        retryAfterHeaderName: 'retry-after',
        remainingTokensHeaderName: undefined,
      },
      () => now,
    );
    expect(window.admit(30, true)).toEqual({ isAllowed: true, remainingTokens: 70 });
    window.charge(40); // completion
    now = 20_000;
    expect(window.admit(20, true)).toEqual({ isAllowed: true, remainingTokens: 10 });
    // 20 more would exceed 100: the first 70 tokens (charged at t=0) leave at t=60 s.
    expect(window.admit(20, true)).toEqual({ isAllowed: false, retryAfterSec: 40 });
    // Without prompt estimation a request is refused only once the minute is used up.
    expect(window.admit(20, false)).toEqual({ isAllowed: true, remainingTokens: 10 });
    window.charge(15);
    expect(window.admit(1, false)).toMatchObject({ isAllowed: false });
    now = 60_001;
    expect(window.used()).toBe(35);
  });
});
