import { resolveCleanupOptions, resolveDeployOptions } from '../config/lab-options.ts';
import { InvalidOptionError } from '../errors.ts';
import { BENCH_DEFAULTS } from '../config/bench-options.ts';
import { cleanupLocal, deployLocal, LAB_POLICIES, LOCAL_KEY_ENV } from '../lab/local-lab.ts';
import type { LabState } from '../lab/state.ts';
import { withInterrupt } from './interrupt.ts';

export const DEPLOY_USAGE = `Usage: npm run lab:deploy -- [options]

Starts the lab and records it in the state file that bench, lab:verify and lab:cleanup read.
  --target local              local: the Azure OpenAI mock and the APIM-like gateway as
                              background processes on free loopback ports (the default)
  --policy streaming|buffered|FILE   gateway policy: infra/policies/<name>.xml or your own
                              APIM policy XML (default streaming)
  --state FILE                state file (default .lab/state.json; written with mode 0600)
  --seed N                    the mock's run seed (default 1)
  --ttft-ms MS --itl-ms MS --output-tokens N   the mock's timing (default: per model)

Running it again while the lab is up says so and changes nothing. The Azure target
(--target azure) is not implemented yet.`;

export const CLEANUP_USAGE = `Usage: npm run lab:cleanup -- [options]

Stops exactly the processes the lab recorded (checking each is still the one it started),
removes the state file and the lab's logs. A second run does nothing.
  --state FILE                state file (default .lab/state.json)`;

/** Where everything is, for people (stdout). Keys are named, never printed. */
export function describeLab(state: LabState, stateFile: string): string {
  const processes = new Map((state.processes ?? []).map((p) => [p.role, p]));
  const line = (label: string, role: string, what: string): string => {
    const url = state.paths[label]?.baseUrl ?? '–';
    const p = processes.get(role);
    return `  ${label.padEnd(8)} ${url.padEnd(24)} ${what}${p ? ` (pid ${p.pid}, log ${p.logFile})` : ''}`;
  };
  return [
    `local lab up since ${state.createdAt ?? '?'}, policy ${state.policyFile ?? '?'}`,
    line('direct', 'mock', `Azure OpenAI mock; key: ${LOCAL_KEY_ENV.direct}`),
    line('gateway', 'gateway', `APIM stand-in; subscription key: ${LOCAL_KEY_ENV.gateway}`),
    `  state    ${stateFile} (mode 0600; holds the keys)`,
    `next: npm run bench | npm run lab:verify | npm run lab:cleanup`,
  ].join('\n');
}

/** `streamlab deploy`: 0 deployed or already up, 2 bad usage, 1 failed to start, 130 interrupted. */
export async function deployCommand(argv: readonly string[]): Promise<number> {
  const options = resolveDeployOptions(argv);
  if (options.help) {
    process.stdout.write(`${DEPLOY_USAGE}\n`);
    return 0;
  }
  if (options.target === 'azure') throw new InvalidOptionError('--target', 'the Azure target (ARM SDK provisioning) is not implemented yet', `local (policies: ${LAB_POLICIES.join(', ')} or a file)`);
  return withInterrupt('stopping what was started', async (signal) => {
    const outcome = await deployLocal({ stateFile: options.stateFile, policy: options.policy, deployment: BENCH_DEFAULTS.deployment, apiVersion: BENCH_DEFAULTS.apiVersion, seed: options.seed, mockArgs: options.mockArgs }, signal);
    if (outcome.kind === 'already-up') {
      process.stdout.write(`A lab is already up; nothing changed (to change its policy: npm run lab:cleanup, then lab:deploy).\n${describeLab(outcome.state, options.stateFile)}\n`);
      return 0;
    }
    if (outcome.staleNote) process.stderr.write(`${outcome.staleNote}\n`);
    if (outcome.ignored.length > 0) process.stderr.write(`gateway: not implemented locally, ignored: ${outcome.ignored.join('; ')}\n`);
    process.stdout.write(`${describeLab(outcome.state, options.stateFile)}\n`);
    return 0;
  });
}

/** `streamlab cleanup`: 0 cleaned or nothing to do. */
export async function cleanupCommand(argv: readonly string[]): Promise<number> {
  const options = resolveCleanupOptions(argv);
  if (options.help) {
    process.stdout.write(`${CLEANUP_USAGE}\n`);
    return 0;
  }
  const outcome = await cleanupLocal(options.stateFile);
  if (outcome.kind === 'nothing') {
    process.stdout.write(`Nothing to clean up: no lab state at ${options.stateFile}.\n`);
    return 0;
  }
  for (const note of outcome.notOurs) process.stderr.write(`not signalled: ${note}\n`);
  process.stdout.write(`Cleaned up: ${outcome.stopped.length > 0 ? `stopped ${outcome.stopped.join(', ')}` : 'no process was running'}; removed ${options.stateFile}.\n`);
  return 0;
}
