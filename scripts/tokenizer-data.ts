/**
 * Writes src/protocol/tokenizer-data/<encoding>.bpe.br from gpt-tokenizer's rank tables
 * (a devDependency): `npm run tokenizer:data`. Run it after upgrading gpt-tokenizer;
 * test/unit/bpe.test.ts fails while the files and the package disagree.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants } from 'node:zlib';
import { BPE_DATA_MAGIC, bpeDataUrl, type EncodingName } from '../src/protocol/bpe.ts';

export const ENCODINGS: readonly EncodingName[] = ['o200k_base', 'cl100k_base'];

/** gpt-tokenizer's table of `name`: by rank, the token as a string or, when not UTF-8, its bytes. */
export async function packageRanks(name: EncodingName): Promise<ReadonlyArray<string | number[] | undefined>> {
  const module = (await import(`gpt-tokenizer/bpeRanks/${name}`)) as { default: Array<string | number[] | undefined> };
  return module.default;
}

/** The data file's bytes before compression: the magic, then per rank a length byte and the token's bytes. */
export function bpeDataBytes(ranks: ReadonlyArray<string | number[] | undefined>): Uint8Array {
  const utf8 = new TextEncoder();
  const parts: Uint8Array[] = [utf8.encode(BPE_DATA_MAGIC)];
  for (let rank = 0; rank < ranks.length; rank++) {
    const token = ranks[rank];
    const bytes =
      token === undefined ? new Uint8Array(0) : typeof token === 'string' ? utf8.encode(token) : Uint8Array.from(token);
    if (bytes.length > 255) throw new Error(`token ${rank} is ${bytes.length} bytes: the format holds at most 255`);
    parts.push(Uint8Array.of(bytes.length), bytes);
  }
  return Buffer.concat(parts);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const name of ENCODINGS) {
    const raw = bpeDataBytes(await packageRanks(name));
    const packed = brotliCompressSync(raw, {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length },
    });
    writeFileSync(bpeDataUrl(name), packed);
    console.log(
      `${fileURLToPath(bpeDataUrl(name))}: ${raw.length.toLocaleString('en-US')} bytes, ${packed.length.toLocaleString('en-US')} compressed`,
    );
  }
}
