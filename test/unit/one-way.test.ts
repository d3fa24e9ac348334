import { describe, expect, it } from 'vitest';
import { ScenarioAggregate } from '../../src/bench/aggregate.ts';
import { findScenario, type BenchSummary } from '../../src/bench/summary.ts';
import { createTimeline } from '../../src/client/timeline.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { resolveVerifyOptions } from '../../src/config/verify-options.ts';
import { buildRequest } from '../../src/endpoint/build-request.ts';
import { LabError } from '../../src/errors.ts';
import type { LabState } from '../../src/lab/state.ts';
import { benchTargets } from '../../src/lab/targets.ts';
import { buildVerifyPlan } from '../../src/lab/verify-plan.ts';
import { interTokenGapsMs, toSample } from '../../src/metrics/sample.ts';

// "One way to do each thing": bench and lab:verify resolve targets through one resolver, and
// summary.json and report.html derive ITL and delivery latency from the same recorded numbers.

const state: LabState = {
  schemaVersion: 1,
  target: 'local',
  deployment: 'gpt-4o-mini',
  apiVersion: '2024-10-21',
  paths: {
    direct: {
      baseUrl: 'http://127.0.0.1:1',
      apiStyle: 'azure',
      auth: { kind: 'api-key', envName: 'LAB_DIRECT_API_KEY' },
    },
    gateway: {
      baseUrl: 'http://127.0.0.1:2',
      apiStyle: 'azure',
      auth: { kind: 'subscription-key', envName: 'LAB_GATEWAY_SUBSCRIPTION_KEY' },
    },
  },
};
const OVERRIDES = ['--deployment', 'my-gpt-4o', '--api-style', 'v1', '--api-version', '2025-04-01-preview'];

describe('one target resolver', () => {
  it('lab:verify honours --deployment, --api-style and --api-version on a lab state, as bench does', () => {
    const plan = buildVerifyPlan(resolveVerifyOptions(OVERRIDES, {}, []), state, {});
    const bench = benchTargets(resolveBenchOptions(OVERRIDES, {}), state);
    for (const target of [plan.gateway!, plan.direct!, ...bench]) {
      expect(target).toMatchObject({ deployment: 'my-gpt-4o', apiStyle: 'v1', apiVersion: '2025-04-01-preview' });
    }
    expect(bench.map((t) => t.auth)).toEqual([state.paths['direct']!.auth, state.paths['gateway']!.auth]);
    expect([plan.direct!.auth, plan.gateway!.auth]).toEqual(bench.map((t) => t.auth));
  });

  it('without overrides, the lab state decides (flags over state over defaults)', () => {
    const plan = buildVerifyPlan(resolveVerifyOptions([], {}, []), { ...state, deployment: 'lab-gpt-4o-mini' }, {});
    expect(plan.gateway).toMatchObject({ deployment: 'lab-gpt-4o-mini', apiStyle: 'azure', apiVersion: '2024-10-21' });
  });

  it('chooses auth one way for paths given by URL: the subscription key on the gateway (or a lone endpoint), the API key on direct', () => {
    const flags = ['--subscription-key-env', 'SUB', '--api-key-env', 'KEY'];
    const plan = buildVerifyPlan(
      resolveVerifyOptions([...flags, '--gateway', 'http://127.0.0.1:2', '--direct', 'http://127.0.0.1:1'], {}, []),
      undefined,
      {},
    );
    expect(plan.gateway!.auth).toEqual({ kind: 'subscription-key', envName: 'SUB' });
    expect(plan.direct!.auth).toEqual({ kind: 'api-key', envName: 'KEY' });
    const [lone] = benchTargets(resolveBenchOptions([...flags, '--endpoint', 'http://127.0.0.1:2'], {}), undefined);
    expect(lone!.auth).toEqual({ kind: 'subscription-key', envName: 'SUB' });
  });

  it('sends legacy completions to the completions deployment, from bench and verify alike', () => {
    const options = resolveBenchOptions(['--completions-deployment', 'my-instruct'], {});
    const [target] = benchTargets(options, state);
    const url = (api: 'chat' | 'completions') =>
      buildRequest({ api, stream: true, maxTokens: 8, target: target!, messages: [{ role: 'user', content: 'hi' }] })
        .url;
    expect(url('completions')).toContain('/deployments/my-instruct/completions');
    expect(url('chat')).toContain('/deployments/gpt-4o-mini/chat/completions');
    const plan = buildVerifyPlan(resolveVerifyOptions(['--completions-deployment', 'my-instruct'], {}, []), state, {});
    expect(plan.gateway!.completionsDeployment).toBe('my-instruct');
  });
});

describe('one path from timeline to numbers', () => {
  it('summary.json ITL and delivery come from the sample, exactly as the report reads it', () => {
    const tl = createTimeline('chat', true, 0n);
    // Arrivals with sub-10-µs parts, and a stamped frame that rounds below zero.
    tl.contentArrivalsMs.push(100.004, 100.0149, 130.1251, 131.0);
    tl.deliveryLatencyMs.push(-0.004, 0.3333, 2.7777);
    tl.firstContentMs = 100.004;
    tl.endMs = 131.5;
    tl.usage = { completionTokens: 4 };
    const sample = toSample(tl, {
      scenario: 's',
      path: 'direct',
      maxTokens: 8,
      index: 0,
      isWarmup: false,
      countTokens: () => 4,
    });
    const aggregate = new ScenarioAggregate({
      name: 's',
      api: 'chat',
      stream: true,
      maxTokens: 8,
      target: {
        label: 'direct',
        baseUrl: 'http://x',
        apiStyle: 'azure',
        deployment: 'd',
        apiVersion: 'v',
        auth: { kind: 'none' },
      },
    });
    aggregate.add(sample);
    const summary = aggregate.summary(1);
    const gaps = interTokenGapsMs(sample.arrivalsMs);
    expect(summary.itlMs!.max).toBe(Math.max(...gaps));
    expect(summary.itlMs!.min).toBe(Math.min(...gaps));
    expect(sample.itl!.maxMs).toBe(Math.max(...gaps));
    expect(summary.deliveryLatencyMs!.min).toBe(0);
    expect(sample.deliveryMs).toEqual([0, 0.33, 2.78]);
    expect(summary.deliveryLatencyMs!.max).toBe(Math.max(...sample.deliveryMs!));
  });
});

describe('coded errors for labs', () => {
  it('findScenario throws a LabError naming what the run measured', () => {
    const summary = {
      schemaVersion: 1,
      run: {},
      scenarios: [
        {
          name: 'chat/stream/max-8/direct',
          api: 'chat',
          stream: true,
          maxTokens: 8,
          path: 'direct',
          ttftMs: null,
          e2eMs: null,
          errors: { http_500: 2 },
        },
      ],
      comparisons: [],
    } as unknown as BenchSummary;
    expect(() => findScenario(summary, { api: 'responses' })).toThrow(LabError);
    expect(() => findScenario(summary, { api: 'responses' })).toThrow(/measured chat\/stream\/max-8\/direct/);
    expect(() => findScenario(summary, { api: 'chat' })).toThrow(
      expect.objectContaining({ code: 'E_LAB_RESULT', message: expect.stringMatching(/no request succeeded/) }),
    );
  });
});
