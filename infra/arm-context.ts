import type { TokenCredential } from '@azure/identity';
import { ApiManagementClient } from '@azure/arm-apimanagement';
import { ContainerAppsAPIClient } from '@azure/arm-appcontainers';
import { StorageManagementClient } from '@azure/arm-storage';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { CognitiveServicesManagementClient } from '@azure/arm-cognitiveservices';
import { ResourceManagementClient } from '@azure/arm-resources';

/**
 * How infra reaches Azure Resource Manager. Only the CLI builds the real credential
 * (DefaultAzureCredential); tests pass a fake one and a fake ARM.
 */
export interface ArmConnection {
  credential: TokenCredential;
  subscriptionId: string;
  /** Passed to every client (tests: `{ retryOptions: { maxRetries: 0 } }`). */
  clientOptions?: { retryOptions?: { maxRetries?: number }; endpoint?: string };
  /** Long-running operation poll interval; undefined = the SDK's 2 s (tests: 0). */
  pollIntervalMs?: number;
}

export interface ArmClients {
  resources: ResourceManagementClient;
  openai: CognitiveServicesManagementClient;
  apim: ApiManagementClient;
  authorization: AuthorizationManagementClient;
  /** Container Apps (environments, jobs, executions) and storage (the shards' file shares): `scale run aca`. */
  apps: ContainerAppsAPIClient;
  storage: StorageManagementClient;
  /** Options for every `begin*` call: the poll interval and the run's abort signal. */
  lro: { updateIntervalInMs?: number; abortSignal?: AbortSignal };
  signal: AbortSignal | undefined;
}

export function createArmClients(connection: ArmConnection, signal?: AbortSignal): ArmClients {
  const { credential, subscriptionId, clientOptions = {} } = connection;
  const lro: ArmClients['lro'] = {};
  if (connection.pollIntervalMs !== undefined) lro.updateIntervalInMs = connection.pollIntervalMs;
  if (signal !== undefined) lro.abortSignal = signal;
  return {
    resources: new ResourceManagementClient(credential, subscriptionId, clientOptions),
    openai: new CognitiveServicesManagementClient(credential, subscriptionId, clientOptions),
    apim: new ApiManagementClient(credential, subscriptionId, clientOptions),
    authorization: new AuthorizationManagementClient(credential, subscriptionId, clientOptions),
    apps: new ContainerAppsAPIClient(credential, subscriptionId, clientOptions),
    storage: new StorageManagementClient(credential, subscriptionId, clientOptions),
    lro,
    signal,
  };
}

/** Runs a long-running operation to its end, abortable (begin*AndWait ignores the signal). */
export async function untilDone<T>(
  poller: Promise<{ pollUntilDone(options?: { abortSignal?: AbortSignal }): Promise<T> }>,
  signal: AbortSignal | undefined,
): Promise<T> {
  return (await poller).pollUntilDone(signal ? { abortSignal: signal } : undefined);
}
