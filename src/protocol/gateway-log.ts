/**
 * One line of the local gateway's access log: a request as the gateway saw it, with the ids
 * that join it to the client's record (the client's `x-ms-client-request-id`, the backend's
 * `x-request-id` and `apim-request-id` as relayed), like a row of APIM's GatewayLogs. No query
 * string (it may hold a subscription key), no header values but ids.
 */
/** One forward of a request: to which backend, what status came back (null: no response), when (ms since the request arrived). */
export interface GatewayAttempt {
  /** The single backend tried; null when none was available (every backend of the pool tripped). */
  backend: string | null;
  status: number | null;
  timeMs: number;
}

export interface GatewayLogEntry {
  event: 'request';
  time: string;
  method: string;
  path: string;
  responseCode: number;
  clientRequestId: string | null;
  backendRequestId: string | null;
  apimRequestId: string | null;
  /** The backend of the last attempt (the one whose answer the client got); null when none was tried. */
  backendId: string | null;
  /** Every attempt in order: more than one when `<retry>` re-forwarded. */
  attempts: GatewayAttempt[];
  /** Request received to backend response headers; null when it never reached the backend. */
  backendTimeMs: number | null;
  totalTimeMs: number;
  /** The client left before the response ended. */
  isCancelled: boolean;
}

const ENTRY_PREFIX = '{"event":"request"';

/** The access-log entries in the gateway's output (other lines, such as `listening`, are skipped). */
export function readGatewayLog(output: string): GatewayLogEntry[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith(ENTRY_PREFIX))
    .map((line) => JSON.parse(line) as GatewayLogEntry);
}
