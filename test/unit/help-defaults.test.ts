import { describe, expect, it } from 'vitest';
import { BENCH_USAGE } from '../../src/cli/bench-command.ts';
import { CALIBRATE_USAGE } from '../../src/cli/calibrate-command.ts';
import { CLEANUP_USAGE, DEPLOY_USAGE } from '../../src/cli/lab-commands.ts';
import { LAB_RUN_USAGE } from '../../src/cli/lab-run-command.ts';
import { COMPARE_USAGE, REPORT_USAGE } from '../../src/cli/report-commands.ts';
import { CLEANUP_ACA_USAGE, RENDER_K8S_USAGE, RUN_ACA_USAGE, SCALE_USAGE } from '../../src/cli/scale-command.ts';
import { MERGE_USAGE } from '../../src/cli/shard-commands.ts';
import { VERIFY_USAGE } from '../../src/cli/verify-command.ts';
import { CHECK_IDS } from '../../src/compliance/index.ts';
import { resolveBenchOptions } from '../../src/config/bench-options.ts';
import { resolveCalibrateOptions } from '../../src/config/calibrate-options.ts';
import { durationText } from '../../src/config/help-defaults.ts';
import { resolveCleanupOptions, resolveDeployOptions, resolveLabRunOptions } from '../../src/config/lab-options.ts';
import { resolveCompareOptions, resolveMergeOptions, resolveReportOptions } from '../../src/config/report-options.ts';
import {
  resolveCleanupAcaOptions,
  resolveRenderK8sOptions,
  resolveRunAcaOptions,
} from '../../src/config/scale-options.ts';
import { resolveVerifyOptions } from '../../src/config/verify-options.ts';
import { resolveTargets } from '../../src/lab/targets.ts';

// Every "(default …)" a command's --help prints is what its resolver gives when the flag is
// not there (issue 29): the help makes them from the command's defaults object, and this test
// reads each one back out of the help and compares it with the resolved options. It fails
// when a default is edited in the help by hand, or in the resolver alone, or when the help
// gains a default nobody checks here.
//
// The help's convention: `(default VALUE)` is a value, compared as text with what the reader
// below makes of the resolved options; `(default: words)` describes what happens when the
// option is left unset, and its reader must say UNSET (the resolver left it undefined or
// empty for a later step to fill). A default belongs to the nearest `--flag` before it ('' for
// none: a heading's default).

const UNSET = Symbol('unset');
type Reader = () => string | typeof UNSET;

/** Every default the help prints, with the flag it belongs to. */
function printedDefaults(usage: string): Array<{ flag: string; shown: string }> {
  return [...usage.matchAll(/\(default(:?) ([^()]*)\)/g)].map((m) => ({
    flag: [...usage.slice(0, m.index).matchAll(/--[a-z][a-z0-9-]*/g)].at(-1)?.[0] ?? '',
    shown: `${m[1]}${m[2]!.replace(/\s+/g, ' ')}`.replace(/^:/, ': '),
  }));
}

function checkHelp(usage: string, readers: Record<string, Reader>): void {
  const printed = printedDefaults(usage);
  // No default said any other way ("…, default 30s", "(the default)") that this test would miss.
  const rest = usage.replace(/\(default:? [^()]*\)/g, '');
  expect(rest.match(/.{0,40}\bdefault\b.{0,40}/gi) ?? []).toEqual([]);
  expect([...new Set(printed.map((p) => p.flag))].sort()).toEqual(Object.keys(readers).sort());
  for (const { flag, shown } of printed) {
    const value = readers[flag]!();
    if (value === UNSET) expect(shown, `${flag}: a described default`).toMatch(/^: /);
    else expect(shown, `the default of ${flag}`).toBe(value);
  }
}

const unset = (value: unknown): typeof UNSET | string =>
  value === undefined || (Array.isArray(value) && value.length === 0) ? UNSET : `set: ${JSON.stringify(value)}`;
const SUBSCRIPTION = '00000000-0000-0000-0000-000000000001';
const NOW = new Date('2026-03-01T12:00:00.000Z');
const IMAGE = 'registry.example.net/streamlab:1';

describe('every default a --help prints is the default its resolver applies', () => {
  it('bench', () => {
    const o = resolveBenchOptions([], {});
    const open = resolveBenchOptions(['--rate', '1'], {});
    const [target] = resolveTargets({
      flags: o,
      byUrl: [{ label: 'direct', baseUrl: 'http://127.0.0.1:1' }],
      pick: [],
      state: undefined,
    });
    checkHelp(BENCH_USAGE, {
      '': () => unset(o.endpoint),
      '--api-style': () => target!.apiStyle,
      '--deployment': () => target!.deployment,
      '--completions-deployment': () => target!.completionsDeployment!,
      '--api-version': () => target!.apiVersion,
      '--api-key-env': () => ('envName' in target!.auth ? target!.auth.envName : '?'),
      '--path': () => unset(o.paths),
      '--state': () => o.stateFile,
      '--api': () => o.apis.join(','),
      '--stream': () => (o.streams.length === 2 ? 'both' : o.streams[0] ? 'on' : 'off'),
      '--max-tokens': () => o.maxTokens.join(','),
      '--requests': () => String(o.requests),
      '--concurrency': () => (o.load.kind === 'sequential' ? '1' : JSON.stringify(o.load)),
      '--arrival': () => (open.load.kind === 'open' ? open.load.arrival : '?'),
      '--warmup': () => String(o.warmup),
      '--no-interleave': () => (o.interleave ? UNSET : 'not interleaved'),
      '--retry-429': () => o.retry429,
      '--retry-max-wait': () => durationText(o.retryMaxWaitMs),
      '--bail-out': () => String(o.bailoutErrorRatio),
      '--timeout': () => durationText(o.timeouts.totalMs),
      '--connect-timeout': () => durationText(o.timeouts.connectMs),
      '--headers-timeout': () => durationText(o.timeouts.headersMs),
      '--first-token-timeout': () => durationText(o.timeouts.firstTokenMs),
      '--idle-timeout': () => durationText(o.timeouts.idleMs),
      '--client': () => o.client,
      '--seed': () => String(o.seed),
      '--out': () => unset(o.out),
    });
    expect(BENCH_USAGE).toContain(`at most ${o.retryMaxAttempts} attempts`);
  });

  it('lab:verify', () => {
    const o = resolveVerifyOptions([], {}, CHECK_IDS);
    checkHelp(VERIFY_USAGE, {
      '': () => unset(o.gateway ?? o.direct),
      '--mock-admin': () => unset(o.mockAdmin),
      '--api': () => o.apis.join(','),
      '--api-key-env': () => o.apiKeyEnv,
      '--state': () => o.stateFile,
      '--checks': () => unset(o.checks),
      '--idle-gap': () => durationText(o.idleGapMs),
      '--max-delivery-p99': () => durationText(o.deliveryP99Ms),
      '--max-ttft-overhead': () => durationText(o.ttftOverheadMs),
      '--streams': () => String(o.streams),
      '--out': () => unset(o.out),
    });
  });

  it('lab:deploy, local and Azure', () => {
    const local = resolveDeployOptions([], {});
    const edge = resolveDeployOptions(['--edge-url', 'https://edge.example.net'], {}).edge;
    const env = { AZURE_SUBSCRIPTION_ID: SUBSCRIPTION };
    const azureOptions = resolveDeployOptions(['--target', 'azure'], env);
    const azure = azureOptions.azure!;
    expect(azureOptions.policy).toBe(local.policy);
    checkHelp(DEPLOY_USAGE, {
      '--target': () => local.target,
      '--policy': () => local.policy,
      '--state': () => local.stateFile,
      '--seed': () => String(local.seed),
      '--output-tokens': () => unset(local.mockArgs),
      '--edge-key-env': () => unset(edge?.kind === 'url' ? edge.keyEnv : 'no edge'),
      '--subscription': () => (azure.subscriptionId === SUBSCRIPTION ? UNSET : azure.subscriptionId),
      '--location': () => azure.location,
      '--lab-id': () => unset(azure.labId),
      '--model': () => azure.model,
      '--model-version': () => azure.modelVersion,
      '--model-sku': () => azure.modelSku,
      '--capacity': () => String(azure.capacityK),
      '--apim-sku': () => azure.apimSku,
      '--publisher-email': () => azure.publisherEmail,
      '--local-auth': () => (azure.localAuth ? 'keys' : UNSET),
      '--roles': () => azure.roles,
    });
  });

  it('lab:cleanup', () => {
    const o = resolveCleanupOptions([]);
    checkHelp(CLEANUP_USAGE, { '--state': () => o.stateFile });
  });

  it('lab', () => {
    const o = resolveLabRunOptions([], ['a-lab'], {});
    checkHelp(LAB_RUN_USAGE, {
      '--policy': () => o.policy,
      '--requests': () => String(o.requests),
      '--out': () => unset(o.out),
      '--target': () => o.target,
      '--state': () => o.stateFile,
    });
  });

  it('report, compare and merge', () => {
    checkHelp(REPORT_USAGE, { '--out': () => unset(resolveReportOptions(['run-a']).out) });
    const o = resolveCompareOptions(['run-a', 'run-b']);
    checkHelp(COMPARE_USAGE, {
      '--metrics': () => o.metrics.join(','),
      '--alpha': () => String(o.alpha),
      '--confidence': () => String(o.confidence),
      '--resamples': () => String(o.resamples),
      '--seed': () => String(o.seed),
      '--out': () => unset(o.out),
    });
    expect(COMPARE_USAGE).toContain(`with ${Math.round(o.confidence * 100)}% bootstrap intervals`);
    expect(resolveMergeOptions(['run-a']).help).toBe(false);
    checkHelp(MERGE_USAGE, {});
  });

  it('calibrate', () => {
    const o = resolveCalibrateOptions([]);
    const chain = resolveCalibrateOptions(['--chain']);
    checkHelp(CALIBRATE_USAGE, {
      '--seeds': () => String(o.seeds),
      '--requests': () => String(o.requests),
      '--concurrency': () => String(o.concurrency),
      '--chain': () => String(chain.concurrency),
      '--delay-ms': () => String(o.delayMs),
      '--out': () => unset(o.out),
    });
  });

  it('scale: render k8s, run aca, cleanup aca', () => {
    const runId = (id: string): string => id.replace(/^streamlab-\d{14}$/, 'streamlab-<time>');
    const k8s = resolveRenderK8sOptions(['render', 'k8s', '--shards', '1', '--image', IMAGE], NOW, {});
    checkHelp(RENDER_K8S_USAGE, {
      '--namespace': () => k8s.namespace,
      '--run-id': () => runId(k8s.runId),
      '--start-at': () => `${durationText(k8s.startAt.getTime() - NOW.getTime())} after rendering`,
      '--secret': () => k8s.secret,
      '--key-env': () => k8s.keyEnv.join(','),
      '--storage-class': () => k8s.storageClass,
      '--storage': () => k8s.storage,
      '--out': () => unset(k8s.out),
    });
    const env = { AZURE_SUBSCRIPTION_ID: SUBSCRIPTION, AZURE_OPENAI_API_KEY: 'k', ACA_REGISTRY_PASSWORD: 'p' };
    const aca = resolveRunAcaOptions(['--shards', '1', '--image', IMAGE, '--registry-username', 'u'], env, NOW);
    checkHelp(RUN_ACA_USAGE, {
      '--regions': () => aca.regions.join(','),
      '--subscription': () => (aca.subscriptionId === SUBSCRIPTION ? UNSET : aca.subscriptionId),
      '--key-env': () => aca.keyEnv.join(','),
      '--run-id': () => runId(aca.runId),
      '--start-delay': () => durationText(aca.startDelayMs),
      '--cpu': () => String(aca.cpu),
      '--memory': () => aca.memory,
      '--replica-timeout': () => String(aca.replicaTimeoutS),
      '--out': () => aca.out,
      '--state': () => aca.stateFile,
      '--registry-password-env': () => aca.registry!.passwordEnv,
    });
    checkHelp(CLEANUP_ACA_USAGE, { '--state': () => resolveCleanupAcaOptions([]).stateFile });
    // The whole help is the three parts and words without defaults of their own.
    expect(printedDefaults(SCALE_USAGE)).toHaveLength(
      [RENDER_K8S_USAGE, RUN_ACA_USAGE, CLEANUP_ACA_USAGE].reduce((n, part) => n + printedDefaults(part).length, 0),
    );
  });

  it('the check itself fails on a default edited in the help alone', () => {
    const o = resolveBenchOptions([], {});
    const edited = BENCH_USAGE.replace('(default 20)', '(default 30)');
    expect(edited).not.toBe(BENCH_USAGE);
    expect(() => checkHelp(edited, { '--requests': () => String(o.requests) })).toThrow();
    expect(() =>
      checkHelp('  --warmup N   requests run first, default 1', { '--warmup': () => String(o.warmup) }),
    ).toThrow();
  });
});
