import { parsePolicyXml, PolicyXmlError } from '../../src/protocol/policy-xml.ts';

/**
 * What APIM checks when a policy is PUT (the fake ARM's side): the document is well formed,
 * every policy statement is one APIM knows, and what it references exists in the service
 * (backends, loggers, named values, policy fragments). APIM answers 400 ValidationError with
 * a detail per problem ("Logger not found" for a missing logger, as Azure/apiops#878 shows).
 */

/** APIM's policy statements (Microsoft Learn: API Management policy reference), and the sections and containers that hold them. */
const STATEMENTS = new Set([
  'base',
  'include-fragment',
  // access restriction and authentication
  'check-header',
  'get-authorization-context',
  'ip-filter',
  'quota',
  'quota-by-key',
  'rate-limit',
  'rate-limit-by-key',
  'validate-azure-ad-token',
  'validate-jwt',
  'validate-client-certificate',
  'authentication-basic',
  'authentication-certificate',
  'authentication-managed-identity',
  // AI gateway
  'llm-token-limit',
  'llm-emit-token-metric',
  'llm-semantic-cache-lookup',
  'llm-semantic-cache-store',
  'llm-content-safety',
  'azure-openai-token-limit',
  'azure-openai-emit-token-metric',
  'azure-openai-semantic-cache-lookup',
  'azure-openai-semantic-cache-store',
  // routing, caching, cross-domain
  'forward-request',
  'proxy',
  'set-backend-service',
  'cache-lookup',
  'cache-store',
  'cache-lookup-value',
  'cache-store-value',
  'cache-remove-value',
  'cors',
  'jsonp',
  'cross-domain',
  // transformation
  'find-and-replace',
  'json-to-xml',
  'xml-to-json',
  'set-body',
  'set-header',
  'set-query-parameter',
  'rewrite-uri',
  'set-method',
  'set-status',
  'xsl-transform',
  'mock-response',
  'return-response',
  'send-request',
  'send-one-way-request',
  'set-variable',
  'set-request',
  'sql-data-source',
  'http-data-source',
  'set-graphql-resolver',
  'publish-to-dapr',
  'invoke-dapr-binding',
  // logging and metrics
  'trace',
  'log-to-eventhub',
  'emit-metric',
  // control flow
  'choose',
  'retry',
  'wait',
  'limit-concurrency',
  // validation
  'validate-content',
  'validate-parameters',
  'validate-headers',
  'validate-status-code',
  'validate-graphql-request',
  'validate-odata-request',
]);
/** Elements whose children are policy statements. */
const CONTAINERS = new Set([
  'inbound',
  'backend',
  'outbound',
  'on-error',
  'retry',
  'when',
  'otherwise',
  'wait',
  'limit-concurrency',
]);

export interface PolicyDetail {
  target: string;
  message: string;
}

/** The service's resources a policy may reference, by kind: does one of this id exist? */
export type ExistsIn = (kind: 'backends' | 'loggers' | 'namedValues' | 'policyFragments', id: string) => boolean;

/** The problems APIM would refuse this policy for (empty: accepted). */
export function policyProblems(xml: string, exists: ExistsIn): PolicyDetail[] {
  let elements;
  try {
    elements = parsePolicyXml(xml, 'policy');
  } catch (error) {
    if (error instanceof PolicyXmlError)
      return [{ target: 'representation', message: `The policy is not valid XML: ${error.message}` }];
    throw error;
  }
  const problems: PolicyDetail[] = [];
  const root = elements.find((e) => e.parent === -1);
  if (root?.name !== 'policies')
    return [{ target: 'policies', message: `The root element must be <policies>, not <${root?.name ?? 'nothing'}>` }];
  for (const element of elements) {
    const parent = elements[element.parent];
    if (
      parent !== undefined &&
      CONTAINERS.has(parent.name) &&
      !STATEMENTS.has(element.name) &&
      !(parent.name === 'choose')
    ) {
      problems.push({
        target: element.name,
        message: `'${element.name}' is not a known policy (line ${element.line})`,
      });
    }
    if (parent?.name === 'choose' && element.name !== 'when' && element.name !== 'otherwise')
      problems.push({
        target: element.name,
        message: `'${element.name}' is not allowed in 'choose' (line ${element.line})`,
      });
    const backend = element.name === 'set-backend-service' ? element.attributes['backend-id'] : undefined;
    if (backend !== undefined && !backend.startsWith('@') && !exists('backends', backend))
      problems.push({ target: 'set-backend-service', message: `Backend with id '${backend}' could not be found.` });
    const logger = element.name === 'log-to-eventhub' ? element.attributes['logger-id'] : undefined;
    if (logger !== undefined && !exists('loggers', logger))
      problems.push({ target: 'log-to-eventhub', message: `Logger not found: '${logger}'.` });
    const fragment = element.name === 'include-fragment' ? element.attributes['fragment-id'] : undefined;
    if (fragment !== undefined && !exists('policyFragments', fragment))
      problems.push({ target: 'include-fragment', message: `Policy fragment '${fragment}' could not be found.` });
  }
  for (const [, name] of xml.matchAll(/\{\{([^{}]+)\}\}/g)) {
    if (!exists('namedValues', name!))
      problems.push({ target: 'named value', message: `Cannot find a property '${name}'.` });
  }
  return problems;
}
