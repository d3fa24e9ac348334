import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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
 * Why `dir` cannot be made or written into, if it cannot: a path component that is a file, a
 * symbolic link to nothing, or a place where no directory can be made (a read-only or
 * pseudo file system such as /proc). Checked with a probe directory made and removed at once
 * in the nearest existing ancestor, so the answer is the file system's, not a guess.
 */
function unwritableDirReason(dir: string): string | undefined {
  let existing = resolve(dir);
  const below: string[] = [];
  for (;;) {
    let link = false;
    try {
      link = lstatSync(existing).isSymbolicLink();
    } catch {
      // Absent: look one level up.
      const parent = dirname(existing);
      if (parent === existing) return `no part of "${dir}" exists`;
      below.unshift(existing);
      existing = parent;
      continue;
    }
    if (link && !existsSync(existing)) return `"${existing}" is a symbolic link to nothing`;
    if (!statSync(existing).isDirectory())
      return below.length === 0
        ? `"${existing}" exists and is not a directory`
        : `"${existing}" is a file, so "${dir}" cannot be made`;
    break;
  }
  try {
    rmdirSync(mkdtempSync(join(existing, '.streamlab-probe-')));
  } catch (error) {
    return `no directory can be made in "${existing}" (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  return undefined;
}

/**
 * An output directory a command will write into, checked before any work: absent (it will be
 * made) or a directory, in a place where one can be made. Anything else is a usage error
 * (exit 2), not a crash after the work is done.
 */
export function outputDirFlag(flag: string, dir: string): string {
  const reason = unwritableDirReason(dir);
  if (reason !== undefined)
    throw new InvalidOptionError(flag, reason, 'a directory (made if absent) in a writable place');
  return dir;
}

/** An output file a command will write, checked before any work: absent, or a file (replaced whole), in a directory that can be made or written. */
export function outputFileFlag(flag: string, file: string): string {
  if (existsSync(file) && statSync(file).isDirectory())
    throw new InvalidOptionError(flag, `"${file}" is a directory`, 'a file path (replaced whole if it exists)');
  const reason = unwritableDirReason(dirname(file));
  if (reason !== undefined)
    throw new InvalidOptionError(flag, reason, 'a file path in a directory that exists or can be made');
  return file;
}
