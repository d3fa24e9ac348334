export * from './types.ts';
export * from './probe.ts';
export * from './session.ts';
export * from './run-verify.ts';
export { ALL_CHECKS, CHECK_IDS } from './checks/index.ts';
export { parsePolicyForLint } from './lint/parse-policy.ts';
export { diagnosticsFromJson, parseDiagnostics } from './lint/diagnostics.ts';
export type { LintInput, DiagnosticSetting } from './lint/policy-lint.ts';
