import { readFileSync } from 'node:fs';
import { InvalidOptionError } from '../../src/errors.ts';
import type { PolicyElement } from '../../src/protocol/index.ts';
import { policyFlag } from '../../src/flags.ts';
import { compileCondition, CONDITION_GRAMMAR, ConditionError, type Condition } from './retry-condition.ts';

/** `set-header` as APIM applies it: to the backend request (inbound) or the client response (outbound). */
export interface HeaderRule {
  name: string;
  existsAction: 'override' | 'skip' | 'append' | 'delete';
  values: string[];
}

/** `llm-token-limit` / `azure-openai-token-limit`, tokens-per-minute form. */
export interface TokenLimitRule {
  policy: string;
  tokensPerMinute: number;
  estimatePromptTokens: boolean;
  retryAfterHeaderName: string;
  remainingTokensHeaderName: string | undefined;
}

/** `<retry>` around `forward-request`: re-forwards while the condition holds on the backend's response. */
export interface RetryRule {
  /** The condition as written, for messages. */
  conditionText: string;
  condition: Condition;
  /** Retries after the first attempt (APIM: 1 to 50). */
  count: number;
  intervalMs: number;
  maxIntervalMs: number | undefined;
  deltaMs: number | undefined;
  firstFastRetry: boolean;
}

/** What the local gateway does with a request, read from an APIM policy document. */
export interface GatewayPolicy {
  file: string;
  /** `forward-request buffer-response`: APIM's default (also through `<base/>`) is true. */
  bufferResponse: boolean;
  /**
   * A policy expression reads `context.Response.Body` (body logging to Event Hubs, a trace, a
   * rewrite): APIM must hold the whole response to evaluate it, whatever buffer-response says.
   */
  readsResponseBody: boolean;
  /** Time allowed until the backend's response headers (`timeout`/`timeout-ms`; default 300 s). */
  timeoutMs: number;
  /** `set-backend-service`: a backend id, or a base URL that must be the configured backend. */
  backendId: string | undefined;
  backendBaseUrl: string | undefined;
  /** `authentication-managed-identity`: locally, the backend's key stands in for the token. */
  usesManagedIdentity: boolean;
  inboundHeaders: HeaderRule[];
  outboundHeaders: HeaderRule[];
  tokenLimit: TokenLimitRule | undefined;
  retry: RetryRule | undefined;
  /** Policies present in the document that the local gateway does not implement, once each, with where. */
  ignored: string[];
}

/** APIM's global default: `<forward-request timeout="300" buffer-response="true"/>`. */
const DEFAULT_TIMEOUT_MS = 300_000;
/** Structural elements, and elements handled as children of an honoured policy. */
const STRUCTURE = new Set(['policies', 'inbound', 'backend', 'outbound', 'on-error', 'base', 'value']);
const HONOURED = new Set([
  'retry',
  'forward-request',
  'set-backend-service',
  'set-header',
  'authentication-managed-identity',
  'llm-token-limit',
  'azure-openai-token-limit',
]);
/** Honoured policies whose children are policies too (evaluated, not ignored). */
const CONTAINERS = new Set(['retry']);
const EXISTS_ACTIONS = ['override', 'skip', 'append', 'delete'] as const;

/** Reads and interprets a policy file; a file it cannot use is an `--policy` error (exit 2). */
export function loadGatewayPolicy(file: string): GatewayPolicy {
  let xml: string;
  try {
    xml = readFileSync(file, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(
      '--policy',
      `cannot read "${file}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      'a readable APIM policy XML file',
    );
  }
  return interpretPolicy(policyFlag(xml, file), file);
}

/** Interprets parsed policy elements with APIM's semantics and defaults. */
export function interpretPolicy(elements: readonly PolicyElement[], file: string): GatewayPolicy {
  const policy: GatewayPolicy = {
    file,
    bufferResponse: true,
    readsResponseBody: false,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    backendId: undefined,
    backendBaseUrl: undefined,
    usesManagedIdentity: false,
    inboundHeaders: [],
    outboundHeaders: [],
    tokenLimit: undefined,
    retry: undefined,
    ignored: [],
  };
  elements.forEach((element, index) => {
    if (STRUCTURE.has(element.name)) return;
    if (
      element.section !== 'inbound' &&
      /context\.Response\.Body/.test([...Object.values(element.attributes), element.text].join(' '))
    )
      policy.readsResponseBody = true;
    const where = `<${element.name}> (${element.section || 'root'}, line ${element.line})`;
    if (!HONOURED.has(element.name) || hasHonouredAncestor(elements, element)) {
      // Children of an honoured policy other than <value> (and everything unknown) are not implemented.
      policy.ignored.push(where);
      return;
    }
    const a = element.attributes;
    switch (element.name) {
      case 'forward-request':
        policy.bufferResponse = a['buffer-response'] !== 'false';
        policy.timeoutMs = forwardTimeoutMs(element, file);
        // buffer-request-body: the gateway always holds the request body (at most --max-body-bytes), so every attempt can resend it.
        for (const name of Object.keys(a))
          if (!['buffer-response', 'timeout', 'timeout-ms', 'buffer-request-body'].includes(name))
            policy.ignored.push(`${where} attribute ${name}`);
        return;
      case 'set-backend-service':
        policy.backendId = a['backend-id'];
        policy.backendBaseUrl = a['base-url'];
        return;
      case 'retry': {
        const wrapsForward = elements.some((e, i) => e.name === 'forward-request' && isInside(elements, i, index));
        if (element.section !== 'backend' || !wrapsForward)
          policy.ignored.push(`${where}: only a retry around forward-request (in backend) is implemented`);
        else policy.retry = retryRule(element, file);
        return;
      }
      case 'authentication-managed-identity':
        policy.usesManagedIdentity = true;
        return;
      case 'set-header': {
        const rule = headerRule(elements, index, file);
        if (rule === undefined) policy.ignored.push(`${where}: policy expressions are not evaluated locally`);
        else (element.section === 'inbound' ? policy.inboundHeaders : policy.outboundHeaders).push(rule);
        return;
      }
      default:
        // counter-key is usually @(context.Subscription.Id); the local lab has one subscription, so one counter.
        policy.tokenLimit = tokenLimitRule(element, file);
    }
  });
  return policy;
}

function hasHonouredAncestor(elements: readonly PolicyElement[], element: PolicyElement): boolean {
  for (let i = element.parent; i >= 0; i = elements[i]!.parent)
    if (HONOURED.has(elements[i]!.name) && !CONTAINERS.has(elements[i]!.name)) return true;
  return false;
}

function isInside(elements: readonly PolicyElement[], index: number, ancestor: number): boolean {
  for (let i = elements[index]!.parent; i >= 0; i = elements[i]!.parent) if (i === ancestor) return true;
  return false;
}

/** `<retry condition count interval max-interval delta first-fast-retry>`, as the retry policy reference defines them. */
function retryRule(element: PolicyElement, file: string): RetryRule {
  const a = element.attributes;
  const where = `"${file}" line ${element.line}: retry`;
  const seconds = (name: string, required: boolean): number | undefined => {
    const raw = a[name];
    if (raw === undefined) {
      if (required) throw new InvalidOptionError('--policy', `${where} needs ${name}`, `${name}="0" (seconds)`);
      return undefined;
    }
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0 || value > 300)
      throw new InvalidOptionError(
        '--policy',
        `${where} ${name} "${raw}" is not a number of seconds from 0 to 300 (expressions are not evaluated locally)`,
        `${name}="1"`,
      );
    return value * 1000;
  };
  const count = Number(a['count']);
  if (!Number.isInteger(count) || count < 1 || count > 50)
    throw new InvalidOptionError(
      '--policy',
      `${where} count "${a['count'] ?? 'none'}" (an integer from 1 to 50)`,
      'count="2"',
    );
  const conditionText = a['condition'] ?? 'true';
  let condition: Condition;
  try {
    condition = compileCondition(conditionText);
  } catch (error) {
    if (!(error instanceof ConditionError)) throw error;
    const shown =
      conditionText.length > 200
        ? `${JSON.stringify(conditionText.slice(0, 200))}… (${conditionText.length} characters)`
        : JSON.stringify(conditionText);
    throw new InvalidOptionError(
      '--policy',
      `${where} condition ${shown} cannot be evaluated locally (${error.message})`,
      CONDITION_GRAMMAR,
    );
  }
  return {
    conditionText,
    condition,
    count,
    intervalMs: seconds('interval', true)!,
    maxIntervalMs: seconds('max-interval', false),
    deltaMs: seconds('delta', false),
    firstFastRetry: a['first-fast-retry'] === 'true',
  };
}

/**
 * The wait before retry `k` (1-based): none for the first when first-fast-retry is set; else
 * the fixed interval, or with delta the linear (interval + (k−1)·delta) or, with max-interval,
 * the exponential (interval + (2^(k−1) − 1)·delta, capped) series. APIM randomises the
 * exponential delta by ±20%; the local gateway uses its middle so runs repeat.
 */
export function retryDelayMs(rule: RetryRule, k: number): number {
  if (rule.firstFastRetry && k === 1) return 0;
  if (rule.deltaMs === undefined) return rule.intervalMs;
  if (rule.maxIntervalMs === undefined) return rule.intervalMs + (k - 1) * rule.deltaMs;
  return Math.min(rule.maxIntervalMs, rule.intervalMs + (2 ** (k - 1) - 1) * rule.deltaMs);
}

/** The longest a Node timer can wait (2^31−1 ms); a longer one fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
const MAX_TIMEOUT_SECONDS = Math.floor(MAX_TIMEOUT_MS / 1000);

/** `timeout` (whole seconds) or `timeout-ms`: a positive integer a Node timer can hold. */
function forwardTimeoutMs(element: PolicyElement, file: string): number {
  const a = element.attributes;
  const isMs = a['timeout-ms'] !== undefined;
  const raw = a['timeout-ms'] ?? a['timeout'];
  if (raw === undefined) return DEFAULT_TIMEOUT_MS;
  const [attribute, max, unit] = isMs
    ? ['timeout-ms', MAX_TIMEOUT_MS, 'milliseconds']
    : ['timeout', MAX_TIMEOUT_SECONDS, 'seconds'];
  const value = /^\s*\d+\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    const why = raw.trim().startsWith('@') ? ' (expressions are not evaluated locally)' : '';
    throw new InvalidOptionError(
      '--policy',
      `"${file}" line ${element.line}: forward-request ${attribute} "${raw}" is not a number of ${unit} from 1 to ${max}${why}`,
      `${attribute}="${isMs ? 120_000 : 120}" (a whole number of ${unit}, 1 to ${max}: the longest a timer can wait is ${MAX_TIMEOUT_MS} ms)`,
    );
  }
  return isMs ? value : value * 1000;
}

/** An HTTP field name (RFC 9110 token): what Node and every hop accept. */
const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value the gateway can send unchanged on both sides: visible ASCII, spaces and tabs. */
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;
/**
 * Framing and hop-by-hop headers: the gateway sets them for each connection (a response's
 * framing follows its relay); a policy that sets them would desynchronise the message from
 * its body, and the client or the backend waits for bytes that never come.
 */
export const FRAMING_HEADERS = [
  'transfer-encoding',
  'content-length',
  'connection',
  'keep-alive',
  'proxy-connection',
  'upgrade',
  'te',
  'trailer',
] as const;

/** A header name the policy gives literally (set-header name, a token limit's header names). */
function headerName(raw: string, where: string, attribute: string): string {
  if (!HEADER_TOKEN.test(raw)) {
    throw new InvalidOptionError(
      '--policy',
      `${where} ${attribute} ${JSON.stringify(raw)} is not an HTTP header name`,
      `a header name: one or more letters, digits and !#$%&'*+-.^_\`|~ (an RFC 9110 token; no spaces, colons or other characters)`,
    );
  }
  const name = raw.toLowerCase();
  if ((FRAMING_HEADERS as readonly string[]).includes(name)) {
    throw new InvalidOptionError(
      '--policy',
      `${where} ${attribute} "${raw}" is a framing (hop-by-hop) header, which the gateway sets itself for each connection`,
      `any header but ${FRAMING_HEADERS.join(', ')}`,
    );
  }
  return name;
}

function headerRule(elements: readonly PolicyElement[], index: number, file: string): HeaderRule | undefined {
  const element = elements[index]!;
  const where = `"${file}" line ${element.line}: set-header`;
  const rawName = element.attributes['name'];
  if (rawName === undefined) throw new InvalidOptionError('--policy', `${where} has no name`, 'name="x-header-name"');
  if (rawName.trim().startsWith('@')) return undefined;
  const name = headerName(rawName, where, 'name');
  const action = element.attributes['exists-action'] ?? 'override';
  if (!(EXISTS_ACTIONS as readonly string[]).includes(action)) {
    throw new InvalidOptionError(
      '--policy',
      `"${file}" line ${element.line}: set-header exists-action "${action}"`,
      EXISTS_ACTIONS.join(', '),
    );
  }
  const valueElements = elements.filter((e) => e.parent === index && e.name === 'value');
  const values = valueElements.map((e) => e.text.trim());
  if (values.some((v) => v.startsWith('@'))) return undefined;
  values.forEach((value, i) => {
    if (HEADER_VALUE.test(value)) return;
    const bad = [...value].find((c) => !HEADER_VALUE.test(c))!;
    const code = bad.codePointAt(0)!;
    const what =
      code === 13 || code === 10
        ? 'a line break (CR/LF)'
        : code === 0
          ? 'a NUL'
          : code < 0x80
            ? 'a control character'
            : 'non-ASCII text';
    throw new InvalidOptionError(
      '--policy',
      `"${file}" line ${valueElements[i]!.line}: set-header "${rawName}" value ${JSON.stringify(value)} has ${what} (U+${code.toString(16).toUpperCase().padStart(4, '0')}), which cannot be sent in a header`,
      'visible ASCII characters, spaces and tabs (no CR, LF, NUL or other control characters; non-ASCII text percent- or base64-encoded)',
    );
  });
  return { name, existsAction: action as HeaderRule['existsAction'], values };
}

function tokenLimitRule(element: PolicyElement, file: string): TokenLimitRule {
  const a = element.attributes;
  const where = `"${file}" line ${element.line}: ${element.name}`;
  const tpm = Number(a['tokens-per-minute']);
  if (!Number.isInteger(tpm) || tpm <= 0) {
    throw new InvalidOptionError(
      '--policy',
      `"${file}" line ${element.line}: ${element.name} needs tokens-per-minute as a positive integer (got "${a['tokens-per-minute'] ?? 'none'}"; token-quota is not implemented locally)`,
      'tokens-per-minute="1000"',
    );
  }
  return {
    policy: element.name,
    tokensPerMinute: tpm,
    estimatePromptTokens: a['estimate-prompt-tokens'] === 'true',
    retryAfterHeaderName: headerName(a['retry-after-header-name'] ?? 'retry-after', where, 'retry-after-header-name'),
    remainingTokensHeaderName:
      a['remaining-tokens-header-name'] === undefined
        ? undefined
        : headerName(a['remaining-tokens-header-name'], where, 'remaining-tokens-header-name'),
  };
}
