import { describeUnusable, upstreamIsMock, verdict, type Check } from '../check-kit.ts';

/** Response headers a client needs to trace a request and pace itself. */
const TRACE_HEADERS = ['x-request-id', 'apim-request-id'];

export const headersPassthrough: Check = {
  id: 'headers-passthrough',
  title: 'Request ids, rate-limit headers and retry-after-ms reach the client',
  async run(session) {
    if (session.plan.gateway === undefined) return verdict('skip', 'no gateway to probe');
    const api = session.plan.apis[0]!;
    const gateway = (await session.main('gateway', api))!;
    const unusable = describeUnusable(gateway);
    if (unusable) return verdict('fail', unusable);
    const direct = await session.main('direct', api);
    const expected = direct
      ? Object.keys(direct.headers).filter((h) => TRACE_HEADERS.includes(h) || h.startsWith('x-ratelimit-'))
      : TRACE_HEADERS;
    const missing = expected.filter((h) => gateway.headers[h] === undefined);
    const problems = missing.length > 0 ? [`missing ${missing.join(', ')}`] : [];
    let rateLimit = 'no 429 probe (the upstream is not the mock)';
    if (await upstreamIsMock(session)) {
      const limited = (await session.probe('gateway', { api, control: { faults: { 429: 1500 } } }))!;
      if (limited.status !== 429)
        problems.push(`an upstream 429 reached the client as ${limited.status || limited.error}`);
      else if (limited.headers['retry-after-ms'] !== '1500')
        problems.push(`a 429 lost retry-after-ms (got ${limited.headers['retry-after-ms'] ?? 'none'}, sent 1500)`);
      else rateLimit = '429 kept retry-after-ms: 1500';
    }
    const details = { expected, missing, gatewayHeaders: Object.keys(gateway.headers) };
    if (problems.length > 0) return verdict('fail', problems.join('; '), details);
    return verdict('pass', `${expected.join(', ')} reach the client; ${rateLimit}`, details);
  },
};
