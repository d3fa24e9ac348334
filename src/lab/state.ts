import { readFileSync } from 'node:fs';
import { LabError } from '../errors.ts';
import { API_STYLES, type ApiStyle, type TargetAuth } from '../target/types.ts';

/**
 * `.lab/state.json`, schema version 1: what a deployed lab exposes to the bench and the
 * verifier. Written by `npm run lab:deploy`; read here. Other fields (resource ids, process
 * ids) may be present and are ignored by readers that do not need them.
 *
 *     { "schemaVersion": 1, "target": "local" | "azure",
 *       "deployment": "gpt-4o-mini", "apiVersion": "2024-10-21",
 *       "paths": { "direct":  { "baseUrl": "…", "apiStyle": "azure", "auth": { "kind": "api-key", "envName": "…" } },
 *                  "gateway": { "baseUrl": "…", "apiStyle": "azure", "auth": { "kind": "subscription-key", "envName": "…" } } } }
 *
 * Keys are never in this file's paths: auth names the environment variable that holds them.
 */
export interface LabPath {
  baseUrl: string;
  apiStyle: ApiStyle;
  auth: TargetAuth;
}

export interface LabState {
  schemaVersion: 1;
  target: 'local' | 'azure';
  deployment: string;
  apiVersion: string;
  paths: Record<string, LabPath>;
}

/** Reads the lab state, or undefined when there is none. A malformed file is an error. */
export function readLabState(path: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new LabError('E_LAB_STATE', `Failed to read lab state "${path}": ${(error as Error).message}.`);
  }
  let value: Partial<LabState>;
  try {
    value = JSON.parse(text) as Partial<LabState>;
  } catch {
    throw new LabError('E_LAB_STATE', `Failed to read lab state "${path}": not JSON. Run npm run lab:cleanup, then npm run lab:deploy.`);
  }
  const problem = validate(value);
  if (problem) throw new LabError('E_LAB_STATE', `Failed to read lab state "${path}": ${problem}. Run npm run lab:cleanup, then npm run lab:deploy.`);
  return value as LabState;
}

function validate(value: Partial<LabState>): string | undefined {
  if (value.schemaVersion !== 1) return `schemaVersion is ${String(value.schemaVersion)}, expected 1`;
  if (typeof value.deployment !== 'string' || typeof value.apiVersion !== 'string') return 'deployment or apiVersion missing';
  if (value.paths === null || typeof value.paths !== 'object' || Object.keys(value.paths).length === 0) return 'no paths';
  for (const [name, path] of Object.entries(value.paths)) {
    if (typeof path?.baseUrl !== 'string' || !API_STYLES.includes(path.apiStyle) || typeof path.auth?.kind !== 'string') return `path "${name}" is incomplete`;
  }
  return undefined;
}
