/**
 * Error responses as Azure OpenAI shapes them. Bodies marked "capture" are byte-for-byte
 * the real ones (../shared/fixtures/azure-openai/); note the string status codes and, on
 * the 404/429 bodies, the space after `"message":` that Azure emits.
 */

export interface AzureErrorSpec {
  status: number;
  body: string;
  contentType?: string;
  headers?: Record<string, string>;
}

const JSON_TYPE = 'application/json';

/** capture: SciSharp/BotSharp#386 */
export const UNAUTHORIZED: AzureErrorSpec = {
  status: 401,
  body: '{"error":{"code":"401","message":"Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource."}}',
};

/** capture: openai/openai-python#362; also the answer to a missing api-version. */
export const RESOURCE_NOT_FOUND: AzureErrorSpec = {
  status: 404,
  body: '{"error":{"code":"404","message": "Resource not found"}}',
};

/** capture: chatboxai/chatbox#861 */
export const DEPLOYMENT_NOT_FOUND: AzureErrorSpec = {
  status: 404,
  body: '{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}}',
};

/** capture body (microsoft/copilot-camp#551 and others); headers as Azure sends them. */
export function rateLimited(retryAfterMs: number): AzureErrorSpec {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return {
    status: 429,
    contentType: 'application/json; charset=UTF-8',
    body: `{"error":{"code":"429","message": "Rate limit is exceeded. Try again in ${seconds} seconds."}}`,
    headers: {
      'retry-after': String(seconds),
      'retry-after-ms': String(Math.round(retryAfterMs)),
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-remaining-tokens': '0',
    },
  };
}

/** capture: Azure-Samples/azure-search-openai-demo#1390 (request id substituted). */
export function serverError(requestId: string): AzureErrorSpec {
  return {
    status: 500,
    body: JSON.stringify({
      error: {
        message: `The server had an error processing your request. Sorry about that! You can retry your request, or contact us through an Azure support request at: https://go.microsoft.com/fwlink/?linkid=2213926 if you keep seeing this error. (Please include the request ID ${requestId} in your email.)`,
        type: 'server_error',
        param: null,
        code: null,
      },
    }),
  };
}

export const SERVICE_UNAVAILABLE: AzureErrorSpec = {
  status: 503,
  headers: { 'retry-after': '1' },
  body: '{"error":{"code":"ServiceUnavailable","message":"The service is temporarily unable to process your request. Please try again later."}}',
};

export function badRequest(message: string, param: string | null, code: string | null): AzureErrorSpec {
  return { status: 400, body: JSON.stringify({ error: { message, type: 'invalid_request_error', param, code } }) };
}

export const INVALID_JSON = badRequest(
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)",
  null,
  null,
);

export function missingParameter(param: string): AzureErrorSpec {
  return badRequest(`Missing required parameter: '${param}'.`, param, 'missing_required_parameter');
}

export function operationNotSupported(operation: string, model: string): AzureErrorSpec {
  return {
    status: 400,
    body: JSON.stringify({
      error: {
        code: 'OperationNotSupported',
        message: `The ${operation} operation does not work with the specified model, ${model}. Please choose different model and try again. You can learn more about which models can be used with each operation here: https://go.microsoft.com/fwlink/?linkid=2197993.`,
      },
    }),
  };
}

export function payloadTooLarge(limitBytes: number): AzureErrorSpec {
  return {
    status: 413,
    body: JSON.stringify({
      error: {
        code: 'RequestEntityTooLarge',
        message: `The request body is larger than the allowed ${limitBytes} bytes.`,
      },
    }),
  };
}

export const METHOD_NOT_ALLOWED: AzureErrorSpec = {
  status: 405,
  headers: { allow: 'POST' },
  body: '{"error":{"code":"405","message":"Method Not Allowed"}}',
};

/** A control header the mock did not understand (never sent by Azure itself). */
export function badControlHeader(message: string): AzureErrorSpec {
  return badRequest(message, null, 'invalid_mock_control');
}

/** Builds the fetch Response for an error, with Azure's id headers. */
/** The error as an answer: status, headers (the request ids first) and body. */
export function errorAnswer(
  spec: AzureErrorSpec,
  idHeaders: Record<string, string>,
): { status: number; headers: Record<string, string>; body: string } {
  return {
    status: spec.status,
    headers: { 'content-type': spec.contentType ?? JSON_TYPE, ...idHeaders, ...spec.headers },
    body: spec.body,
  };
}
