/** Runs the `tests` examples rule files carry: every `match` must produce a finding of that rule, no `no_match` may. */
import type { CompiledRule } from './compile';
import { evaluate, ruleSet } from './engine';
import type { ChatEvent } from './types';

export interface InlineFailure {
  ruleId: string;
  file: string;
  expected: 'match' | 'no_match';
  example: string;
}

export interface InlineReport {
  rules: number;
  examples: number;
  failures: InlineFailure[];
}

const exampleEvent = (text: string): ChatEvent => ({ source: 'test', team: 'T0', channel: 'C0', user: 'U0', ts: '0.0', eventType: 'message', text });

/** Every rule, disabled ones included, alone against its own examples (scope aside: examples carry only text). */
export function runInlineTests(rules: CompiledRule[]): InlineReport {
  const report: InlineReport = { rules: rules.length, examples: 0, failures: [] };
  for (const rule of rules) {
    const only = ruleSet([{ ...rule, spec: { ...rule.spec, enabled: true }, inScope: () => true }]);
    const cases = [
      ...(rule.spec.tests?.match ?? []).map((t) => ['match', t] as const),
      ...(rule.spec.tests?.no_match ?? []).map((t) => ['no_match', t] as const),
    ];
    for (const [expected, example] of cases) {
      report.examples += 1;
      const matched = evaluate(exampleEvent(example), only).length > 0;
      if (matched !== (expected === 'match')) report.failures.push({ ruleId: rule.spec.id, file: rule.file, expected, example });
    }
  }
  return report;
}
