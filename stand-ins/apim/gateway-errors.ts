import type { ServerResponse } from 'node:http';

/**
 * Errors the gateway itself answers, in APIM's shape: `{ "statusCode": N, "message": "…" }`
 * (not Azure OpenAI's `{ "error": … }`), so a client can tell who refused it.
 */
export function writeGatewayError(
  res: ServerResponse,
  status: number,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ statusCode: status, message });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
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
} as const;
