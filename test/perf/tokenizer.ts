/**
 * What counting tokens costs: the mock counts every prompt, the gateway's token limit every
 * prompt and answer, the harness every answer that carries no usage. src/protocol/bpe.ts (the
 * ranks as bytes) beside gpt-tokenizer, which the project used before and which stays its
 * reference in test/unit/bpe.test.ts:
 * - load: a fresh process per load, alternated, RUNS each: time to a first count, resident
 *   memory and JS heap it added;
 * - count: per prompt, median of RUNS runs over the same 400 distinct texts, in this process;
 * - long piece: 20,000 letters with no space, one piece to merge (the merge's worst case).
 * Bounded: fixed counts of processes and iterations.
 */
import { clearMergeCache, countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { bpeEncoding } from '../../src/protocol/bpe.ts';
import { createUniform } from '../../src/protocol/random.ts';
import { firstJsonLine, startNode } from './child.ts';
import { median } from './measure.ts';

const RUNS = 5;
const PASSES = 25;
const LONG_PIECE_CHARS = 20_000;

interface Load {
  loadMs: number;
  residentMb: number;
  heapMb: number;
}

const range = (values: number[], digits: number): string =>
  `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/** Prompts as a chat client sends them: words of a few languages, code, numbers; 400 distinct. */
function prompts(): string[] {
  const uniform = createUniform(7);
  const words = [
    ...'how should a gateway relay each server-sent event as soon as it arrives without holding it back'.split(' '),
    ...'Streaming keeps the first token close to the user even when the full answer takes seconds'.split(' '),
    ...'die Antwort kommt in kleinen Stücken la réponse arrive par petits morceaux'.split(' '),
    'const',
    'x',
    '=',
    '{',
    '}',
    'return',
    '2048;',
    '3.14',
    '"quoted"',
    '\n',
    '\n\n',
    '日本語',
    'テキスト',
    '🙂',
  ];
  return Array.from({ length: 400 }, () => {
    const length = 8 + Math.floor(uniform() * 120);
    return Array.from({ length }, () => words[Math.floor(uniform() * words.length)]).join(' ');
  });
}

function nsPerPrompt(texts: readonly string[], count: (text: string) => number): number {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let pass = 0; pass < PASSES; pass++) for (const text of texts) sink += count(text);
  if (sink === 0) throw new Error('no tokens counted');
  return Number(process.hrtime.bigint() - started) / (PASSES * texts.length);
}

export async function runTokenizer(): Promise<string> {
  const loads: Record<'ours' | 'package', Load[]> = { ours: [], package: [] };
  for (let run = 0; run < RUNS; run++) {
    for (const which of ['ours', 'package'] as const) {
      const child = startNode('test/perf/tokenizer-child.ts', [which], { nodeArgs: ['--expose-gc'] });
      loads[which].push((await firstJsonLine(child, 30_000)) as unknown as Load);
    }
  }
  const texts = prompts();
  const ours = bpeEncoding('o200k_base');
  const oursCount = (text: string) => ours.count(text);
  // gpt-tokenizer's own count, its fastest path (its LRU merge cache included, as it ships).
  const packageCount = (text: string) => countTokens(text, { disallowedSpecial: new Set() });
  for (const text of texts)
    if (oursCount(text) !== packageCount(text))
      throw new Error(`the two counts differ on ${JSON.stringify(text.slice(0, 60))}`);
  const timings: Record<'ours' | 'package', number[]> = { ours: [], package: [] };
  nsPerPrompt(texts, oursCount);
  nsPerPrompt(texts, packageCount);
  for (let run = 0; run < RUNS; run++) {
    timings.ours.push(nsPerPrompt(texts, oursCount));
    timings.package.push(nsPerPrompt(texts, packageCount));
  }
  // One piece with nothing to split it (20,000 letters, no space): the merge's worst case.
  const uniform = createUniform(11);
  const run = Array.from({ length: LONG_PIECE_CHARS }, () => 'etaoinshrdlu'[Math.floor(uniform() * 12)]).join('');
  if (oursCount(run) !== packageCount(run)) throw new Error('the two counts differ on the long piece');
  const longMs: Record<'ours' | 'package', number[]> = { ours: [], package: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const [which, count] of [
      ['ours', oursCount],
      ['package', packageCount],
    ] as const) {
      // gpt-tokenizer remembers merged pieces: without this it would answer from memory.
      clearMergeCache();
      const started = performance.now();
      count(run);
      longMs[which].push(performance.now() - started);
    }
  }
  const chars = Math.round(texts.reduce((n, t) => n + t.length, 0) / texts.length);
  const row = (name: string, which: 'ours' | 'package') => {
    const l = loads[which];
    return `| ${name} | ${median(l.map((x) => x.loadMs)).toFixed(0)} ms (${range(
      l.map((x) => x.loadMs),
      0,
    )}) | ${median(l.map((x) => x.residentMb)).toFixed(1)} MB (${range(
      l.map((x) => x.residentMb),
      1,
    )}) | ${median(l.map((x) => x.heapMb)).toFixed(1)} MB | ${(median(timings[which]) / 1000).toFixed(1)} µs (${range(
      timings[which].map((t) => t / 1000),
      1,
    )}) | ${median(longMs[which]).toFixed(1)} ms (${range(longMs[which], 1)}) |`;
  };
  const residentRatio = median(loads.package.map((x) => x.residentMb)) / median(loads.ours.map((x) => x.residentMb));
  const speedRatio = median(timings.ours) / median(timings.package);
  return [
    `o200k_base. Load: a fresh process each, alternated, median of ${RUNS} (range); resident = VmRSS after loading and one count, minus before; JS heap after GC. Count: per prompt (${texts.length} distinct prompts of ${chars} characters on average, the same token counts from both), median of ${RUNS} runs of ${PASSES} passes. Long piece: one run of ${LONG_PIECE_CHARS.toLocaleString('en-US')} letters with no space, counted once per run, median of ${RUNS}.`,
    '',
    '| encoder | load to a first count | resident memory added | JS heap added | count per prompt | long piece |',
    '|---|---|---|---|---|---|',
    row('src/protocol/bpe.ts (ranks as bytes)', 'ours'),
    row('gpt-tokenizer (baseline)', 'package'),
    '',
    `- resident memory: the baseline adds ${residentRatio.toFixed(1)}x what ours does`,
    `- count per prompt: ours takes ${speedRatio.toFixed(2)}x the baseline's time`,
    `- long piece: ours takes ${(median(longMs.ours) / median(longMs.package)).toFixed(2)}x the baseline's time (its merge scans every pair at every step: n², where ours keeps a heap)`,
    '',
  ].join('\n');
}
