import { hasStamps } from '../analysis.ts';
import { judgePerApi, verdict, type Check } from '../check-kit.ts';

export const namedEvents: Check = {
  id: 'named-events',
  title: 'Responses API event: lines and sequence_number order pass',
  run: (session) =>
    judgePerApi(
      session,
      session.plan.apis.filter((api) => api === 'responses'),
      (_api, gateway, direct) => {
        let previous: number | undefined;
        for (const [i, e] of gateway.events.entries()) {
          let data: { type?: string; sequence_number?: number };
          try {
            data = JSON.parse(e.data);
          } catch {
            return verdict('fail', `event ${i} is not JSON`);
          }
          if (e.event === undefined)
            return verdict('fail', `event ${i} (${data.type}) arrived without its event: line`);
          if (e.event !== data.type)
            return verdict('fail', `event ${i} is named "${e.event}" but its type is "${data.type}"`);
          if (typeof data.sequence_number !== 'number')
            return verdict('fail', `event ${i} (${e.event}) has no sequence_number`);
          if (previous !== undefined && data.sequence_number !== previous + 1)
            return verdict('fail', `sequence_number ${data.sequence_number} follows ${previous}`);
          previous = data.sequence_number;
        }
        const names = gateway.events.map((e) => e.event);
        if (direct !== undefined && hasStamps(direct) && direct.events.map((e) => e.event).join() !== names.join()) {
          return verdict(
            'fail',
            `event names differ from the direct path (${names.length} vs ${direct.events.length} events)`,
          );
        }
        return verdict(
          'pass',
          `${names.length} named events, sequence_number 0…${previous ?? '–'} without gaps, ending with ${names.at(-1)}`,
        );
      },
    ),
};
