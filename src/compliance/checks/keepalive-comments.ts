import { describeUnusable, NOT_MOCK, upstreamIsMock, verdict, type Check } from '../check-kit.ts';

export const keepaliveComments: Check = {
  id: 'keepalive-comments',
  title: 'SSE comment lines pass',
  async run(session) {
    if (session.plan.gateway === undefined) return verdict('skip', 'no gateway to probe');
    if (!(await upstreamIsMock(session))) return verdict('skip', NOT_MOCK);
    // A 700 ms pause with a keep-alive comment every 200 ms.
    const spec = { api: session.plan.apis[0]!, control: { faults: { keepalive: 200, stall: 700 } } };
    const gateway = (await session.cached('keepalive', 'gateway', spec))!;
    const unusable = describeUnusable(gateway);
    if (unusable) return verdict('fail', unusable);
    const count = gateway.comments.filter((c) => c.text.trim() === 'keep-alive').length;
    if (count > 0) return verdict('pass', `${count} ": keep-alive" comments passed through during a 700 ms pause`);
    return verdict(
      'warn',
      "the gateway strips SSE comment lines: keep-alive comments never reach the client, so idle connections rely on the gateway's own timeouts",
    );
  },
};
