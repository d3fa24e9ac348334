import { createHash } from 'node:crypto';

// RFC 4122 URL namespace; any fixed namespace works, it only has to stay the same.
const NAMESPACE = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/**
 * A role assignment's name (a GUID) derived from what it grants, UUID version 5: a re-run
 * PUTs the same name and ARM answers 200 instead of 409 RoleAssignmentExists.
 */
export function roleAssignmentName(scope: string, principalId: string, roleDefinitionId: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(NAMESPACE.replace(/-/g, ''), 'hex'))
    .update(`${scope.toLowerCase()}|${principalId.toLowerCase()}|${roleDefinitionId.toLowerCase()}`)
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
