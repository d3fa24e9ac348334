#!/usr/bin/env node
// The `streamlab` command. The CLI (bench, verify, lab) lands with the benchmark and lab
// issues; until then the only command is `streamlab mock`, which starts the mock.
const [command, ...rest] = process.argv.slice(2);
if (command === 'mock') {
  process.argv = [process.argv[0], process.argv[1], ...rest];
  await import('../mock-server/cli.ts');
} else {
  process.stderr.write(`Unknown command "${command ?? ''}". Allowed: mock\n`);
  process.exitCode = 2;
}
