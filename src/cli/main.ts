import { isLabError } from '../errors.ts';
import { BENCH_USAGE, benchCommand } from './bench-command.ts';
import { calibrateCommand } from './calibrate-command.ts';
import { distCommand } from './dist-command.ts';
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
  dist    render a sharded bench for an engine: dist render k8s (an Indexed Job)
  verify  SSE gateway compliance: probes through the gateway, static policy lint
  mock    start the local Azure OpenAI mock

Run a command with --help for its options.`;

const SCRIPT_OF: Record<string, string> = { deploy: 'lab:deploy', cleanup: 'lab:cleanup', lab: 'lab', verify: 'lab:verify', report: 'report', compare: 'compare', calibrate: 'calibrate', merge: 'merge', dist: 'dist' };

function usageHint(command: string | undefined): string {
  if (command === 'bench') return `\n${BENCH_USAGE}\n`;
  const script = command !== undefined ? SCRIPT_OF[command] : undefined;
  return script ? `\nRun npm run ${script} -- --help for the options.\n` : '';
}

/** Thin dispatch: parse, run, set process.exitCode (never process.exit). */
async function main(argv: readonly string[]): Promise<void> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'bench':
        process.exitCode = await benchCommand(rest, process.env);
        return;
      case 'verify':
        process.exitCode = await verifyCommand(rest, process.env);
        return;
      case 'deploy':
        process.exitCode = await deployCommand(rest, process.env);
        return;
      case 'cleanup':
        process.exitCode = await cleanupCommand(rest);
        return;
      case 'report':
        process.exitCode = await reportCommand(rest);
        return;
      case 'compare':
        process.exitCode = await compareCommand(rest);
        return;
      case 'dist':
        process.exitCode = await distCommand(rest);
        return;
      case 'merge':
        process.exitCode = await mergeCommand(rest);
        return;
      case 'calibrate':
        process.exitCode = await calibrateCommand(rest);
        return;
      case 'lab':
        process.exitCode = await labRunCommand(rest, process.env);
        return;
      case 'mock':
        process.argv = [process.argv[0]!, process.argv[1]!, ...rest];
        await import('../../mock-server/cli.ts');
        return;
      case undefined:
      case '--help':
      case 'help':
        process.stdout.write(`${USAGE}\n`);
        return;
      default:
        process.stderr.write(`Unknown command "${command}". Allowed: deploy, cleanup, lab, bench, verify, report, compare, calibrate, merge, dist, mock\n\n${USAGE}\n`);
        process.exitCode = 2;
    }
  } catch (error) {
    if (isLabError(error)) {
      process.stderr.write(`${error.message}\n${error.code === 'E_INVALID_OPTION' ? usageHint(command) : ''}`);
      process.exitCode = error.code === 'E_INVALID_OPTION' ? 2 : 1;
      return;
    }
    throw error;
  }
}

await main(process.argv.slice(2));
