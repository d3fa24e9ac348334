import { readFileSync } from 'node:fs';
import { InvalidOptionError } from '../../errors.ts';
import type { DiagnosticSetting } from '../types.ts';

/**
 * Reads APIM diagnostics as ARM returns them (`az apim api diagnostic list`, or GET
 * `…/service/{name}/diagnostics`): one resource, an array of them, or `{ "value": [...] }`.
 */
export function parseDiagnostics(path: string): DiagnosticSetting[] {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InvalidOptionError(
      '--diagnostics',
      `cannot read "${path}" as JSON (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      'a JSON file of APIM diagnostics',
    );
  }
  return diagnosticsFromJson(value, path);
}

/**
 * Diagnostics as ARM returns them: a list (`{ value: [...] }` or an array) or one resource,
 * each either wire-shaped (`properties.frontend…`) or flattened by the SDK (`frontend…`).
 */
export function diagnosticsFromJson(value: unknown, path: string): DiagnosticSetting[] {
  const list = Array.isArray(value)
    ? value
    : Array.isArray((value as { value?: unknown })?.value)
      ? (value as { value: unknown[] }).value
      : [value];
  return list.map((item, i) => {
    const resource = item as { name?: string; properties?: Record<string, unknown> } & Record<string, unknown>;
    if (resource === null || typeof resource !== 'object')
      throw new InvalidOptionError(
        '--diagnostics',
        `entry ${i} of "${path}" is not an object`,
        'APIM diagnostic resources',
      );
    const properties = (resource.properties ?? resource) as Omit<DiagnosticSetting, 'name'>;
    return { name: resource.name ?? `#${i}`, ...pick(properties) };
  });
}

function pick(p: Omit<DiagnosticSetting, 'name'>): Omit<DiagnosticSetting, 'name'> {
  const out: Omit<DiagnosticSetting, 'name'> = {};
  if (p.loggerId !== undefined) out.loggerId = p.loggerId;
  if (p.frontend !== undefined) out.frontend = p.frontend;
  if (p.backend !== undefined) out.backend = p.backend;
  return out;
}
