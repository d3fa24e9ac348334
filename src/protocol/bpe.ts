import { readFileSync } from 'node:fs';
import { brotliDecompressSync } from 'node:zlib';

/**
 * The byte-pair encodings Azure OpenAI's models count tokens with (tiktoken's o200k_base and
 * cl100k_base), held compactly: every token's bytes in one buffer, an offset per rank and an
 * open-addressed hash table of ranks. 4.4 MB of ranks for o200k (17 MB added to a process),
 * where gpt-tokenizer's table of JS strings and a Map added 67 MB; the mock, the gateway's
 * token limit and the harness all count tokens, and on a VM that samples page accesses a
 * process's size is latency (docs/performance.md, "Token counting").
 *
 * Text is encoded as ordinary text: a special token's spelling in a prompt ("<|endoftext|>")
 * counts as the characters it is, as the service counts a user's text. The ranks come from
 * `tokenizer-data/*.bpe.br`, written by `npm run tokenizer:data` from gpt-tokenizer's tables;
 * `test/unit/bpe.test.ts` checks the files against that package and every encoding against
 * its encoder.
 */
export type EncodingName = 'o200k_base' | 'cl100k_base';

// tiktoken's pre-tokenizer patterns (the same as gpt-tokenizer's), split before the merges.
const CONTRACTION = "'(?:[sS]|[dD]|[mM]|[tT]|[lL][lL]|[vV][eE]|[rR][eE])";
const SPLIT_PATTERNS: Record<EncodingName, string> = {
  o200k_base: String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:${CONTRACTION})?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:${CONTRACTION})?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
  cl100k_base: String.raw`${CONTRACTION}|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s+$|\s*[\r\n]|\s+(?!\S)|\s`,
};

/** The data file's first bytes; then, per rank, one length byte (0: no token) and the bytes. */
export const BPE_DATA_MAGIC = 'bpe1';
const NO_RANK = 0x7fffffff;
/** Pieces up to this many bytes merge by scanning (tiktoken's way); longer ones through a heap. */
export const SHORT_PIECE_BYTES = 256;
/** The reused buffer for a piece's bytes: 3 per UTF-16 unit, for pieces up to 21,845 units. */
const SCRATCH_BYTES = 65_536;
const utf8 = new TextEncoder();

/** Where an encoding's ranks are kept. */
export function bpeDataUrl(name: EncodingName): URL {
  return new URL(`./tokenizer-data/${name}.bpe.br`, import.meta.url);
}

export class BpeEncoding {
  readonly name: EncodingName;
  /** Number of ranks (mergeable tokens), holes included. */
  readonly size: number;
  readonly #bytes: Uint8Array;
  readonly #starts: Uint32Array;
  readonly #table: Int32Array;
  readonly #mask: number;
  readonly #split: RegExp;
  // Scratch space, reused by every call: a piece's bytes and the short merge's parts. A piece
  // too long for it gets arrays of its own, so one huge prompt does not stay in memory.
  #piece = new Uint8Array(SCRATCH_BYTES);
  #parts = new Int32Array(SHORT_PIECE_BYTES + 1);
  #ranks = new Int32Array(SHORT_PIECE_BYTES + 1);

  /** From the data file's decompressed bytes (`BPE_DATA_MAGIC`, then length-prefixed tokens). */
  constructor(name: EncodingName, data: Uint8Array) {
    this.name = name;
    if (data.length < 4 || String.fromCharCode(...data.subarray(0, 4)) !== BPE_DATA_MAGIC)
      throw new Error(`${name}: not a byte-pair encoding data file`);
    let count = 0;
    for (let at = 4; at < data.length; at += 1 + data[at]!) count++;
    // The tokens stay where they are in `data`: rank r's bytes start at starts[r], after their length byte.
    const starts = new Uint32Array(count);
    let rank = 0;
    for (let at = 4; at < data.length; at += 1 + data[at]!) starts[rank++] = at + 1;
    this.size = count;
    this.#bytes = data;
    this.#starts = starts;
    const slots = 2 ** Math.ceil(Math.log2(count * 2));
    this.#table = new Int32Array(slots);
    this.#mask = slots - 1;
    for (let r = 0; r < count; r++) {
      const start = starts[r]!;
      const end = start + data[start - 1]!;
      if (end === start) continue;
      let slot = hash(data, start, end) & this.#mask;
      while (this.#table[slot] !== 0) slot = (slot + 1) & this.#mask;
      this.#table[slot] = r + 1;
    }
    this.#split = new RegExp(SPLIT_PATTERNS[name], 'gu');
  }

  /** Loads `name` from its data file. */
  static load(name: EncodingName): BpeEncoding {
    return new BpeEncoding(name, brotliDecompressSync(readFileSync(bpeDataUrl(name))));
  }

  /** Number of tokens of `text`. */
  count(text: string): number {
    let total = 0;
    this.#eachPiece(text, (bytes, n) => {
      total += this.#merge(bytes, n, undefined);
    });
    return total;
  }

  /** The tokens of `text`, as ranks. */
  encode(text: string): number[] {
    const out: number[] = [];
    this.#eachPiece(text, (bytes, n) => this.#merge(bytes, n, out));
    return out;
  }

  /** The bytes of token `rank`. */
  tokenBytes(rank: number): Uint8Array {
    const start = this.#starts[rank];
    if (start === undefined || this.#bytes[start - 1] === 0) throw new RangeError(`${this.name}: no token ${rank}`);
    return this.#bytes.subarray(start, start + this.#bytes[start - 1]!);
  }

  /** The text of `tokens` (a token that ends mid-character is completed by the next). */
  decode(tokens: readonly number[]): string {
    const parts = tokens.map((t) => this.tokenBytes(t));
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.length;
    }
    return new TextDecoder().decode(joined);
  }

  /** Rank of `bytes[start, end)`, or `NO_RANK`. */
  #rank(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    let slot = hash(bytes, start, end) & this.#mask;
    for (;;) {
      const entry = this.#table[slot]!;
      if (entry === 0) return NO_RANK;
      const from = this.#starts[entry - 1]!;
      if (this.#bytes[from - 1] === length) {
        let i = 0;
        while (i < length && this.#bytes[from + i] === bytes[start + i]) i++;
        if (i === length) return entry - 1;
      }
      slot = (slot + 1) & this.#mask;
    }
  }

  /** Calls `piece(bytes, n)` with each pre-tokenizer piece of `text` as UTF-8 in `bytes[0, n)`. */
  #eachPiece(text: string, piece: (bytes: Uint8Array, n: number) => void): void {
    const split = this.#split;
    split.lastIndex = 0;
    for (let m = split.exec(text); m !== null; m = split.exec(text)) {
      const s = m[0];
      const bytes = s.length * 3 <= SCRATCH_BYTES ? this.#piece : new Uint8Array(s.length * 3);
      // ASCII, most pieces, byte by byte: cheaper than a call into the encoder.
      let n = 0;
      while (n < s.length) {
        const c = s.charCodeAt(n);
        if (c >= 0x80) break;
        bytes[n++] = c;
      }
      piece(bytes, n === s.length ? n : utf8.encodeInto(s, bytes).written);
    }
  }

  /**
   * tiktoken's byte-pair merge of `bytes[0, n)`: while some adjacent pair of parts is a
   * token, merge the pair of lowest rank (the leftmost on a tie). Pushes the tokens to `out`
   * when given; returns how many there are. A short piece is scanned for its lowest pair at
   * each step, as tiktoken does; a long one (a run of letters with no space, up to the
   * whole request body) keeps its pairs in a heap, so that it costs n log n, not n².
   */
  #merge(bytes: Uint8Array, n: number, out: number[] | undefined): number {
    const whole = this.#rank(bytes, 0, n);
    if (whole !== NO_RANK) {
      out?.push(whole);
      return 1;
    }
    if (n > SHORT_PIECE_BYTES) return this.#mergeLong(bytes, n, out);
    const starts = this.#parts;
    const ranks = this.#ranks;
    for (let i = 0; i <= n; i++) {
      starts[i] = i;
      ranks[i] = i + 2 <= n ? this.#rank(bytes, i, i + 2) : NO_RANK;
    }
    let parts = n + 1;
    for (;;) {
      let lowest = NO_RANK;
      let at = -1;
      for (let i = 0; i < parts - 1; i++) {
        if (ranks[i]! < lowest) {
          lowest = ranks[i]!;
          at = i;
        }
      }
      if (at < 0) break;
      starts.copyWithin(at + 1, at + 2, parts);
      ranks.copyWithin(at, at + 1, parts);
      parts--;
      ranks[at] = at + 2 < parts ? this.#rank(bytes, starts[at]!, starts[at + 2]!) : NO_RANK;
      if (at > 0) ranks[at - 1] = this.#rank(bytes, starts[at - 1]!, starts[at + 1]!);
    }
    if (out) {
      for (let i = 0; i < parts - 1; i++) {
        const rank = this.#rank(bytes, starts[i]!, starts[i + 1]!);
        if (rank === NO_RANK) throw new Error(`${this.name}: a byte sequence with no token`);
        out.push(rank);
      }
    }
    return parts - 1;
  }

  /**
   * The same merge over a linked list of parts and a binary heap of adjacent pairs, keyed by
   * rank then position (so the lowest rank, leftmost on a tie, comes first, as in the scan). A
   * pair is stale once either of its parts has changed since it was pushed: each part carries
   * a version.
   */
  #mergeLong(bytes: Uint8Array, n: number, out: number[] | undefined): number {
    const next = new Int32Array(n + 1);
    const prev = new Int32Array(n + 1);
    const version = new Int32Array(n + 1);
    for (let i = 0; i <= n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    const heap = new PairHeap(3 * n);
    const push = (left: number): void => {
      const right = next[left]!;
      if (right >= n) return;
      const rank = this.#rank(bytes, left, next[right]!);
      if (rank !== NO_RANK) heap.push(rank, left, version[left]!, right, version[right]!);
    };
    for (let i = 0; i < n - 1; i++) push(i);
    let parts = n;
    while (heap.size > 0) {
      const { left, leftVersion, right, rightVersion } = heap.pop();
      if (version[left] !== leftVersion || version[right] !== rightVersion || next[left] !== right) continue;
      // `right` joins `left`; both have changed, so every pair naming them is stale.
      next[left] = next[right]!;
      prev[next[right]!] = left;
      version[left]!++;
      version[right]!++;
      parts--;
      if (prev[left]! >= 0) push(prev[left]!);
      push(left);
    }
    if (out) {
      for (let at = 0; at < n; at = next[at]!) {
        const rank = this.#rank(bytes, at, next[at]!);
        if (rank === NO_RANK) throw new Error(`${this.name}: a byte sequence with no token`);
        out.push(rank);
      }
    }
    return parts;
  }
}

/** A binary min-heap of pairs by (rank, left), its entries in typed arrays. */
class PairHeap {
  size = 0;
  readonly #key: Float64Array;
  readonly #left: Int32Array;
  readonly #leftVersion: Int32Array;
  readonly #right: Int32Array;
  readonly #rightVersion: Int32Array;

  constructor(capacity: number) {
    this.#key = new Float64Array(capacity);
    this.#left = new Int32Array(capacity);
    this.#leftVersion = new Int32Array(capacity);
    this.#right = new Int32Array(capacity);
    this.#rightVersion = new Int32Array(capacity);
  }

  push(rank: number, left: number, leftVersion: number, right: number, rightVersion: number): void {
    // rank < 2^21 and left < 2^31: the key is exact in a double.
    const key = rank * 2 ** 31 + left;
    let at = this.size++;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (this.#key[parent]! <= key) break;
      this.#move(parent, at);
      at = parent;
    }
    this.#set(at, key, left, leftVersion, right, rightVersion);
  }

  pop(): { left: number; leftVersion: number; right: number; rightVersion: number } {
    const top = {
      left: this.#left[0]!,
      leftVersion: this.#leftVersion[0]!,
      right: this.#right[0]!,
      rightVersion: this.#rightVersion[0]!,
    };
    const last = --this.size;
    const key = this.#key[last]!;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= last) break;
      if (child + 1 < last && this.#key[child + 1]! < this.#key[child]!) child++;
      if (this.#key[child]! >= key) break;
      this.#move(child, at);
      at = child;
    }
    this.#set(at, key, this.#left[last]!, this.#leftVersion[last]!, this.#right[last]!, this.#rightVersion[last]!);
    return top;
  }

  #move(from: number, to: number): void {
    this.#set(
      to,
      this.#key[from]!,
      this.#left[from]!,
      this.#leftVersion[from]!,
      this.#right[from]!,
      this.#rightVersion[from]!,
    );
  }

  #set(at: number, key: number, left: number, leftVersion: number, right: number, rightVersion: number): void {
    this.#key[at] = key;
    this.#left[at] = left;
    this.#leftVersion[at] = leftVersion;
    this.#right[at] = right;
    this.#rightVersion[at] = rightVersion;
  }
}

/** FNV-1a over `bytes[start, end)`. */
function hash(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  return h >>> 0;
}

const loaded = new Map<EncodingName, BpeEncoding>();

/** `name`'s encoding, loaded on first use and kept. */
export function bpeEncoding(name: EncodingName): BpeEncoding {
  let encoding = loaded.get(name);
  if (!encoding) {
    encoding = BpeEncoding.load(name);
    loaded.set(name, encoding);
  }
  return encoding;
}
