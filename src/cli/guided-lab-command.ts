import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { writeFileAtomic } from '../files.ts';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LabRunOptions } from '../config/lab-options.ts';
import { isLabError } from '../errors.ts';
import { runGuidedLab, type LabDefinition, type LabFinding } from '../lab/guided-lab.ts';
import { readVersion } from './bench-command.ts';
import { withInterrupt } from './interrupt.ts';
import { defaultOutDir, ownStateFile, stepPrinter } from './run-paths.ts';

const LABS_DIR = fileURLToPath(new URL('../../labs/', import.meta.url));

/** The guided labs: folders of labs/ with a lab.ts. */
export function labNames(): string[] {
  if (!existsSync(LABS_DIR)) return [];
  return readdirSync(LABS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(LABS_DIR, d.name, 'lab.ts')))
    .map((d) => d.name)
    .sort();
}

/** `npm run lab -- --list`. */
export async function listLabs(): Promise<string> {
  const lines: string[] = [];
  for (const name of labNames()) lines.push(`  ${name.padEnd(20)} ${(await loadLab(name)).title}`);
  return `Guided labs (npm run lab -- <name> [--target azure] [--out DIR]; each folder's README says what you should see):\n${lines.join('\n')}`;
}

async function loadLab(name: string): Promise<LabDefinition> {
  return ((await import(pathToFileURL(join(LABS_DIR, name, 'lab.ts')).href)) as { default: LabDefinition }).default;
}

/** `npm run lab -- <name>`: runs one guided lab and ends with its finding. */
export async function guidedLabCommand(
  options: LabRunOptions & { name: string },
  env: NodeJS.ProcessEnv,
): Promise<number> {
  const definition = await loadLab(options.name);
  const outDir = options.out ?? defaultOutDir(options.name);
  mkdirSync(outDir, { recursive: true });
  const stateFile = options.target === 'local' ? ownStateFile() : options.stateFile;
  const step = stepPrinter(options.name);
  return withInterrupt('stopping, writing what was measured, cleaning up', async (signal) => {
    step(`${definition.title} (${options.target})`);
    let finding: LabFinding;
    try {
      finding = await runGuidedLab(definition, {
        labDir: join(LABS_DIR, options.name),
        outDir,
        target: options.target,
        stateFile,
        env,
        signal,
        toolVersion: readVersion(),
        step,
        search: options.search,
      });
    } catch (error) {
      // The lab's own processes are already cleaned up (runGuidedLab's finally); what each step measured is on disk.
      if (signal.aborted) {
        process.stderr.write(`Lab "${options.name}" interrupted; what was measured is in ${outDir}/\n`);
        return 130;
      }
      // Bad usage keeps its exit code 2 (main prints it); any other failure is the lab's: say it and where its results are.
      if (isLabError(error) && error.code === 'E_INVALID_OPTION') throw error;
      const message = isLabError(error)
        ? error.message
        : `Failed to run lab "${options.name}": ${(error as Error).message}.`;
      process.stderr.write(`${message} What was measured is in ${outDir}/.\n`);
      return 1;
    }
    writeFileAtomic(
      join(outDir, 'lab.json'),
      `${JSON.stringify({ lab: options.name, target: options.target, ...finding }, null, 2)}\n`,
    );
    writeFileAtomic(
      join(outDir, 'lab.md'),
      `# ${definition.title}\n\n${finding.finding}\n\n| fact | value |\n|---|---|\n${Object.entries(finding.facts)
        .map(([k, v]) => `| ${k} | ${String(v)} |`)
        .join('\n')}\n`,
    );
    process.stdout.write(
      `${finding.finding}\nResults: ${outDir}/ (lab.md, lab.json, and one folder per step with its report.html or compliance files)\n`,
    );
    step('done');
    return signal.aborted ? 130 : 0;
  });
}
