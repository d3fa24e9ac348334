import type { IncomingMessage } from 'node:http';

// The mock's node:http adapter and the gateway both read request bodies this way. It lives
// apart from the adapter so that the gateway does not load msw (and its cookie store and
// public-suffix list) for a function that needs none of it: the gateway is 9 MB smaller at
// rest for it (102 to 93 MB resident).

/** A request body over the limit (the caller answers 413). */
export class BodyTooLargeError extends Error {}

/** Reads a request body, refusing (BodyTooLargeError) past `maxBytes` without buffering the rest. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    req.resume();
    return Promise.reject(new BodyTooLargeError());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLargeError());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
