/**
 * The flag-parsing kit every CLI of the project uses (streamlab, the mock, the gateway):
 * strict node:util parseArgs and value readers whose errors name the flag and what is
 * allowed, worded as InvalidOptionError words them. Imports only errors.ts and the policy
 * parser of src/protocol, so the mock and the gateway can use it too.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { InvalidOptionError } from './errors.ts';
import { parsePolicyXml, PolicyXmlError, type PolicyElement } from './protocol/policy-xml.ts';

/**
 * A `--policy` file's XML, parsed (the parser is in src/protocol: the gateway and the lint read
 * the same XML); a document that is not APIM policy XML is a usage error naming the file. The
 * one place a PolicyXmlError becomes an option error.
 */
export function policyFlag(xml: string, file: string): PolicyElement[] {
  try {
    return parsePolicyXml(xml, file);
  } catch (error) {
    if (error instanceof PolicyXmlError)
      throw new InvalidOptionError('--policy', error.message, 'an APIM policy document (<policies>…</policies>)');
    throw error;
  }
}

export type FlagValues = Record<string, string | boolean | undefined>;

/** Strict node:util parseArgs; an unknown or malformed flag becomes an InvalidOptionError naming it. */
export function parseFlags(argv: readonly string[], options: ParseArgsOptionsConfig, help: string): FlagValues {
  return parseCommandLine(argv, options, help, false).values;
}

/** As {@link parseFlags}, for commands that also take positional arguments (directories, lab names). */
export function parseCommandLine(
  argv: readonly string[],
  options: ParseArgsOptionsConfig,
  help: string,
  allowPositionals = true,
): { values: FlagValues; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options, strict: true, allowPositionals });
    return { values: parsed.values as FlagValues, positionals: parsed.positionals };
  } catch (error) {
    const flag = /'([^']+)'/.exec((error as Error).message)?.[1] ?? 'arguments';
    const known = Object.keys(options)
      .map((name) => `--${name}`)
      .join(', ');
    throw new InvalidOptionError(flag, (error as Error).message.replace(/\.$/, ''), `${known} (${help} explains each)`);
  }
}

/** Parses `30s`, `2m`, `1500ms` or a bare number of seconds into ms. */
export function parseDurationMs(flag: string, raw: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!match)
    throw new InvalidOptionError(flag, `"${raw}" is not a duration`, 'a number with ms, s or m (e.g. 30s, 1500ms, 2m)');
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  const ms = unit === 'ms' ? value : unit === 'm' ? value * 60_000 : value * 1000;
  if (ms <= 0) throw new InvalidOptionError(flag, `"${raw}" is not positive`, 'a positive duration');
  return ms;
}

/** An optional duration flag: undefined when absent. */
export function durationMs(flag: string, raw: string | undefined): number | undefined {
  return raw === undefined ? undefined : parseDurationMs(flag, raw);
}

/** A number flag in [min, max] (an integer unless `integer: false`); undefined when absent. */
export function positiveNumber(
  flag: string,
  raw: string | undefined,
  { integer = true, min = 1, max = 1e9 } = {},
): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (
    raw.trim() === '' ||
    !Number.isFinite(value) ||
    (integer && !Number.isInteger(value)) ||
    value < min ||
    value > max
  ) {
    throw new InvalidOptionError(
      flag,
      `"${raw}" is out of range`,
      `${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
    );
  }
  return value;
}

export function oneOf<T extends string>(flag: string, raw: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(raw))
    throw new InvalidOptionError(flag, `"${raw}" is not allowed`, allowed.join(', '));
  return raw as T;
}

export function listOf<T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length === 0) throw new InvalidOptionError(flag, 'the list is empty', allowed.join(', '));
  return [...new Set(items.map((item) => oneOf(flag, item, allowed)))];
}

/**
 * The one URL rule for every flag that names a server (`--endpoint`, `--gateway`, `--backend`…):
 * http or https only, returned as origin + path without a trailing slash (query and hash dropped).
 */
export function httpUrl(
  flag: string,
  raw: string | undefined,
  example = 'https://my-resource.openai.azure.com',
): string | undefined {
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new InvalidOptionError(flag, `"${raw}" is not a URL`, `an http(s) URL such as ${example}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new InvalidOptionError(flag, `"${raw}" is not an http(s) URL`, `an http(s) URL such as ${example}`);
  return parsed.origin + parsed.pathname.replace(/\/+$/, '');
}

/** A flag that must be given. */
export function required(flag: string, raw: string | undefined, what: string): string {
  if (raw === undefined || raw === '') throw new InvalidOptionError(flag, 'it is required', what);
  return raw;
}
