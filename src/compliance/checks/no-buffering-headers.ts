import { judgePerApi, verdict, type Check } from '../check-kit.ts';

/** Response headers the upstream sends to keep intermediaries from buffering or caching SSE. */
const ANTI_BUFFERING = [
  { name: 'x-accel-buffering', isKept: (v: string) => v.toLowerCase() === 'no' },
  { name: 'cache-control', isKept: (v: string) => /no-cache|no-store/i.test(v) },
];

export const noBufferingHeaders: Check = {
  id: 'no-buffering-headers',
  title: 'No header that signals buffering',
  run: (session) =>
    judgePerApi(session, session.plan.apis, (_api, gateway, direct) => {
      if (gateway.headers['x-accel-buffering']?.toLowerCase() === 'yes')
        return verdict('fail', 'x-accel-buffering: yes asks proxies after the gateway to buffer the stream');
      const dropped = ANTI_BUFFERING.filter(
        ({ name, isKept }) =>
          direct?.headers[name] !== undefined && isKept(direct.headers[name]!) && !isKept(gateway.headers[name] ?? ''),
      );
      if (dropped.length > 0) {
        return verdict(
          'warn',
          `the gateway dropped ${dropped.map(({ name }) => `${name}: ${direct!.headers[name]}`).join(', ')}; a proxy after it (nginx, a CDN) may now buffer or cache the stream`,
        );
      }
      return verdict(
        'pass',
        `x-accel-buffering ${gateway.headers['x-accel-buffering'] ?? 'absent'}, cache-control ${gateway.headers['cache-control'] ?? 'absent'}`,
      );
    }),
};
