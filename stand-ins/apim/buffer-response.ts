import type { ServerResponse } from 'node:http';

/** APIM's `buffer-response="true"` holds chunked responses until 8 KB or the end of the stream. */
export const APIM_RESPONSE_BUFFER_BYTES = 8 * 1024;

export interface Relay {
  /** Returns false when the client is slow and the upstream should pause until 'drain'. */
  write(chunk: Uint8Array | string): boolean;
  end(): void;
}

/**
 * Writes upstream bytes to the client: at once (`buffer-response="false"`), or in blocks of
 * at least 8 KB with the rest at the end of the stream (APIM's default), which is what turns
 * a token stream into a few bursts.
 */
export function createRelay(res: ServerResponse, bufferResponse: boolean, holdsWholeBody = false): Relay {
  if (holdsWholeBody) {
    // A policy reads the response body: nothing reaches the client before the stream ends.
    const whole: Buffer[] = [];
    return {
      write(chunk) {
        whole.push(Buffer.from(chunk));
        return true;
      },
      end: () => res.end(Buffer.concat(whole)),
    };
  }
  if (!bufferResponse) {
    return {
      write: (chunk) => res.write(chunk),
      end: () => res.end(),
    };
  }
  let held: Buffer[] = [];
  let heldBytes = 0;
  return {
    write(chunk) {
      const buffer =
        typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      held.push(buffer);
      heldBytes += buffer.length;
      if (heldBytes < APIM_RESPONSE_BUFFER_BYTES) return true;
      const block = Buffer.concat(held);
      held = [];
      heldBytes = 0;
      return res.write(block);
    },
    end() {
      res.end(held.length > 0 ? Buffer.concat(held) : undefined);
    },
  };
}
