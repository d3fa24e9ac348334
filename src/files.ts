import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidOptionError } from './errors.ts';

/**
 * Writes a file whole or not at all: into a temporary name beside it, then renamed into place
 * (a rename within one directory is atomic), so a reader, a crash or a refusal never sees half
 * a file or a mix of old and new. `mode` (e.g. 0o600 for a file that holds keys) is set before
 * the rename.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number } = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`;
  try {
    writeFileSync(temporary, data, options.mode !== undefined ? { mode: options.mode } : {});
    if (options.mode !== undefined) chmodSync(temporary, options.mode);
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/**
 * An output directory a command will write into, checked before any work: absent (it will be
 * made) or a directory. A file of that name is a usage error (exit 2), not a crash after the
 * work is done.
 */
export function outputDirFlag(flag: string, dir: string): string {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new InvalidOptionError(flag, `"${dir}" exists and is not a directory`, 'a directory (made if absent)');
  return dir;
}

/** An output file a command will write, checked before any work: absent, or a file (replaced whole). */
export function outputFileFlag(flag: string, file: string): string {
  if (existsSync(file) && statSync(file).isDirectory()) throw new InvalidOptionError(flag, `"${file}" is a directory`, 'a file path (replaced whole if it exists)');
  if (existsSync(dirname(file)) && !statSync(dirname(file)).isDirectory()) throw new InvalidOptionError(flag, `"${dirname(file)}" is not a directory`, 'a file path in a directory');
  return file;
}
