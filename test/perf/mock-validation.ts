/**
 * What request validation costs the mock: validateRequestBody (ajv, compiled once) on the
 * bodies the lab sends, beside JSON.parse of the same body, which the mock does for every
 * request anyway. Bounded: a fixed number of iterations per body and run.
 */
import { validateRequestBody } from '../../stand-ins/azure-openai/validation/validate-request.ts';

const ITERATIONS = 20_000;
const RUNS = 5;

const conversation = Array.from({ length: 20 }, (_, i) => ({
  role: i % 2 === 0 ? 'user' : 'assistant',
  content: `Turn ${i}: how should a gateway relay a stream of server-sent events?`,
}));
const BODIES: Array<[string, 'chat' | 'completions' | 'responses', string | null, Record<string, unknown>]> = [
  [
    'chat, 1 message, stream + usage',
    'chat',
    '2024-10-21',
    {
      messages: [{ role: 'user', content: 'Hello' }],
      max_tokens: 256,
      stream: true,
      stream_options: { include_usage: true },
    },
  ],
  [
    'chat, 20 messages',
    'chat',
    '2024-10-21',
    { messages: conversation, max_tokens: 256, temperature: 0.7, stream: true },
  ],
  ['completions', 'completions', '2024-10-21', { prompt: 'Hello', max_tokens: 64, stream: true }],
  [
    'responses (v1)',
    'responses',
    null,
    { model: 'gpt-4o-mini', input: [{ role: 'user', content: 'Hello' }], max_output_tokens: 256, stream: true },
  ],
];

function medianNs(run: () => void): number {
  const perCall: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) run();
    perCall.push(Number(process.hrtime.bigint() - started) / ITERATIONS);
  }
  return perCall.sort((a, b) => a - b)[Math.floor(RUNS / 2)]!;
}

export async function runMockValidation(): Promise<string> {
  const rows = ['| body | bytes | JSON.parse (baseline) | validate | validate / parse |', '|---|---|---|---|---|'];
  for (const [name, api, version, body] of BODIES) {
    const text = JSON.stringify(body);
    if (validateRequestBody(api, version, body) !== null) throw new Error(`${name}: the benchmark body is refused`);
    // Warm both paths up first (JIT), untimed.
    for (let i = 0; i < ITERATIONS; i++) validateRequestBody(api, version, body) ?? JSON.parse(text);
    const parseNs = medianNs(() => JSON.parse(text));
    const validateNs = medianNs(() => validateRequestBody(api, version, body));
    rows.push(
      `| ${name} | ${text.length} | ${(parseNs / 1000).toFixed(2)} µs | ${(validateNs / 1000).toFixed(2)} µs | ${(validateNs / parseNs).toFixed(2)}x |`,
    );
  }
  return `Per request, median of ${RUNS} runs of ${ITERATIONS.toLocaleString('en-US')} calls.\n\n${rows.join('\n')}\n`;
}
