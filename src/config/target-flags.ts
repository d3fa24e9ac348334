import { httpUrl, oneOf, type FlagValues } from '../flags.ts';
import { API_STYLES, type ApiStyle, type SearchSource } from '../endpoint/types.ts';

/** The defaults behind every target flag (and the local lab's own deployment and api-version). */
export const TARGET_DEFAULTS = {
  apiStyle: 'azure' as ApiStyle,
  deployment: 'gpt-4o-mini',
  completionsDeployment: 'gpt-35-turbo-instruct',
  apiVersion: '2024-10-21',
  apiKeyEnv: 'AZURE_OPENAI_API_KEY',
  stateFile: '.lab/state.json',
  searchEndpoint: 'https://example.search.windows.net',
  searchIndex: 'docs',
};

/**
 * Where requests go and how they authenticate: the flags bench, lab:verify and the labs share.
 * `apiStyle`, `deployment` and `apiVersion` stay undefined when not given, so the one target
 * resolver (src/lab/targets.ts) can apply "flag, else lab state, else default".
 */
export interface TargetFlags {
  apiStyle: ApiStyle | undefined;
  deployment: string | undefined;
  apiVersion: string | undefined;
  completionsDeployment: string;
  apiKeyEnv: string;
  subscriptionKeyEnv: string | undefined;
  entra: boolean;
  stateFile: string;
  search: SearchSource;
}

export const TARGET_FLAG_OPTIONS = {
  'api-style': { type: 'string' },
  deployment: { type: 'string' },
  'completions-deployment': { type: 'string' },
  'api-version': { type: 'string' },
  'api-key-env': { type: 'string' },
  'subscription-key-env': { type: 'string' },
  entra: { type: 'boolean' },
  state: { type: 'string' },
  'search-endpoint': { type: 'string' },
  'search-index': { type: 'string' },
} as const;

/** The On Your Data source: flags, else AZURE_SEARCH_ENDPOINT / AZURE_SEARCH_INDEX, else the mock's placeholder. */
export function resolveSearchSource(
  endpoint: string | undefined,
  index: string | undefined,
  env: NodeJS.ProcessEnv,
): SearchSource {
  return {
    endpoint:
      httpUrl('--search-endpoint', endpoint ?? env['AZURE_SEARCH_ENDPOINT'], 'https://my-search.search.windows.net') ??
      TARGET_DEFAULTS.searchEndpoint,
    index: index ?? env['AZURE_SEARCH_INDEX'] ?? TARGET_DEFAULTS.searchIndex,
  };
}

/** Resolves the shared target flags (search from the environment when not given). */
export function resolveTargetFlags(values: FlagValues, env: NodeJS.ProcessEnv): TargetFlags {
  const str = (name: string): string | undefined => values[name] as string | undefined;
  const apiStyle = str('api-style');
  return {
    apiStyle: apiStyle !== undefined ? oneOf('--api-style', apiStyle, API_STYLES) : undefined,
    deployment: str('deployment'),
    apiVersion: str('api-version'),
    completionsDeployment: str('completions-deployment') ?? TARGET_DEFAULTS.completionsDeployment,
    apiKeyEnv: str('api-key-env') ?? TARGET_DEFAULTS.apiKeyEnv,
    subscriptionKeyEnv: str('subscription-key-env'),
    entra: values['entra'] === true,
    stateFile: str('state') ?? TARGET_DEFAULTS.stateFile,
    search: resolveSearchSource(str('search-endpoint'), str('search-index'), env),
  };
}
