/** `sentinel rules test`: load every rule file, report problems, run the inline examples. */
import { loadConfig } from '../config';
import { runInlineTests } from '../engine/inline-tests';
import { formatProblem, loadRules } from '../engine/load';

/** Exit code: 0 all good, 1 an example failed, 2 a rule file has problems. */
export function rulesTest(dir: string | undefined): number {
  const rulesDir = dir ?? loadConfig().rulesDir;
  const loaded = loadRules(rulesDir);
  for (const p of loaded.problems) process.stderr.write(`problem: ${formatProblem(p)}\n`);
  const report = runInlineTests(loaded.rules);
  for (const f of report.failures) {
    process.stdout.write(`FAIL ${f.ruleId} (${f.file}): expected ${f.expected === 'match' ? 'a match' : 'no match'} for ${JSON.stringify(f.example)}\n`);
  }
  process.stdout.write(
    `${loaded.files.length} files, ${report.rules} rules, ${report.examples} examples: ${report.examples - report.failures.length} passed, ${report.failures.length} failed` +
      (loaded.problems.length ? `; ${loaded.problems.length} rule file problems` : '') +
      '\n',
  );
  if (loaded.problems.length) return 2;
  return report.failures.length ? 1 : 0;
}
