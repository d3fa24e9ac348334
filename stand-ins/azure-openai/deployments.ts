import { readFileSync } from 'node:fs';
import type { ApiKind, TimingMode } from '../../src/protocol/index.ts';
import { InvalidOptionError } from '../../src/errors.ts';

/** Default timing of a model, overridable per request by control headers. */
export interface TimingProfile {
  /** Time to first content token, ms. */
  ttftMs: number;
  /** Mean inter-token latency, ms. */
  itlMs: number;
  /** Standard deviation of the inter-token latency, ms. */
  jitterMs: number;
  mode: TimingMode;
  /** Tokens per released block in burst mode (Azure's default filter releases blocks). */
  burstTokens: number;
  /** Natural answer length in tokens when the request does not cap it. */
  outputTokens: number;
}

export interface ModelProfile {
  /** Deployment name, as in the URL or the v1 `model` field. */
  deployment: string;
  /** Model version string Azure reports in `model` (not the deployment name). */
  model: string;
  /** Which APIs the deployment serves. */
  apis: readonly ApiKind[];
  contextWindowTokens: number;
  /** `true` on newer models, which add `obfuscation`, `service_tier` and `usage: null`. */
  isCurrentShape: boolean;
  timing: TimingProfile;
}

const CHAT_APIS: readonly ApiKind[] = ['chat', 'responses', 'on-your-data'];

/** The deployments every mock has unless a config file replaces them. */
export const DEFAULT_DEPLOYMENTS: readonly ModelProfile[] = [
  {
    deployment: 'gpt-4o-mini',
    model: 'gpt-4o-mini-2024-07-18',
    apis: CHAT_APIS,
    contextWindowTokens: 128_000,
    isCurrentShape: true,
    timing: { ttftMs: 250, itlMs: 20, jitterMs: 4, mode: 'smooth', burstTokens: 16, outputTokens: 64 },
  },
  {
    deployment: 'gpt-4.1-mini',
    model: 'gpt-4.1-mini-2025-04-14',
    apis: CHAT_APIS,
    contextWindowTokens: 1_047_576,
    isCurrentShape: true,
    timing: { ttftMs: 300, itlMs: 15, jitterMs: 3, mode: 'smooth', burstTokens: 16, outputTokens: 64 },
  },
  {
    deployment: 'gpt-35-turbo-instruct',
    model: 'gpt-35-turbo-instruct-0914',
    apis: ['completions'],
    contextWindowTokens: 4_096,
    isCurrentShape: false,
    timing: { ttftMs: 150, itlMs: 12, jitterMs: 2, mode: 'smooth', burstTokens: 16, outputTokens: 48 },
  },
];

/** Ready-to-use deployments keyed by name. */
export type DeploymentTable = ReadonlyMap<string, ModelProfile>;

export function toDeploymentTable(profiles: readonly ModelProfile[]): DeploymentTable {
  return new Map(profiles.map((p) => [p.deployment, p]));
}

/**
 * Reads extra deployments from a JSON file: an array of partial profiles, each with at
 * least `deployment`; missing fields come from `basedOn` (a default deployment's name,
 * `gpt-4o-mini` when absent). Entries with an existing name replace it.
 */
export function loadDeploymentsFile(path: string, base: readonly ModelProfile[] = DEFAULT_DEPLOYMENTS): ModelProfile[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new InvalidOptionError(
      '--deployments',
      `cannot read "${path}" as JSON (${(error as Error).message})`,
      'a JSON array of deployment profiles',
    );
  }
  if (!Array.isArray(parsed)) {
    throw new InvalidOptionError(
      '--deployments',
      `"${path}" does not hold an array`,
      'a JSON array of deployment profiles',
    );
  }
  const table = new Map(base.map((p) => [p.deployment, p]));
  for (const entry of parsed as Array<Record<string, unknown>>) {
    const name = entry['deployment'];
    if (typeof name !== 'string' || name === '') {
      throw new InvalidOptionError(
        '--deployments',
        `an entry in "${path}" has no "deployment" name`,
        'objects with a non-empty "deployment"',
      );
    }
    const basedOnName = typeof entry['basedOn'] === 'string' ? entry['basedOn'] : 'gpt-4o-mini';
    const template = table.get(basedOnName) ?? DEFAULT_DEPLOYMENTS[0]!;
    const timing = { ...template.timing, ...((entry['timing'] as Partial<TimingProfile> | undefined) ?? {}) };
    table.set(name, {
      ...template,
      ...(entry as Partial<ModelProfile>),
      deployment: name,
      timing,
    });
  }
  return [...table.values()];
}
