import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runBench } from '../bench/run-bench.ts';
import type { BenchSummary } from '../bench/summary.ts';
import { createRequester } from '../client/requester.ts';
import type { Timeline } from '../client/timeline.ts';
import { CHECK_IDS, type ComplianceReport } from '../compliance/index.ts';
import { BENCH_DEFAULTS, resolveBenchOptions, type BenchOptions } from '../config/bench-options.ts';
import { resolveTargetFlags } from '../config/target-flags.ts';
import type { LabTarget } from '../config/lab-options.ts';
import { resolveVerifyOptions, type VerifyOptions } from '../config/verify-options.ts';
import { LabError } from '../errors.ts';
import { MOCK_ADMIN_ROUTES, type ApiKind } from '../protocol/index.ts';
import { writeComplianceFiles } from '../report/write-compliance.ts';
import { writeRunReports } from '../report/write-report.ts';
import { azureSearchDataSources } from '../endpoint/build-request.ts';
import type { ChatMessage, SearchSource } from '../endpoint/types.ts';
import type { ArmConnection } from './azure-lab.ts';
import { cleanupLocal, deployLocal, resolvePolicyFile } from './local-lab.ts';
import { labRunInfo, readLabState, withLabSecrets, type LabState } from './state.ts';
import { benchTargets, resolveTargets } from './targets.ts';
import { runVerifyPlans, verifyChain, verifyPlans } from './verify-plan.ts';

/** What a lab ends with: its finding in plain words, and the numbers behind it (lab.json). */
export interface LabFinding {
  finding: string;
  facts: Record<string, number | string | boolean | null>;
}

/** One raw request a lab sends itself (to read its frames), through one path of the lab. */
export interface LabRequest {
  path: string;
  api?: ApiKind;
  stream?: boolean;
  messages: ChatMessage[];
  maxTokens?: number;
  dataSources?: unknown[];
  headers?: Record<string, string>;
  /** A deployment other than the lab's (e.g. the gateway's `responses/<deployment>` bridge). */
  deployment?: string;
}

/** What a lab definition can do; the runner implements it for the local lab (and Azure). */
export interface LabContext {
  target: LabTarget;
  /** The lab's own folder (its policies and prompts). */
  labDir: string;
  outDir: string;
  signal: AbortSignal;
  step(text: string): void;
  /**
   * Local: (re)starts mock + gateway with this policy (a name, or a file in the lab's folder);
   * with `backends` (a file in the lab's folder), one mock per backend the file leaves to the lab;
   * with `edge`, Debian's nginx in front of the gateway (as `lab:deploy --edge`; local only).
   */
  deploy(
    policy: string,
    options?: { backends?: string; loggers?: Readonly<Record<string, string>>; edge?: 'nginx' | 'nginx:buffered' },
  ): Promise<void>;
  /**
   * A setting the lab reads from the environment (e.g. the id of an Event Hubs logger the
   * user made in the Azure lab's APIM); undefined when unset or empty.
   */
  setting(name: string): string | undefined;
  /** Local, with backends: the faults a backend's mock gives every request from now on (`x-mock-fault` syntax; '' clears). */
  setFault(backend: string, spec: string): Promise<void>;
  /** The lab's paths from the model outward (`direct`, `gateway`, then an edge if the lab has one). */
  chain(): string[];
  /** `npm run bench` with these flags against the lab; results in outDir/<name>/. */
  bench(name: string, args: readonly string[]): Promise<BenchSummary>;
  /** `npm run lab:verify` with these flags against the lab; results in outDir/<name>/. */
  verify(name: string, args: readonly string[]): Promise<ComplianceReport>;
  /** One request with its raw frames kept. */
  request(request: LabRequest): Promise<Timeline>;
  /** "On Your Data": the Azure AI Search source (--search-endpoint/--search-index, or AZURE_SEARCH_ENDPOINT/_INDEX; locally the mock plays it). */
  dataSources(): unknown[];
  /** The lab's log lines so far from a process of the local lab (`gateway`: its access log; `mock`, or `mock:<backend>`). */
  logOf(role: string): string;
}

export interface LabDefinition {
  name: string;
  title: string;
  /** Mock timing for the local lab, as `npm run mock` takes it. */
  mockArgs?: readonly string[];
  /** Local gateway overrides, as its CLI takes them. */
  gatewayArgs?: readonly string[];
  /** With a backends file: mock flags per backend the lab plays (e.g. the secondary's slower TTFT). */
  backendMockArgs?: Readonly<Record<string, readonly string[]>>;
  run(lab: LabContext): Promise<LabFinding>;
}

/** Typed identity, so a lab file reads `export default defineLab({ … })`. */
export function defineLab(definition: LabDefinition): LabDefinition {
  return definition;
}

export interface GuidedLabOptions {
  labDir: string;
  outDir: string;
  target: LabTarget;
  stateFile: string;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  toolVersion: string;
  step: (text: string) => void;
  /** The "On Your Data" source (resolved with the lab's options). */
  search: SearchSource;
  /** Azure: how to reach ARM (tests inject a fake). */
  connectAzure?: (subscriptionId: string) => Promise<ArmConnection>;
}

/**
 * Runs one lab definition. Local: the lab deploys its own mock + gateway under its own state
 * file and the runner cleans them up in `finally`. Azure: the lab measures the lab recorded in
 * the state file (deployed with `lab:deploy -- --target azure`); a policy it asks for is put on
 * the API through ARM, and the deployed policy is put back in `finally`.
 */
export async function runGuidedLab(definition: LabDefinition, options: GuidedLabOptions): Promise<LabFinding> {
  let state: LabState | undefined = options.target === 'azure' ? readAzureState(options.stateFile) : undefined;
  const labEnv = (): NodeJS.ProcessEnv => withLabSecrets(state, options.env);
  const requireState = (): LabState => {
    if (!state)
      throw new LabError(
        'E_LAB_RESULT',
        `Failed to run lab "${definition.name}": it measured before deploying. Call lab.deploy(policy) first.`,
      );
    return state;
  };
  let azurePolicyChanged = false;
  let appliedPolicyFile: string | undefined;
  // Loaded only for an Azure lab: the ARM SDKs take about half a second to import.
  const applyPolicy = async (xml: string, signal?: AbortSignal): Promise<void> => {
    const azure = await import('./azure-lab.ts');
    await azure.applyAzurePolicy(
      requireState().azure!,
      xml,
      options.connectAzure ?? azure.defaultArmConnection,
      signal,
    );
  };
  const { search } = options;
  const dirOf = (name: string): string => {
    const dir = join(options.outDir, name);
    mkdirSync(dir, { recursive: true });
    return dir;
  };
  const context: LabContext = {
    target: options.target,
    labDir: options.labDir,
    outDir: options.outDir,
    signal: options.signal,
    step: options.step,
    async deploy(policy, deployOptions = {}) {
      const inLab = join(options.labDir, policy);
      const policyArg = existsSync(inLab) ? resolve(inLab) : policy;
      if (options.target === 'azure') {
        if (deployOptions.edge !== undefined)
          throw new LabError(
            'E_LAB_RESULT',
            `Failed to run lab "${definition.name}" on Azure: the lab starts an nginx edge locally only; on Azure, put your edge in front of APIM and record it with npm run lab:deploy -- --target azure --edge-url URL.`,
          );
        if (deployOptions.backends !== undefined)
          throw new LabError(
            'E_LAB_RESULT',
            `Failed to run lab "${definition.name}" on Azure: its backends are deployed with the Azure lab (npm run lab:deploy -- --target azure --backends labs/${definition.name}/${deployOptions.backends}); this lab measures them locally only.`,
          );
        const record = requireState().azure!;
        const file = resolvePolicyFile(policyArg);
        options.step(
          `policy: ${policy} on ${record.apimService} (API ${record.apiId}); APIM may take a few seconds to use it`,
        );
        // APIM refuses a policy whose logger does not exist: `loggers` maps the file's logger ids to the lab's.
        let xml = readFileSync(file, 'utf8');
        for (const [from, to] of Object.entries(deployOptions.loggers ?? {}))
          xml = xml.replaceAll(`logger-id="${from}"`, `logger-id="${to}"`);
        await applyPolicy(xml, options.signal);
        appliedPolicyFile = file;
        azurePolicyChanged = file !== requireState().policyFile;
        return;
      }
      if (state) await cleanupLocal(options.stateFile);
      const backends =
        deployOptions.backends !== undefined
          ? { file: join(options.labDir, deployOptions.backends), backendMockArgs: definition.backendMockArgs ?? {} }
          : undefined;
      options.step(
        `deploy: ${backends ? `a mock per backend of ${deployOptions.backends}` : 'mock'} + gateway, policy ${policy}`,
      );
      const edge =
        deployOptions.edge !== undefined
          ? { kind: 'nginx' as const, buffered: deployOptions.edge === 'nginx:buffered' }
          : undefined;
      const outcome = await deployLocal(
        {
          stateFile: options.stateFile,
          policy: policyArg,
          seed: BENCH_DEFAULTS.seed,
          mockArgs: definition.mockArgs ?? [],
          gatewayArgs: definition.gatewayArgs ?? [],
          backends,
          edge,
        },
        options.signal,
      );
      state = outcome.state;
    },
    chain: () => verifyChain(requireState()),
    setting(name) {
      const value = options.env[name];
      return value === undefined || value === '' ? undefined : value;
    },
    async bench(name, args) {
      const current = requireState();
      const dir = dirOf(name);
      // The lab's flags are parsed once; where the run goes is the runner's, typed.
      const benchOptions: BenchOptions = {
        ...resolveBenchOptions(args, labEnv()),
        search,
        stateFile: options.stateFile,
        out: dir,
      };
      options.step(`bench ${name}: ${args.join(' ')}`);
      const result = await runBench({
        options: benchOptions,
        targets: benchTargets(benchOptions, current),
        outDir: dir,
        env: labEnv(),
        signal: options.signal,
        toolVersion: options.toolVersion,
        lab: labRunInfo(current),
      });
      await writeRunReports(dir, result.summary);
      return result.summary;
    },
    async verify(name, args) {
      const current = requireState();
      const dir = dirOf(name);
      const parsed = resolveVerifyOptions(args, labEnv(), CHECK_IDS);
      // On Azure the lint reads the policy this lab applied (the state records the deployed one).
      const verifyOptions: VerifyOptions = {
        ...parsed,
        search,
        policy: parsed.policy ?? appliedPolicyFile,
        stateFile: options.stateFile,
        out: dir,
      };
      options.step(`verify ${name}: ${args.join(' ')}`);
      const report = await runVerifyPlans(
        verifyPlans(verifyOptions, current, labEnv()),
        verifyOptions.checks,
        options.signal,
        (line) => options.step(`  ${line}`),
      );
      writeComplianceFiles(dir, report);
      return report;
    },
    async request(request) {
      const current = requireState();
      const flags = {
        ...resolveTargetFlags({}, labEnv()),
        search,
        ...(request.deployment ? { deployment: request.deployment } : {}),
      };
      const [target] = resolveTargets({ flags, byUrl: [], pick: [request.path], state: current });
      const requester = await createRequester(
        {
          api: request.api ?? 'chat',
          stream: request.stream ?? true,
          maxTokens: request.maxTokens,
          target: target!,
          messages: request.messages,
          ...(request.dataSources ? { dataSources: request.dataSources } : {}),
        },
        { keepFrames: true, env: labEnv(), ...(request.headers ? { headers: request.headers } : {}) },
      );
      return requester(process.hrtime.bigint(), options.signal);
    },
    async setFault(backend, spec) {
      const mock = requireState().backends?.started[backend];
      if (!mock)
        throw new LabError(
          'E_LAB_RESULT',
          `Failed to set a fault on backend "${backend}": the lab plays no such backend (${Object.keys(requireState().backends?.started ?? {}).join(', ') || 'deploy with backends first'}).`,
        );
      const response = await fetch(`${mock.url}${MOCK_ADMIN_ROUTES.faults}`, {
        method: 'PUT',
        body: spec,
        signal: options.signal,
      });
      if (!response.ok)
        throw new LabError(
          'E_LAB_RESULT',
          `Failed to set fault "${spec}" on backend "${backend}": ${response.status} ${await response.text()}`,
        );
      options.step(`fault: ${backend} ${spec === '' ? 'cleared' : spec}`);
    },
    dataSources: () => azureSearchDataSources(search),
    logOf(role) {
      const process_ = requireState().processes?.find((p) => p.role === role);
      return process_ && existsSync(process_.logFile) ? readFileSync(process_.logFile, 'utf8') : '';
    },
  };
  try {
    return await definition.run(context);
  } finally {
    if (options.target === 'local' && state) await cleanupLocal(options.stateFile);
    // Leave the Azure lab as lab:deploy made it: its own policy back on the API (even after Ctrl-C, so no signal).
    if (azurePolicyChanged && state?.azure && state.policyFile) {
      options.step(`policy: restoring ${state.policyFile}`);
      await applyPolicy(readFileSync(state.policyFile, 'utf8'));
    }
  }
}

function readAzureState(stateFile: string): LabState {
  const state = readLabState(stateFile);
  if (state?.target !== 'azure') {
    throw new LabError(
      'E_LAB_STATE',
      `Failed to run a lab on Azure with "${stateFile}": it records no Azure lab. Run npm run lab:deploy -- --target azure first (see docs/azure.md).`,
    );
  }
  return state;
}
