import { isLabError } from '../../src/errors.ts';
import { MOCK_USAGE, parseMockArgs, type MockCliOptions } from './cli-options.ts';
import { DEFAULT_DEPLOYMENTS, loadDeploymentsFile, toDeploymentTable } from './deployments.ts';
import { createMockServer } from './server.ts';
import { closeOnSignal } from '../until-signal.ts';

/**
 * `npm run mock -- --port 0 --host 127.0.0.1`: prints one JSON line with the URL on stdout,
 * logs nothing else there, and closes cleanly on SIGINT/SIGTERM.
 */
async function main(argv: readonly string[]): Promise<void> {
  let options: MockCliOptions;
  try {
    options = parseMockArgs(argv);
  } catch (error) {
    if (isLabError(error)) {
      process.stderr.write(`${error.message}\n\n${MOCK_USAGE}\n`);
      process.exitCode = 2;
      return;
    }
    throw error;
  }
  if (options.help) {
    process.stdout.write(`${MOCK_USAGE}\n`);
    return;
  }
  let profiles = DEFAULT_DEPLOYMENTS;
  try {
    if (options.deploymentsFile !== undefined) profiles = loadDeploymentsFile(options.deploymentsFile);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  let mock;
  try {
    mock = await createMockServer({
      host: options.host,
      port: options.port,
      seed: options.seed,
      region: options.region,
      maxBodyBytes: options.maxBodyBytes,
      timing: options.timing,
      faults: options.faults,
      deployments: toDeploymentTable(profiles),
      apiKey: process.env['MOCK_API_KEY'] || undefined,
    });
  } catch (error) {
    // A port in use, an address this host does not have, a port it may not bind: said plainly.
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? `port ${options.port} on ${options.host} is already in use`
        : code === 'EADDRNOTAVAIL'
          ? `${options.host} is not an address of this host`
          : code === 'EACCES'
            ? `port ${options.port} needs privileges`
            : undefined;
    if (why === undefined) throw error;
    process.stderr.write(
      `Failed to start the mock: ${why} (${code}). Pick another with --port (0 for any free port) or --host.\n`,
    );
    process.exitCode = 1;
    return;
  }
  process.stdout.write(
    `${JSON.stringify({
      event: 'listening',
      url: mock.url,
      pid: process.pid,
      deployments: profiles.map((p) => p.deployment),
      keyRequired: mock.context.config.apiKey !== undefined,
    })}\n`,
  );
  closeOnSignal('mock', () => mock.close());
}

await main(process.argv.slice(2));
