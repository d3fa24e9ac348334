import type { BenchOptions } from '../config/bench-options.ts';
import { TARGET_DEFAULTS, type TargetFlags } from '../config/target-flags.ts';
import type { Target, TargetAuth } from '../endpoint/types.ts';
import { InvalidOptionError } from '../errors.ts';
import type { LabState } from './state.ts';

/** A path named by URL on the command line (`bench --endpoint`, `lab:verify --gateway/--direct`). */
export interface PathByUrl {
  label: string;
  baseUrl: string;
}

export interface TargetSources {
  flags: TargetFlags;
  /** Paths given by URL. When there are any, the lab state's paths are not used. */
  byUrl: readonly PathByUrl[];
  /** Labels to take from the lab state; empty takes every path it has. */
  pick: readonly string[];
  state: LabState | undefined;
}

/**
 * How a path given by URL authenticates, one rule for every command: the `direct` path of a
 * run that also measures another path is the upstream itself (Entra with `--entra`, else the
 * API key); any other path (a gateway, or a lone endpoint) sends the subscription key when
 * `--subscription-key-env` names one, else the same as direct. A lab state's paths carry
 * their own auth.
 */
export function authForPath(flags: TargetFlags, label: string, pathCount: number): TargetAuth {
  const isUpstream = label === 'direct' && pathCount > 1;
  if (flags.subscriptionKeyEnv !== undefined && !isUpstream)
    return { kind: 'subscription-key', envName: flags.subscriptionKeyEnv };
  if (flags.entra) return { kind: 'entra' };
  return { kind: 'api-key', envName: flags.apiKeyEnv };
}

/**
 * The one target resolver (bench, lab:verify, the guided labs and the lab run): paths from
 * URLs given on the command line, else from the lab state. URL style, deployment and
 * api-version come from the flag when given, else the lab state, else the default. Returns
 * no targets when there is neither a URL nor a state; the caller says what it needed.
 */
export function resolveTargets({ flags, byUrl, pick, state }: TargetSources): Target[] {
  const common = { completionsDeployment: flags.completionsDeployment };
  if (byUrl.length > 0) {
    return byUrl.map(({ label, baseUrl }) => ({
      label,
      baseUrl,
      apiStyle: flags.apiStyle ?? TARGET_DEFAULTS.apiStyle,
      deployment: flags.deployment ?? TARGET_DEFAULTS.deployment,
      apiVersion: flags.apiVersion ?? TARGET_DEFAULTS.apiVersion,
      auth: authForPath(flags, label, byUrl.length),
      ...common,
    }));
  }
  if (state === undefined) return [];
  const available = Object.keys(state.paths);
  return (pick.length > 0 ? pick : available).map((label) => {
    const path = state.paths[label];
    if (!path) throw new InvalidOptionError('--path', `the lab has no path "${label}"`, available.join(', '));
    return {
      label,
      baseUrl: path.baseUrl,
      apiStyle: flags.apiStyle ?? path.apiStyle,
      deployment: flags.deployment ?? state.deployment,
      apiVersion: flags.apiVersion ?? state.apiVersion,
      auth: path.auth,
      ...common,
    };
  });
}

/** The targets a bench run measures: `--endpoint` (one path, `direct` unless `--path` names it), else the lab state's paths (`--path` picks). */
export function benchTargets(options: BenchOptions, state: LabState | undefined): Target[] {
  if (options.endpoint !== undefined && options.paths.length > 1)
    throw new InvalidOptionError(
      '--path',
      'several paths need a lab state, not --endpoint',
      'one label with --endpoint',
    );
  const byUrl =
    options.endpoint !== undefined ? [{ label: options.paths[0] ?? 'direct', baseUrl: options.endpoint }] : [];
  const targets = resolveTargets({ flags: options, byUrl, pick: options.paths, state });
  if (targets.length === 0)
    throw new InvalidOptionError(
      '--endpoint',
      `no endpoint given and no lab state at "${options.stateFile}"`,
      'run npm run lab:deploy first, or pass --endpoint URL',
    );
  return targets;
}
