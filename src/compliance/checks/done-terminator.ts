import { judgePerApi, verdict, type Check } from '../check-kit.ts';

export const doneTerminator: Check = {
  id: 'done-terminator',
  title: 'data: [DONE] passes',
  run: (session) =>
    judgePerApi(
      session,
      session.plan.apis.filter((api) => api !== 'responses'),
      (_api, gateway, direct) => {
        const last = gateway.events.at(-1)?.data;
        if (last === '[DONE]')
          return verdict('pass', `the stream ends with data: [DONE] after ${gateway.events.length - 1} events`);
        if (direct && direct.status === 200 && direct.events.at(-1)?.data !== '[DONE]')
          return verdict('warn', 'no data: [DONE], but the direct path sent none either');
        return verdict(
          'fail',
          `the stream ended (${gateway.end}${gateway.error ? `: ${gateway.error}` : ''}) without data: [DONE]; last event ${JSON.stringify((last ?? '').slice(0, 60))}`,
        );
      },
    ),
};
