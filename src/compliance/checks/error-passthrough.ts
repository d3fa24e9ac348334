import { NOT_MOCK, upstreamIsMock, verdict, type Check } from '../check.ts';

/** The body with whitespace normalised and request ids (which differ per request) masked. */
const normalise = (body: string): string => {
  let text = body.trim();
  try {
    text = JSON.stringify(JSON.parse(body));
  } catch {
    // not JSON: compare as text
  }
  return text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>');
};

export const errorPassthrough: Check = {
  id: 'error-passthrough',
  title: 'An upstream error status and body reach the client unchanged',
  async run(session) {
    if (session.plan.gateway === undefined) return verdict('skip', 'no gateway to probe');
    if (!(await upstreamIsMock(session))) return verdict('skip', NOT_MOCK);
    const spec = { api: session.plan.apis[0]!, control: { faults: { 500: undefined } } };
    const gateway = (await session.probe('gateway', spec))!;
    const direct = await session.probe('direct', spec);
    const details = { gatewayStatus: gateway.status, directStatus: direct?.status, gatewayBody: gateway.bodyText.slice(0, 500) };
    if (gateway.status !== 500) return verdict('fail', `an upstream 500 reached the client as ${gateway.status || gateway.error}`, details);
    if (direct && direct.status === 500 && normalise(direct.bodyText) !== normalise(gateway.bodyText)) {
      return verdict('fail', `status 500 kept, but the body changed: ${gateway.bodyText.slice(0, 120).replace(/\s+/g, ' ')}`, details);
    }
    const code = /"code"\s*:\s*"([^"]+)"/.exec(gateway.bodyText)?.[1];
    return verdict('pass', `500 and its Azure error body${code ? ` (code ${code})` : ''} reach the client${direct ? ' unchanged' : ''}`, details);
  },
};
