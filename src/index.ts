/**
 * The public API: what a guided lab in labs/ may import. Labs import only this file, so
 * the internals can move without breaking them.
 */
export { defineLab, type LabContext, type LabDefinition, type LabFinding, type LabRequest } from './lab/guided-lab.ts';
export { findScenario, type BenchSummary, type PathComparison, type StreamComparison } from './bench/summary.ts';
export type { ScenarioSummary } from './bench/aggregate.ts';
export type { ComplianceReport, CheckResult } from './compliance/types.ts';
export type { Timeline } from './client/timeline.ts';
export type { Sample } from './metrics/sample.ts';
export { forEachSample } from './report/read-run.ts';
export { formatMs } from './report/headline.ts';
export { describeShift, pairedShift, shiftVerdict, type PairedShift } from './metrics/paired-shift.ts';
export { interleavedSlot } from './load/interleave.ts';
export { formatControlHeaders } from './protocol/control-headers.ts';
export { readGatewayLog, type GatewayLogEntry } from './protocol/gateway-log.ts';
