import type { OutgoingHttpHeaders } from 'node:http';

/** An answer of the gateway's own: status, headers and the whole body. */
export interface GatewayErrorResponse {
  status: number;
  headers: OutgoingHttpHeaders;
  body: Buffer;
}

/**
 * Errors the gateway itself answers, in APIM's shape: `{ "statusCode": N, "message": "…" }`
 * (not Azure OpenAI's `{ "error": … }`), so a client can tell who refused it.
 */
export function gatewayError(
  status: number,
  message: string,
  headers: Record<string, string> = {},
): GatewayErrorResponse {
  const body = Buffer.from(JSON.stringify({ statusCode: status, message }));
  return { status, headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers }, body };
}

export const MESSAGES = {
  notFound: 'Resource not found',
  missingKey:
    'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.',
  invalidKey:
    'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.',
  tooLarge: (limit: number) => `Request body exceeds the gateway's limit of ${limit} bytes.`,
  tokenLimit: (seconds: number) => `Token limit is exceeded. Try again in ${seconds} seconds.`,
  timeout: (ms: number) => `The backend did not send response headers within the forward-request timeout (${ms} ms).`,
  backendFailed: (reason: string) => `Failed to reach the backend: ${reason}.`,
  badTarget:
    'Only origin-form request targets (a path) are accepted; this gateway forwards to its configured backend only.',
  gatewayFailure: (error: unknown) => `Gateway failure: ${(error as Error)?.message ?? String(error)}`,
} as const;
