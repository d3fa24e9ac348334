import { join } from 'node:path';
import {
  defineLab,
  forEachSample,
  formatMs,
  readGatewayLog,
  type GatewayLogEntry,
  type Sample,
} from '../../src/index.ts';

/** Every streamed piece is traceable: ids on every request, the response id on every chunk, and the join to the gateway's log. */
export default defineLab({
  name: 'stream-ids',
  title: 'Stream ids: from a slow stream in the report to its line in the gateway log',
  mockArgs: ['--itl-ms', '8', '--output-tokens', '64', '--jitter-ms', '6'],
  async run(lab) {
    await lab.deploy('streaming');
    // One stream, frame by frame: does every chunk carry the response id?
    const one = await lab.request({
      path: 'gateway',
      messages: [{ role: 'user', content: 'Trace me.' }],
      maxTokens: 32,
    });
    // Token events only: Azure's prompt-filter frame has an empty id, and carries no token.
    const chunkIds = (one.frames ?? [])
      .filter((f) => f.data !== '[DONE]')
      .map((f) => JSON.parse(f.data) as { id?: string; choices?: Array<{ delta?: { content?: string } }> })
      .filter((chunk) => (chunk.choices?.[0]?.delta?.content ?? '') !== '')
      .map((chunk) => chunk.id);
    const everyChunkHasId =
      chunkIds.length > 0 && chunkIds.every((id) => id !== undefined && id === one.ids.responseId);

    await lab.bench('bench', [
      '--api',
      'chat',
      '--stream',
      'on',
      '--max-tokens',
      '64',
      '--requests',
      '12',
      '--concurrency',
      '4',
      '--warmup',
      '0',
      '--path',
      'gateway',
    ]);
    const samples: Sample[] = [];
    await forEachSample(join(lab.outDir, 'bench'), (s) => void samples.push(s));
    const withAllIds = samples.filter((s) => s.ids.requestId && s.ids.apimRequestId && s.ids.responseId);
    const slowest = samples.filter((s) => s.e2eMs !== null).sort((a, b) => b.e2eMs! - a.e2eMs!)[0]!;

    let joined = 0;
    let slowestLine: GatewayLogEntry | undefined;
    if (lab.target === 'local') {
      const log = readGatewayLog(lab.logOf('gateway'));
      const byRequestId = new Map(log.map((entry) => [entry.backendRequestId, entry]));
      joined = samples.filter((s) => s.ids.requestId !== null && byRequestId.has(s.ids.requestId)).length;
      slowestLine = byRequestId.get(slowest.ids.requestId);
    }
    const join_ =
      lab.target === 'local'
        ? `${joined} of ${samples.length} streams were found in the gateway's access log by x-request-id. The slowest stream (E2E ${formatMs(slowest.e2eMs!)}, x-request-id ${slowest.ids.requestId}) is the log line with responseCode ${slowestLine?.responseCode}, backend time ${formatMs(slowestLine?.backendTimeMs ?? NaN)} and total ${formatMs(slowestLine?.totalTimeMs ?? NaN)}.`
        : `On Azure, query ApiManagementGatewayLogs for the slowest stream's ids (the README has the KQL): x-request-id ${slowest.ids.requestId}, apim-request-id ${slowest.ids.apimRequestId}.`;
    const finding =
      `${withAllIds.length} of ${samples.length} streamed requests carried all three ids (x-request-id, apim-request-id, response id), and ${everyChunkHasId ? `every one of ${chunkIds.length} token chunks` : 'not every token chunk'} of a stream repeated its response id (${one.ids.responseId}). ` +
      join_;
    return {
      finding,
      facts: {
        requests: samples.length,
        requestsWithAllIds: withAllIds.length,
        everyChunkHasResponseId: everyChunkHasId,
        joinedToGatewayLog: joined,
        slowestRequestId: slowest.ids.requestId,
        slowestFoundInLog: slowestLine !== undefined,
      },
    };
  },
});
