import { judgePerApi, verdict, type Check } from '../check-kit.ts';

export const contentType: Check = {
  id: 'content-type',
  title: 'Content-Type text/event-stream survives',
  run: (session) =>
    judgePerApi(session, session.plan.apis, (_api, gateway) => {
      const value = gateway.headers['content-type'];
      return value?.toLowerCase().startsWith('text/event-stream')
        ? verdict('pass', `content-type "${value}"`)
        : verdict(
            'fail',
            `content-type ${value === undefined ? 'missing' : `"${value}"`}; clients and proxies treat the stream as an ordinary body`,
          );
    }),
};
