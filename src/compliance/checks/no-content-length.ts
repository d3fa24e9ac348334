import { judgePerApi, verdict, type Check } from '../check-kit.ts';

export const noContentLength: Check = {
  id: 'no-content-length',
  title: 'No Content-Length on a stream',
  run: (session) =>
    judgePerApi(session, session.plan.apis, (_api, gateway) => {
      const length = gateway.headers['content-length'];
      return length === undefined
        ? verdict(
            'pass',
            `no content-length (${gateway.headers['transfer-encoding'] ? `transfer-encoding ${gateway.headers['transfer-encoding']}` : `HTTP/${gateway.httpVersion}, body until close`})`,
          )
        : verdict(
            'fail',
            `content-length ${length}: the gateway knew the whole body before sending it, so it buffered the stream`,
          );
    }),
};
