import { ALL_CHECKS } from '../../src/compliance/index.ts';

/**
 * What a finding sentence (a lab's finding, a headline, a check's failure evidence) must not
 * do, as a list of the rules it breaks (empty when it means what it says):
 * - give a check's title as the reason it failed (a title states what passing means);
 * - print a path's overhead as a bare difference ("came 0.1 ms sooner than direct") instead
 *   of the interval's words (describeShift: "adds X ms (95% CI …)", "no measurable difference");
 * - say a path adds time without its interval;
 * - start in lower case (a sentence; not a check's evidence, which is a table cell).
 */
export function findingWordProblems(text: string, options: { sentence?: boolean } = {}): string[] {
  const problems: string[] = [];
  for (const check of ALL_CHECKS) {
    if (text.toLowerCase().includes(check.title.toLowerCase()))
      problems.push(`gives the title of ${check.id} ("${check.title}") where its failure's evidence belongs`);
  }
  const bare = /\b[\d,.]+ ?(ms|s) (sooner|later|faster|slower) than\b/.exec(text);
  if (bare) problems.push(`states an overhead as a bare difference ("${bare[0]}") instead of its interval's words`);
  for (const adds of text.matchAll(/\badds [\d,.]+ ?(ms|s)\b[^.;]*/g)) {
    if (!/95% CI/.test(adds[0])) problems.push(`"${adds[0].slice(0, 60)}" has no interval`);
  }
  // A check's evidence is a table cell ("chat: …"); a finding is a sentence.
  if (options.sentence !== false)
    for (const line of text.split('\n').filter((l) => l.trim() !== '')) {
      if (/^\s*[a-z]/.test(line)) problems.push(`starts in lower case: "${line.slice(0, 40)}"`);
    }
  return problems;
}
