import type { ComplianceReport } from '../compliance/types.ts';

const MARK = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'skip' } as const;

/** The stdout table: check, status, evidence in one line. */
export function complianceToTable(report: ComplianceReport): string {
  const width = Math.max(...report.checks.map((c) => c.id.length), 5);
  const lines = report.checks.map((c) => `${c.id.padEnd(width)}  ${MARK[c.status]}  ${c.evidence}`);
  return [`${'check'.padEnd(width)}  ${'    '}  evidence`, ...lines, '', verdictLine(report)].join('\n');
}

export function verdictLine(report: ComplianceReport): string {
  const count = (s: string) => report.checks.filter((c) => c.status === s).length;
  if (report.checks.every((c) => c.status === 'skip'))
    return `SSE compliance: fail, nothing was checked (${count('skip')} skipped) in ${(report.durationMs / 1000).toFixed(1)} s`;
  return `SSE compliance: ${report.verdict} (${count('pass')} passed, ${count('warn')} warned, ${count('fail')} failed, ${count('skip')} skipped) in ${(report.durationMs / 1000).toFixed(1)} s${report.groundTruth ? '; exact verdicts (the upstream stamped its frames)' : ''}`;
}

const escapeCell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** `compliance.md`: fit for a pull request or a CI step summary. */
export function complianceToMarkdown(report: ComplianceReport): string {
  return [
    '# SSE gateway compliance',
    '',
    `**${report.verdict.toUpperCase()}** — gateway ${report.gateway ?? '(none)'}, direct ${report.direct ?? '(none)'}, ${report.startedAt}.`,
    '',
    verdictLine(report),
    '',
    '| check | status | evidence |',
    '|---|---|---|',
    ...report.checks.map((c) => `| \`${c.id}\` | ${MARK[c.status]} | ${escapeCell(c.evidence)} |`),
    '',
    `Thresholds: delivery p99 ≤ ${report.thresholds.deliveryP99Ms} ms, TTFT overhead ≤ ${report.thresholds.ttftOverheadMs} ms, idle gap ${report.thresholds.idleGapMs / 1000} s, ${report.thresholds.concurrentStreams} concurrent streams.`,
    '',
  ].join('\n');
}

const xml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `compliance.xml`: JUnit, one test case per check (fail → failure, skip → skipped, warn → system-out). */
export function complianceToJunit(report: ComplianceReport): string {
  const failures = report.checks.filter((c) => c.status === 'fail').length;
  const skipped = report.checks.filter((c) => c.status === 'skip').length;
  const cases = report.checks.map((c) => {
    const open = `    <testcase classname="sse-compliance" name="${xml(c.id)}" time="0">`;
    const body =
      c.status === 'fail'
        ? `      <failure message="${xml(c.evidence)}">${xml(c.title)}</failure>`
        : c.status === 'skip'
          ? `      <skipped message="${xml(c.evidence)}"/>`
          : `      <system-out>${xml(`${c.status}: ${c.evidence}`)}</system-out>`;
    return `${open}\n${body}\n    </testcase>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="apim-streaming-lab" tests="${report.checks.length}" failures="${failures}" skipped="${skipped}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    `  <testsuite name="sse-compliance" tests="${report.checks.length}" failures="${failures}" skipped="${skipped}" timestamp="${report.startedAt}" time="${(report.durationMs / 1000).toFixed(3)}">`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** The chain in words: which hop first fails each check, with that hop's evidence. */
export function hopLines(report: ComplianceReport): string[] {
  const order = report.hops!.map((h) => h.path);
  const lines = [`Hop by hop (${order.join(' → ')}): ${report.hops!.map((h) => `${h.path} ${h.verdict}`).join(', ')}.`];
  for (const [id, hop] of Object.entries(report.firstFailingHop ?? {})) {
    const inside = order.slice(0, order.indexOf(hop));
    lines.push(
      `  ${id} first fails at ${hop}${inside.length > 0 ? ` (passes through ${inside.join(', ')})` : ''}: the ${hop} hop breaks it.`,
    );
  }
  return lines;
}
