import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody } from '../read-body.ts';
import type { GatewayCore, GatewayResponse } from './core.ts';
import { gatewayError, MESSAGES } from './gateway-errors.ts';

/*
 * The gateway's node:http adapter. Everything the gateway decides is the core's (core.ts);
 * this file turns an IncomingMessage into the core's request, and writes the core's response
 * on the ServerResponse: what only a socket has.
 *
 * - The request body is read off the socket only when the core asks for it (after the
 *   subscription check), and no further than its limit.
 * - The client leaving before its response has finished aborts the request's signal: the core
 *   cancels the backend request, as APIM does.
 * - A streamed body is written piece by piece, and the next piece is only taken once the
 *   client's socket has room ('drain'): the client's backpressure reaches the backend.
 * - The pass-through (docs/decisions/0009): where the core offers the backend's chunked wire
 *   bytes (no policy reads or holds the body) and this response is chunked and owns its socket,
 *   each read from the backend is one write to the client's socket. The terminating chunk is the
 *   one `res.end()` writes, so Node's bookkeeping of the response (finish, keep-alive) stays
 *   its own.
 * - A backend stream cut short is a client response cut short (destroyed, never ended cleanly).
 */

/** One request through the gateway's core, from a node:http server's request to its response. */
export async function handleProxyRequest(core: GatewayCore, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const clientGone = new AbortController();
  let response: GatewayResponse | undefined;
  let closed: { isCancelled: boolean; responseCode: number } | undefined;
  res.once('close', () => {
    const isCancelled = !res.writableFinished;
    if (isCancelled) clientGone.abort();
    closed = { isCancelled, responseCode: res.statusCode };
    response?.done(closed);
  });
  response = await core.handle({
    method: req.method ?? '',
    url: req.url ?? '/',
    headers: req.headers,
    body: (maxBytes) => readBody(req, maxBytes),
    signal: clientGone.signal,
  });
  // The client left while the core was deciding: nothing is written.
  if (closed !== undefined) return response.done(closed);
  writeResponse(res, response);
}

function writeResponse(res: ServerResponse, response: GatewayResponse): void {
  const { body } = response;
  if (Buffer.isBuffer(body)) {
    res.writeHead(response.status, response.headers);
    res.end(body);
    return;
  }
  try {
    res.writeHead(response.status, response.headers);
  } catch (error) {
    // A header Node refuses (the policy's are checked at start): the client gets the gateway's
    // 500; the backend's response, never read, is dropped when this one closes (`done`).
    return writeGatewayFailure(res, error);
  }
  res.flushHeaders();
  const { socket } = res;
  if (response.wire !== undefined && res.chunkedEncoding && socket !== null && !socket.destroyed) {
    response.wire.relay({
      write: (bytes) => socket.write(bytes),
      onDrain: (resume) => socket.once('drain', resume),
      end: () => res.end(),
      cut: () => res.destroy(),
    });
    return;
  }
  void writeStream(res, body);
}

/** The body's pieces, each written once the client's socket has room for it; a body cut short cuts the response. */
async function writeStream(res: ServerResponse, body: AsyncIterable<Buffer>): Promise<void> {
  const pieces = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await pieces.next();
      if (next.done) break;
      if (!res.write(next.value) && !(await drained(res))) {
        // The client left: the backend's response is dropped.
        await pieces.return?.();
        return;
      }
    }
    res.end();
  } catch {
    res.destroy();
  }
}

/** Resolves true on 'drain', false if the response closes first. */
function drained(res: ServerResponse): Promise<boolean> {
  if (res.destroyed || res.closed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain).once('close', onClose);
  });
}

/** The gateway's own 500, or, once the head is out, a cut response. */
export function writeGatewayFailure(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const failure = gatewayError(500, MESSAGES.gatewayFailure(error));
  res.writeHead(failure.status, failure.headers);
  res.end(failure.body);
}
