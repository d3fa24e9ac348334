import { judgePerApi, verdict, type Check } from '../check-kit.ts';
import { judgeIncremental } from './incremental-delivery.ts';

export const noCompression: Check = {
  id: 'no-compression',
  title: 'The stream is not compressed in a way that holds frames back',
  run: (session) =>
    judgePerApi(session, session.plan.apis, (_api, gateway, direct) => {
      const encoding = gateway.headers['content-encoding'];
      if (encoding === undefined || encoding.toLowerCase() === 'identity')
        return verdict('pass', 'no content-encoding (the probe offered gzip, deflate, br)');
      const delivery = judgeIncremental(gateway, direct, session.plan.thresholds);
      if (delivery.status === 'fail')
        return verdict(
          'fail',
          `content-encoding ${encoding}, and the compressor held frames back: ${delivery.evidence}`,
          delivery.details,
        );
      return verdict(
        'warn',
        `content-encoding ${encoding}, flushed frame by frame here; a client or proxy that decodes in blocks may still hold frames`,
        delivery.details,
      );
    }),
};
