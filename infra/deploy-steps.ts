import { LAB_KEY_ENV } from '../src/config/lab-options.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiManagementServiceResource, BackendContract } from '@azure/arm-apimanagement';
import type { BackendEntry } from '../src/protocol/index.ts';
import {
  armIdOf,
  extraAccounts,
  isConsumptionSku,
  LAB_TAG,
  OPENAI_USER_ROLE_ID,
  type AzureLabRecord,
  type DeployStepId,
  type StepRecord,
} from './azure-plan.ts';
import { putApiPolicy } from './apply-policy.ts';
import { untilDone, type ArmClients } from './arm-context.ts';
import { ifFound, readArmError } from './arm-errors.ts';
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
  return serviceUrlOf(output(context, 'openai-account', 'endpoint'));
}

/** An account endpoint with the API's `/openai` suffix. */
const serviceUrlOf = (endpoint: string): string => `${endpoint.replace(/\/+$/, '')}/openai`;

async function grantOpenAiUser(
  context: StepContext,
  principalId: string,
  principalType: Caller['principalType'],
  account = context.record.openaiAccount,
): Promise<StepRecord> {
  const { record, clients } = context;
  // The SDK puts scope into the path as is: a leading "/" would make "subscriptions" the host.
  const scope = armIdOf(record, 'openai-account', account).replace(/^\//, '');
  const roleDefinitionId = `/subscriptions/${record.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${OPENAI_USER_ROLE_ID}`;
  const name = roleAssignmentName(scope, principalId, roleDefinitionId);
  // --roles manual: someone who can assign roles runs the printed az line (manualRoleLines).
  if (record.roles === 'manual')
    return finished(undefined, { scope, principalId, note: 'to be assigned by someone who can (--roles manual)' });
  try {
    const assignment = await clients.authorization.roleAssignments.create(
      scope,
      name,
      { roleDefinitionId, principalId, principalType },
      { abortSignal: clients.signal },
    );
    return finished(assignment.id, { scope, name, principalId });
  } catch (error) {
    // The same grant under another name (made by hand, or by an older tool): it is in place.
    if (readArmError(error).code === 'RoleAssignmentExists')
      return finished(undefined, { scope, principalId, note: 'already granted under another assignment' });
    throw error;
  }
}

/** Creates (or finds, on a re-run) an Azure OpenAI account of the lab, tagged with its id. */
async function createAccount(
  clients: ArmClients,
  record: AzureLabRecord,
  name: string,
): Promise<{ id: string | undefined; endpoint: string }> {
  const account = await untilDone(
    clients.openai.accounts.beginCreate(
      record.resourceGroup,
      name,
      {
        location: record.location,
        kind: 'OpenAI',
        sku: { name: 'S0' },
        tags: tags(record),
        properties: { customSubDomainName: name, publicNetworkAccess: 'Enabled', disableLocalAuth: !record.localAuth },
      },
      clients.lro,
    ),
    clients.signal,
  );
  const endpoint = account.properties?.endpoint;
  if (endpoint === undefined) throw new Error(`account ${name} came back without an endpoint`);
  return { id: account.id, endpoint };
}

/** The lab's model deployment on one account (the same name, model and capacity on every account). */
async function deployModel(clients: ArmClients, record: AzureLabRecord, account: string): Promise<{ id?: string }> {
  const { model } = record;
  return untilDone(
    clients.openai.deployments.beginCreateOrUpdate(
      record.resourceGroup,
      account,
      model.deployment,
      {
        sku: { name: model.sku, capacity: model.capacityK },
        properties: {
          model: { format: 'OpenAI', name: model.name, version: model.version },
          versionUpgradeOption: 'OnceNewDefaultVersionAvailable',
        },
      },
      clients.lro,
    ),
    clients.signal,
  );
}

/**
 * A backends-file entry as the SDK takes it (`typePropertiesType` is ARM's `properties.type`):
 * the file's own url, or the endpoint of the account that plays it.
 */
function backendBody(context: StepContext, entry: BackendEntry): BackendContract {
  const { properties } = entry;
  const common = {
    title: properties.title,
    description: properties.description ?? `${entry.name} (apim-streaming-lab)`,
  };
  if (properties.type === 'Pool')
    return {
      ...common,
      typePropertiesType: 'Pool',
      pool: { services: properties.pool!.services.map((s) => ({ id: s.id, priority: s.priority, weight: s.weight })) },
    };
  const accounts = context.record.backends?.accounts;
  const account = accounts !== undefined && Object.hasOwn(accounts, entry.name) ? accounts[entry.name] : undefined;
  const endpoint =
    account === undefined
      ? undefined
      : account === context.record.openaiAccount
        ? output(context, 'openai-account', 'endpoint')
        : output(context, 'backend-accounts', `endpoint.${entry.name}`);
  const url = properties.url ?? serviceUrlOf(endpoint!);
  return {
    ...common,
    typePropertiesType: 'Single',
    url,
    protocol: properties.protocol ?? 'http',
    ...(properties.circuitBreaker ? { circuitBreaker: properties.circuitBreaker } : {}),
  };
}

function serviceRecord(service: ApiManagementServiceResource): StepResult {
  const principalId = service.identity?.principalId;
  if (service.gatewayUrl === undefined || principalId === undefined)
    throw new Error(
      `the service came back without ${service.gatewayUrl === undefined ? 'a gatewayUrl' : 'a system-assigned identity'}`,
    );
  return { record: finished(service.id, { gatewayUrl: service.gatewayUrl, principalId }) };
}

/** States of an APIM service still being created or changed. */
const SERVICE_BUSY = new Set(['created', 'activating', 'updating', 'creating']);

/**
 * The lab's APIM service if it already exists: waited for while it activates (read every 30 s,
 * or at the connection's poll interval when one is set), then recorded. Undefined when there is none, or when its last
 * operation failed (the PUT then tries again).
 */
async function waitForService(clients: ArmClients, record: AzureLabRecord): Promise<StepResult | undefined> {
  const get = () =>
    ifFound(
      clients.apim.apiManagementService.get(record.resourceGroup, record.apimService, { abortSignal: clients.signal }),
    );
  let service = await get();
  while (service !== undefined && SERVICE_BUSY.has((service.provisioningState ?? '').toLowerCase())) {
    await sleep(clients.lro.updateIntervalInMs ?? 30_000, undefined, { signal: clients.signal });
    service = await get();
  }
  if (service === undefined || (service.provisioningState ?? '').toLowerCase() !== 'succeeded') return undefined;
  return serviceRecord(service);
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
      const group = await clients.resources.resourceGroups.createOrUpdate(
        record.resourceGroup,
        { location: record.location, tags: tags(record) },
        { abortSignal: clients.signal },
      );
      return { record: finished(group.id) };
    },
  },
  {
    id: 'apim-service',
    title: 'API Management service',
    needs: ['resource-group'],
    async run({ clients, record }) {
      // A service this lab started earlier (a deploy stopped mid-activation, say) is waited for,
      // not PUT again: APIM takes no other operation while it activates, and a PUT on an active
      // service starts an update that can take as long as the create.
      const earlier = await waitForService(clients, record);
      if (earlier !== undefined) return earlier;
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
      return serviceRecord(service);
    },
  },
  {
    id: 'openai-account',
    title: 'Azure OpenAI account',
    needs: ['resource-group'],
    async run({ clients, record }) {
      const { id, endpoint } = await createAccount(clients, record, record.openaiAccount);
      if (!record.localAuth) return { record: finished(id, { endpoint }) };
      const keys = await clients.openai.accounts.listKeys(record.resourceGroup, record.openaiAccount, {
        abortSignal: clients.signal,
      });
      if (keys.key1 === undefined) throw new Error('listKeys returned no key');
      return { record: finished(id, { endpoint }), secrets: { [LAB_KEY_ENV.direct]: keys.key1 } };
    },
  },
  {
    id: 'model-deployment',
    title: 'model deployment',
    needs: ['openai-account'],
    async run({ clients, record }) {
      const deployment = await deployModel(clients, record, record.openaiAccount);
      return { record: finished(deployment.id) };
    },
  },
  {
    id: 'backend-accounts',
    title: 'backend accounts (--backends)',
    needs: ['resource-group', 'apim-service'],
    async run(context) {
      const { clients, record } = context;
      const extra = extraAccounts(record);
      if (extra.length === 0)
        return {
          record: finished(undefined, {
            note: record.backends
              ? 'every backend is the lab account or has its own url'
              : 'no backends file: one backend, the lab account',
          }),
        };
      const outputs: Record<string, string> = {};
      // One at a time: each is an account, a deployment and a role, and a failure names the backend.
      for (const { backend, account } of extra) {
        const { endpoint } = await createAccount(clients, record, account);
        await deployModel(clients, record, account);
        const role = await grantOpenAiUser(
          context,
          output(context, 'apim-service', 'principalId'),
          'ServicePrincipal',
          account,
        );
        outputs[`endpoint.${backend}`] = endpoint;
        if (role.outputs?.['name'] !== undefined)
          Object.assign(outputs, {
            [`roleScope.${backend}`]: role.outputs['scope']!,
            [`roleName.${backend}`]: role.outputs['name'],
          });
      }
      return { record: finished(undefined, outputs) };
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
        await clients.apim.apiOperation.createOrUpdate(
          record.resourceGroup,
          record.apimService,
          record.apiId,
          `wildcard-${method.toLowerCase()}`,
          { displayName: `${method} /*`, method, urlTemplate: '/*', templateParameters: [], responses: [] },
          { abortSignal: clients.signal },
        );
      }
      return { record: finished(api.id) };
    },
  },
  {
    id: 'apim-backend',
    title: 'backend',
    needs: ['apim-service', 'openai-account', 'backend-accounts'],
    async run(context) {
      const { clients, record } = context;
      const put = (name: string, body: BackendContract) =>
        clients.apim.backend.createOrUpdate(record.resourceGroup, record.apimService, name, body, {
          abortSignal: clients.signal,
        });
      const entries = record.backends?.entries ?? [];
      let labBackend: string | undefined;
      if (!entries.some((e) => e.name === record.backendId)) {
        labBackend = (
          await put(record.backendId, {
            url: openaiServiceUrl(context),
            protocol: 'http',
            title: 'Azure OpenAI',
            description: `Azure OpenAI account ${record.openaiAccount} (apim-streaming-lab)`,
          })
        ).id;
      }
      // Single backends first: a pool may only name backends that exist.
      const outputs: Record<string, string> = {};
      for (const entry of [
        ...entries.filter((e) => e.properties.type !== 'Pool'),
        ...entries.filter((e) => e.properties.type === 'Pool'),
      ]) {
        const created = await put(entry.name, backendBody(context, entry));
        outputs[`backend.${entry.name}`] = created.id ?? entry.name;
      }
      return {
        record: finished(
          labBackend ?? outputs[`backend.${record.backendId}`],
          entries.length > 0 ? outputs : undefined,
        ),
      };
    },
  },
  {
    id: 'apim-role',
    title: 'role: APIM identity → OpenAI User',
    needs: ['apim-service', 'openai-account'],
    async run(context) {
      return {
        record: await grantOpenAiUser(context, output(context, 'apim-service', 'principalId'), 'ServicePrincipal'),
      };
    },
  },
  {
    id: 'caller-role',
    title: 'role: you → OpenAI User (direct path)',
    needs: ['openai-account'],
    async run(context) {
      if (context.record.localAuth)
        return { record: finished(undefined, { note: 'keys enabled: the direct path uses the account key' }) };
      if (context.caller.principalId === undefined)
        return {
          record: finished(undefined, {
            note: 'the token names no principal; grant yourself Cognitive Services OpenAI User to bench the direct path',
          }),
        };
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
      const secrets = await clients.apim.subscription.listSecrets(
        record.resourceGroup,
        record.apimService,
        record.apimSubscription,
        { abortSignal: clients.signal },
      );
      if (secrets.primaryKey === undefined) throw new Error('listSecrets returned no primary key');
      return { record: finished(subscription.id), secrets: { [LAB_KEY_ENV.gateway]: secrets.primaryKey } };
    },
  },
];
