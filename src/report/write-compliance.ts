import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComplianceReport } from '../compliance/types.ts';
import { complianceToJunit, complianceToMarkdown } from './compliance-text.ts';

/** Writes compliance.json, compliance.xml (JUnit) and compliance.md into the run's directory. */
export function writeComplianceFiles(outDir: string, report: ComplianceReport): void {
  writeFileSync(join(outDir, 'compliance.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'compliance.xml'), complianceToJunit(report));
  writeFileSync(join(outDir, 'compliance.md'), complianceToMarkdown(report));
}
