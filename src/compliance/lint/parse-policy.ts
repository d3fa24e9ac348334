import { policyFlag } from '../../flags.ts';

export { escapeExpressions, type PolicyElement } from '../../protocol/policy-xml.ts';

/** The lint reads a `--policy` file as the gateway does (src/flags.ts `policyFlag`). */
export const parsePolicyForLint = policyFlag;
