import type { ApiKind } from '../protocol/index.ts';

/** How the URL is shaped: Azure classic (`/openai/deployments/{d}/…?api-version=`), Azure v1 (`/openai/v1/…`), or plain OpenAI-compatible (`{baseUrl}/…`). */
export type ApiStyle = 'azure' | 'v1' | 'openai';
export const API_STYLES: readonly ApiStyle[] = ['azure', 'v1', 'openai'];

/** How requests authenticate. Keys are never stored here, only where to read them. */
export type TargetAuth =
  | { kind: 'api-key'; envName: string }
  | { kind: 'subscription-key'; envName: string; header?: string }
  | { kind: 'entra'; scope?: string }
  | { kind: 'none' };

/** Where a request goes. `label` names the path in reports (`direct`, `gateway`). */
export interface Target {
  label: string;
  baseUrl: string;
  apiStyle: ApiStyle;
  deployment: string;
  apiVersion: string;
  auth: TargetAuth;
  /** Where legacy completions go (chat models refuse them); `deployment` when unset. See `deploymentFor`. */
  completionsDeployment?: string;
}

/** The Azure AI Search source that "On Your Data" requests name (the local mock plays it). */
export interface SearchSource {
  endpoint: string;
  index: string;
}

export type ChatMessage = { role: string; content: string };

/** One cell of the benchmark matrix, minus the load model. */
export interface Scenario {
  api: ApiKind;
  stream: boolean;
  /** Output cap; `undefined` lets the model stop on its own. */
  maxTokens: number | undefined;
  target: Target;
  /** Chat message list (for completions and responses, flattened to text). */
  messages: ChatMessage[];
  /** On Your Data: the data source block sent as `data_sources`. */
  dataSources?: unknown[];
}
