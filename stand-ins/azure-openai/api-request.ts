// A request as the mock's API serving reads it: a fetch Request has this shape, and so does
// the HTTP adapter's lighter one. Its own file, so that the request gate and the serving that
// calls it depend on it rather than on each other.

/** What serving a request reads of its headers: a fetch Headers has it, and so does the adapter's lighter one. */
export interface HeaderReader {
  get(name: string): string | null;
  has(name: string): boolean;
  /** In name order, names lowercase, as fetch Headers iterates. */
  forEach(callback: (value: string, name: string) => void): void;
}

/** What serving a request reads of it: a fetch Request (msw, in-process) has it all; the HTTP adapter passes a lighter one. */
export interface ApiRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: HeaderReader;
  /** Aborts when the client goes away. */
  readonly signal: AbortSignal;
  text(): Promise<string>;
}
