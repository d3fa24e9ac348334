import type { BenchOptions } from '../config/bench-options.ts';
import { InvalidOptionError } from '../errors.ts';
import type { Target, TargetAuth } from '../target/types.ts';
import type { LabState } from './state.ts';

function authFromFlags(options: BenchOptions): TargetAuth {
  if (options.entra) return { kind: 'entra' };
  if (options.subscriptionKeyEnv !== undefined) return { kind: 'subscription-key', envName: options.subscriptionKeyEnv };
  return { kind: 'api-key', envName: options.apiKeyEnv };
}

/**
 * The targets a bench run measures: from `--endpoint` (one path, `direct` unless `--path`
 * names it), or from the lab state's paths (all of them unless `--path` picks some).
 */
export function resolveTargets(options: BenchOptions, state: LabState | undefined): Target[] {
  if (options.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw new InvalidOptionError('--endpoint', `"${options.endpoint}" is not a URL`, 'an http(s) URL such as https://my-resource.openai.azure.com');
    }
    if (options.paths.length > 1) throw new InvalidOptionError('--path', 'several paths need a lab state, not --endpoint', 'one label with --endpoint');
    return [{ label: options.paths[0] ?? 'direct', baseUrl: url.origin + url.pathname.replace(/\/+$/, ''), apiStyle: options.apiStyle, deployment: options.deployment, apiVersion: options.apiVersion, auth: authFromFlags(options) }];
  }
  if (state === undefined) {
    throw new InvalidOptionError('--endpoint', `no endpoint given and no lab state at "${options.stateFile}"`, 'run npm run lab:deploy first, or pass --endpoint URL');
  }
  const available = Object.keys(state.paths);
  const chosen = options.paths.length > 0 ? options.paths : available;
  return chosen.map((label) => {
    const path = state.paths[label];
    if (!path) throw new InvalidOptionError('--path', `the lab has no path "${label}"`, available.join(', '));
    const { overrides } = options;
    return { label, baseUrl: path.baseUrl, apiStyle: overrides.apiStyle ?? path.apiStyle, deployment: overrides.deployment ?? state.deployment, apiVersion: overrides.apiVersion ?? state.apiVersion, auth: path.auth };
  });
}
