import { extraAccounts, OPENAI_USER_ROLE_ID, type AzureLabRecord } from './azure-plan.ts';

/** One entry of Permissions – List For Resource Group (Microsoft.Authorization, 2022-04-01): one role the caller holds there. */
export interface PermissionEntry {
  actions?: string[];
  notActions?: string[];
}

/** An action the deploy performs, and the step that needs it. */
export interface RequiredAction {
  action: string;
  why: string;
}

const ROLE_WRITE = 'Microsoft.Authorization/roleAssignments/write';

/** Roles that carry `Microsoft.Authorization/roleAssignments/write` (Microsoft Learn: Azure built-in roles). */
export const ROLE_ASSIGNMENT_ROLES = [
  'Role Based Access Control Administrator',
  'User Access Administrator',
  'Owner',
] as const;

/**
 * The control-plane actions `lab:deploy --target azure` performs on the lab's resource group,
 * given its record: what preflight checks the caller holds before anything billable exists.
 */
export function requiredActions(record: AzureLabRecord, roles: 'assign' | 'manual'): RequiredAction[] {
  const actions: RequiredAction[] = [
    { action: 'Microsoft.ApiManagement/service/write', why: 'create the API Management service' },
    { action: 'Microsoft.ApiManagement/service/apis/write', why: 'create the API' },
    { action: 'Microsoft.ApiManagement/service/apis/operations/write', why: 'create the API operations' },
    { action: 'Microsoft.ApiManagement/service/apis/policies/write', why: 'put the API policy' },
    { action: 'Microsoft.ApiManagement/service/backends/write', why: 'create the backend' },
    { action: 'Microsoft.ApiManagement/service/subscriptions/write', why: 'create the subscription key' },
    { action: 'Microsoft.ApiManagement/service/subscriptions/listSecrets/action', why: 'read the subscription key' },
    { action: 'Microsoft.CognitiveServices/accounts/write', why: 'create the Azure OpenAI account' },
    { action: 'Microsoft.CognitiveServices/accounts/deployments/write', why: 'deploy the model' },
  ];
  if (record.localAuth)
    actions.push({
      action: 'Microsoft.CognitiveServices/accounts/listKeys/action',
      why: 'read the account key (--local-auth)',
    });
  if (roles === 'assign') {
    actions.push({
      action: ROLE_WRITE,
      why: `grant APIM's managed identity${record.localAuth ? '' : ' and you'} Cognitive Services OpenAI User on the account${extraAccounts(record).length > 0 ? 's' : ''}`,
    });
  }
  return actions;
}

/** Whether `action` matches an Azure RBAC action pattern (`*` matches any run of characters, `/` included; case does not matter). */
export function actionMatches(pattern: string, action: string): boolean {
  const parts = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 'i').test(action);
}

/**
 * Whether the caller holds `action`: some role grants it in `actions` and does not take it
 * away in its own `notActions` (notActions subtract within one role, not across roles).
 */
export function isPermitted(permissions: readonly PermissionEntry[], action: string): boolean {
  return permissions.some(
    (p) =>
      (p.actions ?? []).some((a) => actionMatches(a, action)) &&
      !(p.notActions ?? []).some((n) => actionMatches(n, action)),
  );
}

/** The required actions the caller does not hold. */
export function missingActions(
  permissions: readonly PermissionEntry[],
  required: readonly RequiredAction[],
): RequiredAction[] {
  return required.filter((r) => !isPermitted(permissions, r.action));
}

/**
 * The role assignments the deploy makes, as `az role assignment create` lines an admin can run
 * (with `--roles manual`, or when the caller cannot assign roles): the APIM identity and, when
 * keyless, the caller, on each Azure OpenAI account of the lab.
 */
export function manualRoleLines(
  record: AzureLabRecord,
  principals: { apim: string | undefined; caller: string | undefined; callerType: 'User' | 'ServicePrincipal' },
): string[] {
  const accounts = [record.openaiAccount, ...extraAccounts(record).map((e) => e.account)];
  const scope = (account: string): string =>
    `/subscriptions/${record.subscriptionId}/resourceGroups/${record.resourceGroup}/providers/Microsoft.CognitiveServices/accounts/${account}`;
  const line = (principal: string, type: string, account: string): string =>
    `az role assignment create --assignee-object-id ${principal} --assignee-principal-type ${type} --role ${OPENAI_USER_ROLE_ID} --scope ${scope(account)}`;
  const lines = accounts.map((account) =>
    line(
      principals.apim ?? "<the APIM service's managed identity (principalId), known once it exists>",
      'ServicePrincipal',
      account,
    ),
  );
  if (!record.localAuth)
    lines.push(
      line(
        principals.caller ?? '<your object id: az ad signed-in-user show --query id -o tsv>',
        principals.callerType,
        record.openaiAccount,
      ),
    );
  return lines;
}
