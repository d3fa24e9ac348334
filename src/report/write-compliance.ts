import { writeFileAtomic } from '../files.ts';
import { join } from 'node:path';
import type { ComplianceReport } from '../compliance/types.ts';
import { complianceToJunit, complianceToMarkdown } from './compliance-text.ts';

/** Writes compliance.json, compliance.xml (JUnit) and compliance.md into the run's directory. */
export function writeComplianceFiles(outDir: string, report: ComplianceReport): void {
  writeFileAtomic(join(outDir, 'compliance.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileAtomic(join(outDir, 'compliance.xml'), complianceToJunit(report));
  writeFileAtomic(join(outDir, 'compliance.md'), complianceToMarkdown(report));
}
