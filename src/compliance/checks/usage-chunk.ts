import { verdict, judgePerApi, type Check } from '../check-kit.ts';

const hasUsageFrame = (data: string): boolean =>
  data.startsWith('{') &&
  data.includes('"usage"') &&
  /"usage"\s*:\s*\{/.test(data) &&
  /"choices"\s*:\s*\[\s*\]/.test(data);

export const usageChunk: Check = {
  id: 'usage-chunk',
  title: 'The include_usage frame passes',
  run: (session) =>
    judgePerApi(
      session,
      session.plan.apis.filter((api) => api === 'chat' || api === 'completions'),
      (_api, gateway, direct) => {
        const usage = gateway.events.find((e) => hasUsageFrame(e.data));
        if (usage)
          return verdict(
            'pass',
            `usage frame present (${/"completion_tokens"\s*:\s*(\d+)/.exec(usage.data)?.[1] ?? '?'} completion tokens)`,
          );
        if (direct && direct.status === 200 && !direct.events.some((e) => hasUsageFrame(e.data)))
          return verdict('skip', 'the upstream sent no usage frame (api-version before 2024-07-01-preview?)');
        return verdict(
          'fail',
          'stream_options.include_usage was sent but the usage frame (choices: [], usage: {…}) did not arrive',
        );
      },
    ),
};
