import { NOT_MOCK, upstreamIsMock, verdict, type Check } from '../check-kit.ts';

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

/** A body Azure refuses on every version and surface: temperature is at most 2. */
const REFUSED_FIELDS = { temperature: 7 };

export const errorPassthrough: Check = {
  id: 'error-passthrough',
  title: 'An upstream error status and body reach the client unchanged',
  async run(session) {
    if (session.plan.gateway === undefined) return verdict('skip', 'no gateway to probe');
    const api = session.plan.apis[0]!;
    // 1. A validation refusal: any Azure OpenAI upstream (and the mock) answers 400 invalid_request_error.
    const refusal = { api, bodyFields: REFUSED_FIELDS };
    const gatewayRefusal = (await session.probe('gateway', refusal))!;
    const directRefusal = await session.probe('direct', refusal);
    const refusalDetails = {
      gatewayStatus: gatewayRefusal.status,
      directStatus: directRefusal?.status,
      gatewayBody: gatewayRefusal.bodyText.slice(0, 500),
    };
    if (directRefusal?.status === 400 && gatewayRefusal.status !== 400)
      return verdict(
        'fail',
        `a 400 refusal (temperature 7) reached the client as ${gatewayRefusal.status || gatewayRefusal.error}`,
        refusalDetails,
      );
    if (directRefusal?.status === 400 && normalise(directRefusal.bodyText) !== normalise(gatewayRefusal.bodyText)) {
      return verdict(
        'fail',
        `a 400 refusal kept its status, but the body changed: ${gatewayRefusal.bodyText.slice(0, 120).replace(/\s+/g, ' ')}`,
        refusalDetails,
      );
    }
    const refusedParam = /"param"\s*:\s*"([^"]+)"/.exec(gatewayRefusal.bodyText)?.[1];
    const refusalText =
      gatewayRefusal.status === 400 ? `a 400 refusal${refusedParam ? ` (param ${refusedParam})` : ''}` : undefined;
    // 2. A server error, injected by the mock.
    if (!(await upstreamIsMock(session))) {
      return refusalText
        ? verdict(
            'pass',
            `${refusalText} reaches the client unchanged; the 500 probe needs the mock (${NOT_MOCK})`,
            refusalDetails,
          )
        : verdict('skip', NOT_MOCK);
    }
    const spec = { api, control: { faults: { 500: undefined } } };
    const gateway = (await session.probe('gateway', spec))!;
    const direct = await session.probe('direct', spec);
    const details = {
      refusal: refusalDetails,
      gatewayStatus: gateway.status,
      directStatus: direct?.status,
      gatewayBody: gateway.bodyText.slice(0, 500),
    };
    if (gateway.status !== 500)
      return verdict('fail', `an upstream 500 reached the client as ${gateway.status || gateway.error}`, details);
    if (direct && direct.status === 500 && normalise(direct.bodyText) !== normalise(gateway.bodyText)) {
      return verdict(
        'fail',
        `status 500 kept, but the body changed: ${gateway.bodyText.slice(0, 120).replace(/\s+/g, ' ')}`,
        details,
      );
    }
    const code = /"code"\s*:\s*"([^"]+)"/.exec(gateway.bodyText)?.[1];
    return verdict(
      'pass',
      `${refusalText ? `${refusalText} and ` : ''}500 and its Azure error body${code ? ` (code ${code})` : ''} reach the client${direct ? ' unchanged' : ''}`,
      details,
    );
  },
};
