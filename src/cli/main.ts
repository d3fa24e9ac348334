import { isLabError } from '../errors.ts';
import { BENCH_USAGE, benchCommand } from './bench-command.ts';
import { calibrateCommand } from './calibrate-command.ts';
import { DIST_DEPRECATION, scaleCommand } from './scale-command.ts';
import { mergeCommand } from './shard-commands.ts';
import { cleanupCommand, deployCommand } from './lab-commands.ts';
import { labRunCommand } from './lab-run-command.ts';
import { compareCommand, reportCommand } from './report-commands.ts';
import { verifyCommand } from './verify-command.ts';

const USAGE = `Usage: streamlab <command> [options]

Commands:
  deploy  start the lab (local: mock + gateway) and record it in .lab/state.json
  cleanup stop what the lab recorded and remove its state
  lab     deploy, bench, verify, report and clean up, in one go
  bench   benchmark streaming: TTFT vs full completion, streaming vs not, gateway vs direct
  report  write report.html for a bench run directory
  compare compare two bench runs: percentile changes, intervals, significance
  calibrate  how finely this machine resolves a gateway's overhead (A/A and a known delay)
  merge   merge the shards of a run (bench --shard i/N) into one exact summary and report
  scale   a sharded bench on other engines: scale render k8s (an Indexed Job), scale run aca (Container Apps jobs, end to end), scale cleanup aca
          (dist: its old name, still accepted in this release, with a notice)
  verify  SSE gateway compliance: probes through the gateway, static policy lint
  mock    start the local Azure OpenAI mock

Run a command with --help for its options.`;

const SCRIPT_OF: Record<string, string> = {
  deploy: 'lab:deploy',
  cleanup: 'lab:cleanup',
  lab: 'lab',
  verify: 'lab:verify',
  report: 'report',
  compare: 'compare',
  calibrate: 'calibrate',
  merge: 'merge',
  scale: 'scale',
  dist: 'scale',
};

function usageHint(command: string | undefined): string {
  if (command === 'bench') return `\n${BENCH_USAGE}\n`;
  const script = command !== undefined ? SCRIPT_OF[command] : undefined;
  return script ? `\nRun npm run ${script} -- --help for the options.\n` : '';
}

/** Each command: argv after its name, the environment -> exit code. */
const COMMANDS: Record<string, (argv: readonly string[], env: NodeJS.ProcessEnv) => Promise<number>> = {
  deploy: deployCommand,
  cleanup: (argv) => cleanupCommand(argv),
  lab: labRunCommand,
  bench: benchCommand,
  verify: (argv, env) => verifyCommand(argv, env),
  report: (argv) => reportCommand(argv),
  compare: (argv) => compareCommand(argv),
  calibrate: (argv) => calibrateCommand(argv),
  merge: (argv) => mergeCommand(argv),
  scale: (argv) => scaleCommand(argv),
  // The old name, for one release: a one-line notice on stderr, then the same command.
  dist: (argv) => {
    process.stderr.write(`${DIST_DEPRECATION}\n`);
    return scaleCommand(argv);
  },
  mock: async (argv) => {
    process.argv = [process.argv[0]!, process.argv[1]!, ...argv];
    await import('../../stand-ins/azure-openai/cli.ts');
    return (process.exitCode as number | undefined) ?? 0;
  },
};

/** Thin dispatch: parse, run, set process.exitCode (never process.exit). */
async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const run = COMMANDS[command];
  if (!run) {
    process.stderr.write(`Unknown command "${command}". Allowed: ${Object.keys(COMMANDS).join(', ')}\n\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  try {
    process.exitCode = await run(rest, process.env);
  } catch (error) {
    if (isLabError(error)) {
      process.stderr.write(`${error.message}\n${error.code === 'E_INVALID_OPTION' ? usageHint(command) : ''}`);
      process.exitCode = error.code === 'E_INVALID_OPTION' ? 2 : error.code === 'E_INTERRUPTED' ? 130 : 1;
      return;
    }
    throw error;
  }
}

await main(process.argv.slice(2));
