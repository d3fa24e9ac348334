import type { IncomingMessage, ServerResponse } from 'node:http';
import { payloadTooLarge, type AzureErrorSpec } from './azure-errors.ts';
import type { PacedFrameWriter } from './paced-frame-writer.ts';
import type { ApiAnswer, ApiRequest, HeaderReader } from './serve-api.ts';
import { BodyTooLargeError, readBody } from '../read-body.ts';

export interface AdapterOptions {
  maxBodyBytes: number;
}

/** Answers every request: the mock's route table (handlers.ts `createRouter`), API and admin routes, 404 and 405 alike. */
export type Router = (request: ApiRequest) => Promise<ApiAnswer>;

/**
 * node:http in front of the mock. Every request goes to `router` as a request read straight
 * from node:http (no msw, no fetch objects). Headers are flushed as soon as the answer is
 * ready (not with the first token); event streams write each batch of frames at once; when
 * the client goes away the signal aborts, which stops generation. A stream that errors (the
 * `disconnect-after` fault) destroys the socket without a terminating chunk, as a dropped
 * upstream would.
 */
export function createRequestListener(router: Router, options: AdapterOptions) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    void handle(router, options, req, res).catch((error: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        writeError(res, {
          status: 500,
          body: JSON.stringify({ error: { code: '500', message: `Mock failure: ${(error as Error).message}` } }),
        });
      } else {
        res.destroy();
      }
    });
  };
}

async function handle(
  router: Router,
  options: AdapterOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let body: Buffer | undefined;
  try {
    body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req, options.maxBodyBytes);
  } catch (error) {
    if (error instanceof BodyTooLargeError) {
      writeError(res, payloadTooLarge(options.maxBodyBytes));
      return;
    }
    throw error;
  }
  // An origin-form target only (`/path?query`): `*`, absolute or authority forms, or a Host header
  // that does not parse, are the client's error (400), never a mock failure.
  const url = `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`;
  if (!(req.url ?? '').startsWith('/') || !URL.canParse(url)) {
    writeError(res, {
      status: 400,
      body: JSON.stringify({
        error: {
          code: 'BadRequest',
          message: `Invalid request target "${(req.url ?? '').slice(0, 80)}": the mock takes a path such as /openai/deployments/<name>/chat/completions.`,
        },
      }),
    });
    return;
  }
  await writeAnswer(router(new NodeRequest(req, url, body, abort.signal)), res, abort.signal);
}

/** A request as serveApi reads it, straight from node:http: no fetch Request, Headers or body stream. */
class NodeRequest implements ApiRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: NodeHeaders;
  readonly signal: AbortSignal;
  readonly #body: Buffer | undefined;

  constructor(req: IncomingMessage, url: string, body: Buffer | undefined, signal: AbortSignal) {
    this.method = req.method ?? 'GET';
    this.url = url;
    this.headers = new NodeHeaders(req.rawHeaders);
    this.signal = signal;
    this.#body = body;
  }

  text(): Promise<string> {
    // As fetch's Body.text(): UTF-8, a leading BOM dropped, bad bytes replaced.
    return Promise.resolve(this.#body === undefined ? '' : UTF8.decode(this.#body));
  }
}

const UTF8 = new TextDecoder();

/** Request headers as fetch Headers reads them: names lowercase, repeated ones joined with ", ". */
class NodeHeaders implements HeaderReader {
  readonly #values = new Map<string, string>();

  constructor(raw: readonly string[]) {
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      const value = raw[i + 1]!;
      const existing = this.#values.get(name);
      this.#values.set(name, existing === undefined ? value : `${existing}, ${value}`);
    }
  }

  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name of [...this.#values.keys()].sort()) callback(this.#values.get(name)!, name);
  }
}

/** Writes serveApi's answer: its head at once (not with the first token), then the body. */
async function writeAnswer(pending: Promise<ApiAnswer>, res: ServerResponse, signal: AbortSignal): Promise<void> {
  let answer: ApiAnswer;
  try {
    answer = await pending;
  } catch (error) {
    if (signal.aborted) return;
    throw error;
  }
  const { body } = answer;
  if (signal.aborted) {
    if (typeof body !== 'string') body.cancel();
    return;
  }
  res.writeHead(answer.status, answer.headers);
  if (typeof body === 'string') {
    res.end(body);
    return;
  }
  res.flushHeaders();
  emitDirectly(body, res, signal);
}

/**
 * The mock's own event streams write straight to the socket. Writes are not held back on
 * backpressure: the emission is paced by its schedule, so what Node buffers is bounded by
 * how far the client lags, and stamps record when each frame was emitted (frames due together
 * are handed over in one write, in the same pass).
 */
function emitDirectly(stream: PacedFrameWriter, res: ServerResponse, signal: AbortSignal): void {
  const emission = stream.start({
    write: (chunk) => void res.write(chunk),
    // The last frames and the terminating chunk leave in one write.
    close: (last) => (last === '' ? res.end() : res.end(last)),
    // Deliver what was written, then drop the connection without the terminating chunk.
    error: () => (res.socket ? res.socket.destroySoon() : res.destroy()),
  });
  signal.addEventListener('abort', () => emission.cancel(), { once: true });
}

function writeError(res: ServerResponse, spec: AzureErrorSpec): void {
  res.writeHead(spec.status, { 'content-type': spec.contentType ?? 'application/json', ...spec.headers });
  res.end(spec.body);
}
