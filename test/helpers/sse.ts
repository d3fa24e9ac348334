import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { parseStampComment, type FrameStamp } from '../../src/protocol/index.ts';

export interface ReceivedEvent extends EventSourceMessage {
  /** The ground-truth stamp written just before this event, when stamping was on. */
  stamp: FrameStamp | undefined;
  /** process.hrtime.bigint() when the chunk that completed this event arrived. */
  arrivalNs: bigint;
}

export interface ReceivedStream {
  events: ReceivedEvent[];
  comments: string[];
  /** Raw body chunks as they arrived, with arrival times. */
  chunks: Array<{ bytes: Uint8Array; arrivalNs: bigint }>;
  raw: Uint8Array;
  /** The body stream failed before it ended (e.g. the server destroyed the socket). */
  error: unknown;
}

/** Reads a whole SSE body, parsing it exactly as the bytes arrive. */
export async function readSse(response: Response): Promise<ReceivedStream> {
  const out: ReceivedStream = { events: [], comments: [], chunks: [], raw: new Uint8Array(), error: undefined };
  let pendingStamp: FrameStamp | undefined;
  let arrivalNs = 0n;
  const parser = createParser({
    onComment(comment) {
      const stamp = parseStampComment(comment);
      if (stamp) pendingStamp = stamp;
      else out.comments.push(comment);
    },
    onEvent(event) {
      out.events.push({ ...event, stamp: pendingStamp, arrivalNs });
      pendingStamp = undefined;
    },
  });
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      arrivalNs = process.hrtime.bigint();
      out.chunks.push({ bytes: value, arrivalNs });
      parser.feed(decoder.decode(value, { stream: true }));
    }
    parser.feed(decoder.decode());
  } catch (error) {
    out.error = error;
  }
  out.raw = Buffer.concat(out.chunks.map((c) => c.bytes));
  return out;
}

/** Parsed JSON of every `data:` event except `[DONE]`. */
export function jsonFrames(stream: ReceivedStream): Array<Record<string, any>> {
  return stream.events.filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data) as Record<string, any>);
}

/** The fixture file's frames as parsed JSON (frames are single-line, separated by blank lines). */
export function fixtureFrames(text: string): Array<{ event: string | undefined; data: Record<string, any> }> {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
      return {
        event,
        data: data === '[DONE]' ? ({ done: true } as Record<string, any>) : (JSON.parse(data) as Record<string, any>),
      };
    });
}
