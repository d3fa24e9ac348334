import { LAB_KEY_ENV } from '../src/config/lab-options.ts';
import { armIdOf, isConsumptionSku, LAB_TAG, OPENAI_USER_ROLE_ID, type AzureLabRecord, type DeployStepId, type StepRecord } from './azure-plan.ts';
import { putApiPolicy } from './apply-policy.ts';
import { untilDone, type ArmClients } from './arm-context.ts';
import { readArmError } from './arm-errors.ts';
import { roleAssignmentName } from './role-name.ts';
import type { StepDefinition } from './step-runner.ts';

/** Who runs the deploy, read from the ARM token: they get the data-plane role too. */
export interface Caller {
  principalId: string | undefined;
  principalType: 'User' | 'ServicePrincipal';
}

export interface StepContext {
  clients: ArmClients;
  record: AzureLabRecord;
  policyXml: string;
  caller: Caller;
}

/** A finished step: what goes in the state's `steps`, and keys that go only in `secrets`. */
export interface StepResult {
  record: StepRecord;
  secrets?: Record<string, string>;
}

const WILDCARD_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

function output(context: StepContext, step: DeployStepId, name: string): string {
  const value = context.record.steps[step]?.outputs?.[name];
  if (value === undefined) throw new Error(`step ${step} recorded no ${name}`);
  return value;
}

function finished(resourceId: string | undefined, outputs?: Record<string, string>): StepRecord {
  const record: StepRecord = { completedAt: new Date().toISOString() };
  if (resourceId !== undefined) record.resourceId = resourceId;
  if (outputs !== undefined) record.outputs = outputs;
  return record;
}

const tags = (record: AzureLabRecord): Record<string, string> => ({ [LAB_TAG]: record.labId });

/** The account's endpoint as the backend and the API reach it: `https://{sub}.openai.azure.com/openai`. */
function openaiServiceUrl(context: StepContext): string {
  return `${output(context, 'openai-account', 'endpoint').replace(/\/+$/, '')}/openai`;
}

async function grantOpenAiUser(context: StepContext, principalId: string, principalType: Caller['principalType']): Promise<StepRecord> {
  const { record, clients } = context;
  // The SDK puts scope into the path as is: a leading "/" would make "subscriptions" the host.
  const scope = armIdOf(record, 'openai-account').replace(/^\//, '');
  const roleDefinitionId = `/subscriptions/${record.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${OPENAI_USER_ROLE_ID}`;
  const name = roleAssignmentName(scope, principalId, roleDefinitionId);
  try {
    const assignment = await clients.authorization.roleAssignments.create(scope, name, { roleDefinitionId, principalId, principalType }, { abortSignal: clients.signal });
    return finished(assignment.id, { scope, name, principalId });
  } catch (error) {
    // The same grant under another name (made by hand, or by an older tool): it is in place.
    if (readArmError(error).code === 'RoleAssignmentExists') return finished(undefined, { scope, principalId, note: 'already granted under another assignment' });
    throw error;
  }
}

/**
 * The deploy, step by step. APIM is listed first among the steps the resource group unlocks:
 * it takes longest (minutes on the v2 tiers), so it starts before the Azure OpenAI chain.
 */
export const DEPLOY_STEPS: ReadonlyArray<StepDefinition<DeployStepId, StepContext, StepResult>> = [
  {
    id: 'resource-group',
    title: 'resource group',
    needs: [],
    async run({ clients, record }) {
      const group = await clients.resources.resourceGroups.createOrUpdate(record.resourceGroup, { location: record.location, tags: tags(record) }, { abortSignal: clients.signal });
      return { record: finished(group.id) };
    },
  },
  {
    id: 'apim-service',
    title: 'API Management service',
    needs: ['resource-group'],
    async run({ clients, record }) {
      const service = await untilDone(
        clients.apim.apiManagementService.beginCreateOrUpdate(
          record.resourceGroup,
          record.apimService,
          {
            location: record.location,
            sku: { name: record.apimSku, capacity: isConsumptionSku(record.apimSku) ? 0 : 1 },
            publisherEmail: record.publisherEmail,
            publisherName: 'apim-streaming-lab',
            identity: { type: 'SystemAssigned' },
            tags: tags(record),
          },
          clients.lro,
        ),
        clients.signal,
      );
      const principalId = service.identity?.principalId;
      if (service.gatewayUrl === undefined || principalId === undefined) throw new Error(`the service came back without ${service.gatewayUrl === undefined ? 'a gatewayUrl' : 'a system-assigned identity'}`);
      return { record: finished(service.id, { gatewayUrl: service.gatewayUrl, principalId }) };
    },
  },
  {
    id: 'openai-account',
    title: 'Azure OpenAI account',
    needs: ['resource-group'],
    async run({ clients, record }) {
      const account = await untilDone(
        clients.openai.accounts.beginCreate(
          record.resourceGroup,
          record.openaiAccount,
          {
            location: record.location,
            kind: 'OpenAI',
            sku: { name: 'S0' },
            tags: tags(record),
            properties: { customSubDomainName: record.openaiAccount, publicNetworkAccess: 'Enabled', disableLocalAuth: !record.localAuth },
          },
          clients.lro,
        ),
        clients.signal,
      );
      const endpoint = account.properties?.endpoint;
      if (endpoint === undefined) throw new Error('the account came back without an endpoint');
      if (!record.localAuth) return { record: finished(account.id, { endpoint }) };
      const keys = await clients.openai.accounts.listKeys(record.resourceGroup, record.openaiAccount, { abortSignal: clients.signal });
      if (keys.key1 === undefined) throw new Error('listKeys returned no key');
      return { record: finished(account.id, { endpoint }), secrets: { [LAB_KEY_ENV.direct]: keys.key1 } };
    },
  },
  {
    id: 'model-deployment',
    title: 'model deployment',
    needs: ['openai-account'],
    async run({ clients, record }) {
      const { model } = record;
      const deployment = await untilDone(
        clients.openai.deployments.beginCreateOrUpdate(
          record.resourceGroup,
          record.openaiAccount,
          model.deployment,
          { sku: { name: model.sku, capacity: model.capacityK }, properties: { model: { format: 'OpenAI', name: model.name, version: model.version }, versionUpgradeOption: 'OnceNewDefaultVersionAvailable' } },
          clients.lro,
        ),
        clients.signal,
      );
      return { record: finished(deployment.id) };
    },
  },
  {
    id: 'apim-api',
    title: 'API at /openai',
    needs: ['apim-service', 'openai-account'],
    async run(context) {
      const { clients, record } = context;
      const api = await untilDone(
        clients.apim.api.beginCreateOrUpdate(
          record.resourceGroup,
          record.apimService,
          record.apiId,
          {
            displayName: 'Azure OpenAI (apim-streaming-lab)',
            path: 'openai',
            protocols: ['https'],
            serviceUrl: openaiServiceUrl(context),
            subscriptionRequired: true,
            subscriptionKeyParameterNames: { header: 'api-key', query: 'api-key' },
            apiType: 'http',
          },
          clients.lro,
        ),
        clients.signal,
      );
      // Wildcard operations: every Azure OpenAI path (deployments/…, v1/…) reaches the backend.
      for (const method of WILDCARD_METHODS) {
        await clients.apim.apiOperation.createOrUpdate(record.resourceGroup, record.apimService, record.apiId, `wildcard-${method.toLowerCase()}`, { displayName: `${method} /*`, method, urlTemplate: '/*', templateParameters: [], responses: [] }, { abortSignal: clients.signal });
      }
      return { record: finished(api.id) };
    },
  },
  {
    id: 'apim-backend',
    title: 'backend',
    needs: ['apim-service', 'openai-account'],
    async run(context) {
      const { clients, record } = context;
      const backend = await clients.apim.backend.createOrUpdate(
        record.resourceGroup,
        record.apimService,
        record.backendId,
        { url: openaiServiceUrl(context), protocol: 'http', title: 'Azure OpenAI', description: `Azure OpenAI account ${record.openaiAccount} (apim-streaming-lab)` },
        { abortSignal: clients.signal },
      );
      return { record: finished(backend.id) };
    },
  },
  {
    id: 'apim-role',
    title: 'role: APIM identity → OpenAI User',
    needs: ['apim-service', 'openai-account'],
    async run(context) {
      return { record: await grantOpenAiUser(context, output(context, 'apim-service', 'principalId'), 'ServicePrincipal') };
    },
  },
  {
    id: 'caller-role',
    title: 'role: you → OpenAI User (direct path)',
    needs: ['openai-account'],
    async run(context) {
      if (context.record.localAuth) return { record: finished(undefined, { note: 'keys enabled: the direct path uses the account key' }) };
      if (context.caller.principalId === undefined) return { record: finished(undefined, { note: 'the token names no principal; grant yourself Cognitive Services OpenAI User to bench the direct path' }) };
      return { record: await grantOpenAiUser(context, context.caller.principalId, context.caller.principalType) };
    },
  },
  {
    id: 'apim-policy',
    title: 'API policy',
    needs: ['apim-api', 'apim-backend'],
    async run({ clients, record, policyXml }) {
      const policy = await putApiPolicy(clients, record, policyXml);
      return { record: finished(policy.id) };
    },
  },
  {
    id: 'apim-subscription',
    title: 'subscription key',
    needs: ['apim-api'],
    async run({ clients, record }) {
      const subscription = await clients.apim.subscription.createOrUpdate(
        record.resourceGroup,
        record.apimService,
        record.apimSubscription,
        { scope: `/apis/${record.apiId}`, displayName: 'apim-streaming-lab', state: 'active' },
        { abortSignal: clients.signal },
      );
      const secrets = await clients.apim.subscription.listSecrets(record.resourceGroup, record.apimService, record.apimSubscription, { abortSignal: clients.signal });
      if (secrets.primaryKey === undefined) throw new Error('listSecrets returned no primary key');
      return { record: finished(subscription.id), secrets: { [LAB_KEY_ENV.gateway]: secrets.primaryKey } };
    },
  },
];
