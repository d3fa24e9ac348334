import { verdict, type Check, type Verdict } from '../check-kit.ts';
import type { ProbeSession } from '../session.ts';
import type { PolicyElement } from './parse-policy.ts';
import type { DiagnosticSetting, LintInput } from '../types.ts';

export type { DiagnosticSetting, LintInput };

/** Configuration the static lint reads: a policy document, diagnostics, the tier. */
const where = (file: string | undefined, e: PolicyElement): string => `${file ?? 'policy'}:${e.line} <${e.name}>`;

/** Elements whose presence means the gateway reads, rewrites or caches the response body. */
const BODY_POLICIES: Record<string, string> = {
  'validate-content': 'validates the body, so the gateway buffers it',
  'set-body': 'rewrites the body, so the gateway buffers it',
  'find-and-replace': 'rewrites the body, so the gateway buffers it',
  'xml-to-json': 'converts the body, so the gateway buffers it',
  'json-to-xml': 'converts the body, so the gateway buffers it',
};
const CACHE_POLICIES = [
  'cache-store',
  'cache-lookup',
  'azure-openai-semantic-cache-lookup',
  'azure-openai-semantic-cache-store',
  'llm-semantic-cache-lookup',
  'llm-semantic-cache-store',
];

function lintCheck(id: string, title: string, judge: (input: LintInput) => Verdict): Check {
  return {
    id,
    title,
    run: async (session: ProbeSession) => {
      const input = session.plan.lint;
      if (
        input === undefined ||
        (input.policy === undefined && input.diagnostics === undefined && input.sku === undefined)
      ) {
        return verdict('skip', 'no configuration to lint (pass --policy FILE, --diagnostics FILE or --sku NAME)');
      }
      return judge(input);
    },
  };
}

export const lintForwardRequest = lintCheck(
  'lint-forward-request',
  'forward-request has buffer-response="false"',
  (input) => {
    if (input.policy === undefined) return verdict('skip', 'no policy given');
    const forwards = input.policy.filter((e) => e.name === 'forward-request');
    const buffering = forwards.filter(
      (e) => (e.attributes['buffer-response'] ?? 'true').trim().toLowerCase() !== 'false',
    );
    if (buffering.length > 0) {
      return verdict(
        'fail',
        `${buffering.map((e) => where(input.policyFile, e)).join(', ')} without buffer-response="false": APIM buffers the response (8 KB blocks) and streams arrive in bursts`,
      );
    }
    if (forwards.length > 0)
      return verdict(
        'pass',
        `${forwards.map((e) => where(input.policyFile, e)).join(', ')} has buffer-response="false"`,
      );
    const inheritsBackend = input.policy.some((e) => e.name === 'base' && e.section === 'backend');
    if (inheritsBackend)
      return verdict(
        'warn',
        'no forward-request here; the backend section inherits <base/>, and the global default forward-request buffers unless it sets buffer-response="false"',
      );
    return verdict(
      'warn',
      'no forward-request and no <base/> in the backend section: the request may not be forwarded at all',
    );
  },
);

export const lintResponseBody = lintCheck(
  'lint-response-body',
  'No policy reads or rewrites the response body',
  (input) => {
    if (input.policy === undefined) return verdict('skip', 'no policy given');
    const findings = input.policy.flatMap((e) => {
      const found: string[] = [];
      if (BODY_POLICIES[e.name] && (e.section === 'outbound' || e.name === 'validate-content'))
        found.push(`${where(input.policyFile, e)} ${BODY_POLICIES[e.name]}`);
      const expressions = [...Object.values(e.attributes), e.text].join(' ');
      if (/context\.Response\.Body/.test(expressions))
        found.push(
          `${where(input.policyFile, e)} reads context.Response.Body, which buffers the stream (and fails on SSE when parsed as JSON)`,
        );
      return found;
    });
    return findings.length > 0
      ? verdict('fail', findings.join('; '))
      : verdict('pass', 'no policy touches the response body');
  },
);

export const lintResponseCache = lintCheck('lint-response-cache', 'No response caching', (input) => {
  if (input.policy === undefined) return verdict('skip', 'no policy given');
  const caches = input.policy.filter((e) => CACHE_POLICIES.includes(e.name));
  return caches.length > 0
    ? verdict(
        'fail',
        `${caches.map((e) => where(input.policyFile, e)).join(', ')}: response caching holds or replays streams; disable it for SSE`,
      )
    : verdict('pass', 'no caching policy');
});

export const lintBodyLogging = lintCheck(
  'lint-body-logging',
  'No request/response body logging in diagnostics',
  (input) => {
    const findings: string[] = [];
    for (const d of input.diagnostics ?? []) {
      for (const side of ['frontend', 'backend'] as const) {
        const bytes = d[side]?.response?.body?.bytes ?? 0;
        if (bytes > 0) findings.push(`diagnostic "${d.name}" logs ${side} response bodies (${bytes} bytes)`);
        const requestBytes = d[side]?.request?.body?.bytes ?? 0;
        if (requestBytes > 0)
          findings.push(`diagnostic "${d.name}" logs ${side} request bodies (${requestBytes} bytes)`);
      }
    }
    const eventHub = (input.policy ?? []).filter((e) => e.name === 'log-to-eventhub' && /Response\.Body/.test(e.text));
    findings.push(...eventHub.map((e) => `${where(input.policyFile, e)} logs the response body to Event Hubs`));
    if (findings.length > 0)
      return verdict(
        'fail',
        `${findings.join('; ')}: body logging buffers SSE (Microsoft's SSE guidance); set body bytes to 0 for this API`,
      );
    if (input.diagnostics === undefined)
      return verdict(
        input.policy ? 'pass' : 'skip',
        input.policy
          ? 'no body logging in the policy (no diagnostics given: pass --diagnostics FILE to check them)'
          : 'no diagnostics given',
      );
    return verdict('pass', `${input.diagnostics.length} diagnostic setting(s), none logs bodies`);
  },
);

export const lintTier = lintCheck('lint-tier', 'The tier supports long-running connections', (input) => {
  if (input.sku === undefined) return verdict('skip', 'no tier given (--sku NAME)');
  if (input.sku.toLowerCase() === 'consumption')
    return verdict(
      'fail',
      'the Consumption tier has no long-running connections and caps a request at 30 s; use Basic v2 or above',
    );
  return verdict('pass', `${input.sku} supports SSE`);
});

export const LINT_CHECKS: Check[] = [
  lintForwardRequest,
  lintResponseBody,
  lintResponseCache,
  lintBodyLogging,
  lintTier,
];
