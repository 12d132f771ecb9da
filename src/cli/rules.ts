/** `sentinel rules test`: load every rule file, report problems, run the inline examples. */
import { loadConfig } from '../config';
import { runInlineTests } from '../engine/inline-tests';
import { formatProblem, loadRules } from '../engine/load';
import { runSequenceTests } from '../correlate/sequence-tests';

/** Exit code: 0 all good, 1 an example failed, 2 a rule file has problems. */
export function rulesTest(dir: string | undefined): number {
  const rulesDir = dir ?? loadConfig().rulesDir;
  const loaded = loadRules(rulesDir);
  for (const p of loaded.problems) process.stderr.write(`problem: ${formatProblem(p)}\n`);
  const report = runInlineTests(loaded.rules);
  for (const f of report.failures) {
    process.stdout.write(`FAIL ${f.ruleId} (${f.file}): expected ${f.expected === 'match' ? 'a match' : 'no match'} for ${JSON.stringify(f.example)}\n`);
  }
  // Stateful rules' sequences count as examples: each is one run of events through facts and the evaluator.
  const sequences = runSequenceTests(loaded.stateful.rules, loaded);
  for (const f of sequences.failures) {
    process.stdout.write(`FAIL ${f.ruleId} (${f.file}): sequence ${JSON.stringify(f.test)} fired ${f.got} match${f.got === 1 ? '' : 'es'}, expected ${f.expected}\n`);
  }
  const rules = report.rules + sequences.rules;
  const examples = report.examples + sequences.sequences;
  const failed = report.failures.length + sequences.failures.length;
  process.stdout.write(
    `${loaded.files.length} files, ${rules} rules, ${examples} examples: ${examples - failed} passed, ${failed} failed` +
      (loaded.problems.length ? `; ${loaded.problems.length} rule file problems` : '') +
      '\n',
  );
  if (loaded.problems.length) return 2;
  return failed ? 1 : 0;
}
