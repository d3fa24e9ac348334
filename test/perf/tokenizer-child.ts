/**
 * One side of the tokenizer benchmark, in a fresh process (run with --expose-gc): loads the
 * o200k encoding ("ours": src/protocol/bpe.ts; "package": gpt-tokenizer, as the mock loaded
 * it before), counts one text so that everything lazy is built, and prints one JSON line:
 * the time that took, and what the process grew by (resident, and JS heap after GC).
 */
import { residentMb } from './measure.ts';

const which = process.argv[2];
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
// Modules both sides need, loaded before the clock and the first reading.
await import('node:zlib');
gc();
const rssBefore = residentMb() ?? Number.NaN;
const heapBefore = process.memoryUsage().heapUsed;
const started = performance.now();
let tokens: number;
if (which === 'ours') {
  const { bpeEncoding } = await import('../../src/protocol/bpe.ts');
  tokens = bpeEncoding('o200k_base').count('Hello, how are you?');
} else if (which === 'package') {
  const { countTokens } = await import('gpt-tokenizer/encoding/o200k_base');
  tokens = countTokens('Hello, how are you?');
} else {
  throw new Error(`tokenizer-child: "ours" or "package", not ${String(which)}`);
}
const loadMs = performance.now() - started;
gc();
gc();
process.stdout.write(
  `${JSON.stringify({ which, tokens, loadMs, residentMb: (residentMb() ?? Number.NaN) - rssBefore, heapMb: (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20 })}\n`,
);
