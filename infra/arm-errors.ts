/** An ARM failure reduced to what a person needs: the code, the status, ARM's message. */
export interface ArmFailure {
  code: string;
  statusCode: number | undefined;
  message: string;
}

const LRO_FAILED = /^The long-running operation has failed\.?\s*(?:([A-Za-z]+)\.\s*)?(.*)$/s;

/**
 * Reads an error from the ARM SDKs. Non-2xx answers throw a RestError with `code` and
 * `statusCode`; a long-running operation that ends in `Failed` throws a plain Error whose
 * message carries the code ("The long-running operation has failed. InsufficientQuota. …").
 */
export function readArmError(error: unknown): ArmFailure {
  const e = error as { code?: unknown; statusCode?: unknown; message?: unknown; name?: unknown; details?: unknown };
  const message = withDetails(typeof e?.message === 'string' ? e.message : String(error), e?.details);
  const statusCode = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (typeof e?.code === 'string' && e.code !== '') return { code: e.code, statusCode, message };
  const lro = LRO_FAILED.exec(message);
  if (lro) return { code: lro[1] ?? 'OperationFailed', statusCode, message: lro[2]?.trim() || message };
  if (e?.name === 'AbortError') return { code: 'Aborted', statusCode, message };
  return { code: statusCode !== undefined ? `HTTP${statusCode}` : 'Error', statusCode, message };
}

/**
 * ARM's error body may carry `details` (APIM's ValidationError says only "One or more fields
 * contain incorrect values:" and names each field there): they are appended, one per target.
 */
function withDetails(message: string, details: unknown): string {
  const list = (details as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(list) || list.length === 0) return message;
  const parts = list
    .map(
      (d: { target?: unknown; message?: unknown }) =>
        `${typeof d.target === 'string' ? `${d.target}: ` : ''}${typeof d.message === 'string' ? d.message : ''}`,
    )
    .filter((p) => p !== '');
  return parts.length > 0 ? `${message.replace(/:\s*$/, '')}: ${parts.join('; ')}` : message;
}

export function isNotFound(error: unknown): boolean {
  const failure = readArmError(error);
  return (
    failure.statusCode === 404 ||
    failure.code === 'ResourceGroupNotFound' ||
    failure.code === 'ResourceNotFound' ||
    failure.code === 'NotFound'
  );
}

/** A GET whose 404 means "not there": undefined then; any other failure still throws. */
export async function ifFound<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** What to do about the codes a create-and-destroy lab meets (arm-provisioning notes §4). */
export function fixFor(code: string): string | undefined {
  switch (code) {
    case 'FlagMustBeSetForRestore':
    case 'CustomDomainInUse':
      return 'an Azure OpenAI account of that name is soft-deleted (kept 48 h): purge it with az cognitiveservices account purge, or deploy with another --lab-id';
    case 'ServiceAlreadyExistsInSoftDeletedState':
      return 'an API Management service of that name is soft-deleted (kept 48 h): purge it with az apim deletedservice purge, or deploy with another --lab-id';
    case 'InsufficientQuota':
      return 'lower --capacity, pick another --model-sku or --location, or ask for more quota';
    case 'MissingSubscriptionRegistration':
      return 'register the provider: az provider register --namespace Microsoft.CognitiveServices (and Microsoft.ApiManagement)';
    case 'AuthorizationFailed':
    case 'LinkedAuthorizationFailed':
      return "your identity needs Contributor and Role Based Access Control Administrator (or Owner) on the subscription or the lab's resource group; without the right to assign roles, deploy with --roles manual and have someone who has it run the printed az role assignment lines";
    case 'SpecialFeatureOrQuotaIdRequired':
      return 'this subscription has no access to Azure OpenAI (kind OpenAI, SKU S0): use a subscription that has it (free trials and some sponsored offers do not), or request access for this one';
    case 'RequestDisallowedByPolicy':
      return "an Azure Policy assignment (named in the message) denies this resource as the lab configures it: ask the policy's owner for an exemption on the lab's resource group, or use a subscription without it. The lab's Azure OpenAI account keeps publicNetworkAccess Enabled so that APIM and the bench can reach it";
    case 'ServiceModelDeprecated':
    case 'ServiceModelDeprecating':
    case 'DeploymentModelNotSupported':
      return 'that model version is retired or retiring and takes no new deployments: pass --model-version with a current one (npm run lab:deploy -- --target azure --what-if lists what the region offers), or another --model';
    case 'AuthenticationFailed':
    case 'InvalidAuthenticationToken':
    case 'InvalidAuthenticationTokenAudience':
    case 'InvalidAuthenticationTokenTenant':
    case 'ExpiredAuthenticationToken':
      return 'sign in again (az login, or azd auth login) to the tenant that holds this subscription, or check AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET';
    case 'InvalidApiVersionParameter':
    case 'NoRegisteredProviderFound':
      return "the service does not serve the api-version this project's SDK sends (in this cloud or region): update the project, or report it";
    case 'RequestConflict':
    case 'Conflict':
      return 'another operation is running on the same resource; wait a minute and run lab:deploy again (it resumes)';
    case 'TooManyRequests':
    case 'HTTP429':
      return 'Azure Resource Manager is throttling this subscription; wait a minute and run lab:deploy again (it resumes)';
    default:
      return undefined;
  }
}

/** One line: `Code (HTTP 409): message. Fix: …`. */
export function describeArmFailure(error: unknown): string {
  const failure = readArmError(error);
  const fix = fixFor(failure.code);
  const status = failure.statusCode !== undefined ? ` (HTTP ${failure.statusCode})` : '';
  return `${failure.code}${status}: ${failure.message.replace(/\.?\s*$/, '')}.${fix ? ` Fix: ${fix}.` : ''}`;
}
