import { setTimeout as sleep } from 'node:timers/promises';
import { MOCK_ADMIN_ROUTES } from '../../protocol/index.ts';
import { verdict, type Check } from '../check-kit.ts';

interface UpstreamRecord {
  requestId: string;
  clientRequestId: string | null;
  outcome: string;
  framesEmitted: number;
  contentFramesPlanned: number;
}

/** How long the upstream may keep generating after the client left. */
const CANCEL_WITHIN_MS = 1500;

export const clientDisconnect: Check = {
  id: 'client-disconnect',
  title: 'When the client goes away, the upstream stream is cancelled',
  async run(session) {
    const { mockAdminUrl, apis } = session.plan;
    if (session.plan.gateway === undefined) return verdict('skip', 'no gateway to probe');
    if (mockAdminUrl === undefined)
      return verdict('skip', "needs the upstream's request log (the mock's /_mock/requests): pass --mock-admin URL");
    const clientRequestId = `verify-disconnect-${Date.now()}`;
    // A 4 s stream the client leaves after 5 events or 1.5 s, whichever comes first (a
    // buffering gateway delivers no events, and the client must still leave mid-stream).
    const probe = (await session.probe('gateway', {
      api: apis[0]!,
      control: { outputTokens: 200, itlMs: 20 },
      closeAfterEvents: 5,
      closeAfterMs: 1500,
      headers: { 'x-ms-client-request-id': clientRequestId },
    }))!;
    if (probe.status !== 200) return verdict('fail', `the gateway answered ${probe.status || probe.error}`);
    if (probe.end !== 'closed') return verdict('fail', `the stream ended (${probe.end}) before the client could leave`);
    const upstreamId = probe.headers['x-request-id'];
    let record: UpstreamRecord | undefined;
    const deadline = performance.now() + CANCEL_WITHIN_MS;
    do {
      await sleep(100);
      const records = await fetchRecords(mockAdminUrl);
      if (records === undefined) return verdict('skip', `cannot read ${mockAdminUrl}${MOCK_ADMIN_ROUTES.requests}`);
      record = records.find(
        (r) => r.clientRequestId === clientRequestId || (upstreamId !== undefined && r.requestId === upstreamId),
      );
    } while ((record === undefined || record.outcome === 'pending') && performance.now() < deadline);
    if (record === undefined)
      return verdict(
        'fail',
        'the upstream has no record of the request (x-ms-client-request-id and x-request-id not forwarded?)',
      );
    const details = { ...record, leftAfterEvents: probe.events.length };
    if (record.outcome === 'cancelled' || record.outcome === 'disconnected') {
      return verdict(
        'pass',
        `the client left after ${probe.events.length} events; the upstream cancelled after ${record.framesEmitted} of ${record.contentFramesPlanned} frames`,
        details,
      );
    }
    return verdict(
      'fail',
      `the client left after ${probe.events.length} events, but the upstream ${record.outcome === 'pending' ? `was still generating ${CANCEL_WITHIN_MS} ms later` : `generated all ${record.framesEmitted} frames`} for nobody`,
      details,
    );
  },
};

async function fetchRecords(adminUrl: string): Promise<UpstreamRecord[] | undefined> {
  try {
    const response = await fetch(`${adminUrl.replace(/\/+$/, '')}${MOCK_ADMIN_ROUTES.requests}`, {
      signal: AbortSignal.timeout(5000),
    });
    return response.ok ? ((await response.json()) as UpstreamRecord[]) : undefined;
  } catch {
    return undefined;
  }
}
