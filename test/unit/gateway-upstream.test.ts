import { describe, expect, it } from 'vitest';
import { ChunkedScanner, parseHead } from '../../stand-ins/apim/upstream.ts';
import { createUniform } from '../../src/protocol/index.ts';

/** A chunked body: its chunks (with a chunk extension now and then, any hex case), the terminator and maybe trailers. */
function chunkedBody(next: () => number): { wire: Buffer; data: Buffer; bodyBeforeTerminator: Buffer } {
  const parts: Buffer[] = [];
  const data: Buffer[] = [];
  const count = Math.floor(next() * 12);
  for (let i = 0; i < count; i++) {
    const piece = Buffer.from(Array.from({ length: 1 + Math.floor(next() * 300) }, () => Math.floor(next() * 256)));
    let size = piece.length.toString(16);
    if (next() < 0.3) size = size.toUpperCase();
    const extension = next() < 0.2 ? ';name=value' : '';
    parts.push(Buffer.from(`${size}${extension}\r\n`), piece, Buffer.from('\r\n'));
    data.push(piece);
  }
  const bodyBeforeTerminator = Buffer.concat(parts);
  const trailers = next() < 0.2 ? 'x-trailer: 1\r\n' : '';
  return {
    wire: Buffer.concat([bodyBeforeTerminator, Buffer.from(`0\r\n${trailers}\r\n`)]),
    data: Buffer.concat(data),
    bodyBeforeTerminator,
  };
}

function cut(wire: Buffer, next: () => number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < wire.length; ) {
    const size = 1 + Math.floor(next() * (next() < 0.5 ? 4 : 200));
    pieces.push(wire.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

function scanAll(pieces: readonly Buffer[], isRaw: boolean): { out: Buffer; scanner: ChunkedScanner } {
  const scanner = new ChunkedScanner();
  const out: Buffer[] = [];
  for (const piece of pieces) scanner.scan(piece, isRaw, (bytes) => out.push(Buffer.from(bytes)));
  return { out: Buffer.concat(out), scanner };
}

describe('ChunkedScanner', () => {
  it('decodes chunked bodies cut anywhere, and passes them on raw up to the terminating chunk (2,000 random bodies)', () => {
    const next = createUniform(23);
    let bytes = 0;
    for (let i = 0; i < 2_000; i++) {
      const { wire, data, bodyBeforeTerminator } = chunkedBody(next);
      const pieces = cut(wire, next);
      const decoded = scanAll(pieces, false);
      expect(decoded.scanner.error).toBeUndefined();
      expect(decoded.scanner.isDone).toBe(true);
      expect(decoded.out.equals(data)).toBe(true);
      const raw = scanAll(pieces, true);
      expect(raw.scanner.isDone).toBe(true);
      // Raw: the backend's bytes exactly, framing included; the terminator is the relay's own end.
      expect(raw.out.equals(bodyBeforeTerminator)).toBe(true);
      expect(decoded.scanner.hasExcess || raw.scanner.hasExcess).toBe(false);
      // Bytes after the terminator in the same read (the next answer's start, or junk) are
      // flagged, never passed on: the connection cannot be trusted with another request.
      const withExcess = [...pieces.slice(0, -1), Buffer.concat([pieces.at(-1)!, Buffer.from('HTTP/1.1 200 OK\r\n')])];
      const excess = scanAll(withExcess, true);
      expect(excess.scanner.hasExcess).toBe(true);
      expect(excess.out.equals(bodyBeforeTerminator)).toBe(true);
      bytes += data.length;
    }
    expect(bytes).toBeGreaterThan(1_000_000);
  });

  it('is not done before the terminator, and refuses what is not chunked framing', () => {
    const partial = scanAll([Buffer.from('5\r\nhello\r\n')], false);
    expect(partial.scanner.isDone).toBe(false);
    expect(partial.out.toString()).toBe('hello');
    for (const bad of ['zz\r\nhello\r\n', '5\r\nhelloXX', '\r\n']) {
      expect(scanAll([Buffer.from(bad)], false).scanner.error, bad).toMatch(/^HPE_INVALID_CHUNK_SIZE/);
    }
  });
});

describe('parseHead', () => {
  it('reads the status line and headers: names lowercased, repeats joined, set-cookie kept apart', () => {
    const head = parseHead(
      'HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nX-A: 1\r\nx-a: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Type: text/event-stream',
    );
    expect(head).toEqual({
      statusCode: 429,
      statusMessage: 'Too Many Requests',
      isHttp11: true,
      headers: { 'retry-after': '3', 'x-a': '1, 2', 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/event-stream' },
    });
    expect(parseHead('HTTP/1.0 200')?.isHttp11).toBe(false);
    expect(parseHead('SSH-2.0-OpenSSH')).toBeUndefined();
    expect(parseHead('HTTP/1.1 200 OK\r\nno colon here')).toBeUndefined();
  });
});
