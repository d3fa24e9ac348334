import { isLabError } from '../errors.ts';
import { BENCH_USAGE, benchCommand } from './bench-command.ts';
import { verifyCommand } from './verify-command.ts';

const USAGE = `Usage: streamlab <command> [options]

Commands:
  bench   benchmark streaming: TTFT vs full completion, streaming vs not, gateway vs direct
  verify  SSE gateway compliance: probes through the gateway, static policy lint
  mock    start the local Azure OpenAI mock

Run a command with --help for its options.`;

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
        process.stderr.write(`Unknown command "${command}". Allowed: bench, verify, mock\n\n${USAGE}\n`);
        process.exitCode = 2;
    }
  } catch (error) {
    if (isLabError(error)) {
      process.stderr.write(`${error.message}\n${error.code === 'E_INVALID_OPTION' && command === 'bench' ? `\n${BENCH_USAGE}\n` : ''}${error.code === 'E_INVALID_OPTION' && command === 'verify' ? `\nRun npm run lab:verify -- --help for the options.\n` : ''}`);
      process.exitCode = error.code === 'E_INVALID_OPTION' ? 2 : 1;
      return;
    }
    throw error;
  }
}

await main(process.argv.slice(2));
