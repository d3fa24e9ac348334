/**
 * How a request ended. Requests never throw out of the load loop: they end with one of
 * these codes, and the run counts them. `http_<status>` covers every non-2xx answer.
 */
export type OutcomeCode =
  | 'ok'
  | `http_${number}`
  | 'connect_error'
  | 'timeout_connect'
  | 'timeout_headers'
  | 'timeout_first_token'
  | 'timeout_idle'
  | 'timeout_total'
  | 'protocol_malformed_frame'
  | 'protocol_truncated'
  | 'protocol_missing_done'
  | 'protocol_stream_error'
  | 'aborted';
