import { InvalidOptionError } from '../errors.ts';
import type { TargetAuth } from './types.ts';

/** Scope of Azure OpenAI data-plane tokens. */
export const COGNITIVE_SERVICES_SCOPE = 'https://cognitiveservices.azure.com/.default';

export type TokenProvider = () => Promise<string>;

/**
 * A request's auth headers: known at once for a key (the harness then starts the request in
 * the same tick, with no promise of its own), or once a token is ready.
 */
export type AuthHeaders = () => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>;

function fixed(headers: Record<string, string>): AuthHeaders {
  const frozen = Object.freeze(headers);
  return () => frozen;
}

/**
 * Resolves a target's auth into a header factory. Keys come from the environment (never
 * from argv) and are read once here; Entra tokens come from DefaultAzureCredential and
 * are cached until shortly before they expire.
 */
export async function createAuthHeaders(auth: TargetAuth, env: NodeJS.ProcessEnv = process.env): Promise<AuthHeaders> {
  switch (auth.kind) {
    case 'none':
      return fixed({});
    case 'api-key':
      return fixed({ 'api-key': readKey(auth.envName, env, '--api-key-env') });
    case 'subscription-key':
      return fixed({ [auth.header ?? 'api-key']: readKey(auth.envName, env, '--subscription-key-env') });
    case 'entra': {
      const token = await createEntraTokenProvider(auth.scope ?? COGNITIVE_SERVICES_SCOPE);
      return async () => ({ authorization: `Bearer ${await token()}` });
    }
  }
}

/**
 * Checks, before any output is opened, that every key a run's targets need is set (a run that
 * would fail on its first request must not first replace an earlier run's files).
 */
export function checkAuth(auth: TargetAuth, env: NodeJS.ProcessEnv = process.env): void {
  if (auth.kind === 'api-key') readKey(auth.envName, env, '--api-key-env');
  if (auth.kind === 'subscription-key') readKey(auth.envName, env, '--subscription-key-env');
}

function readKey(envName: string, env: NodeJS.ProcessEnv, flag: string): string {
  const key = env[envName];
  if (key === undefined || key === '') {
    throw new InvalidOptionError(
      flag,
      `environment variable ${envName} is not set or empty`,
      `the name of a set environment variable holding the key (keys are never taken from arguments)`,
    );
  }
  return key;
}

async function createEntraTokenProvider(scope: string): Promise<TokenProvider> {
  const { DefaultAzureCredential } = await import('@azure/identity');
  const credential = new DefaultAzureCredential();
  let cached: { token: string; expiresOnTimestamp: number } | undefined;
  return async () => {
    if (cached === undefined || cached.expiresOnTimestamp - Date.now() < 120_000) {
      const token = await credential.getToken(scope);
      cached = { token: token.token, expiresOnTimestamp: token.expiresOnTimestamp };
    }
    return cached.token;
  };
}
