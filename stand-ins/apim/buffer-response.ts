/** APIM's `buffer-response="true"` holds chunked responses until 8 KB or the end of the stream. */
export const APIM_RESPONSE_BUFFER_BYTES = 8 * 1024;

/**
 * How the relay holds a response body before the client gets it: not at all
 * (`buffer-response="false"`), in blocks of at least 8 KB with the rest at the end of the stream
 * (APIM's default, which turns a token stream into a few bursts), or whole, when a policy reads
 * the response body and nothing may reach the client before the stream ends.
 */
export type HoldMode = 'none' | 'blocks' | 'whole';

export function holdMode(bufferResponse: boolean, holdsWholeBody: boolean): HoldMode {
  return holdsWholeBody ? 'whole' : bufferResponse ? 'blocks' : 'none';
}

/** Takes the backend's (decoded, maybe translated) pieces and gives what the client should get, when it should. */
export class ResponseHold {
  readonly #mode: HoldMode;
  #held: Buffer[] = [];
  #heldBytes = 0;

  constructor(mode: HoldMode) {
    this.#mode = mode;
  }

  /** A piece of the body: what to send now (undefined: nothing yet). */
  push(piece: Buffer): Buffer | undefined {
    if (this.#mode === 'none') return piece;
    this.#held.push(piece);
    this.#heldBytes += piece.length;
    if (this.#mode === 'whole' || this.#heldBytes < APIM_RESPONSE_BUFFER_BYTES) return undefined;
    return this.#take();
  }

  /** The end of the body: what is still held (undefined: nothing). */
  end(): Buffer | undefined {
    return this.#heldBytes > 0 ? this.#take() : undefined;
  }

  #take(): Buffer {
    const block = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held);
    this.#held = [];
    this.#heldBytes = 0;
    return block;
  }
}
