/** The rule engine: a pure function from an event and compiled rules to findings. */
import { redact } from './redact';
import type { RuleSpec } from './schema';
import type { ChatEvent, Finding } from './types';

export interface CompiledRule {
  spec: RuleSpec;
  /** Where the rule came from, for error messages. */
  file: string;
  pattern: RegExp;
}

export interface CompiledRules {
  rules: CompiledRule[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles one keyword rule: any keyword, whole words, case-insensitive. */
export function compileRule(spec: RuleSpec, file: string): CompiledRule {
  const alternatives = spec.match.keywords.map((k) => escape(k)).join('|');
  return { spec, file, pattern: new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives})(?![\\p{L}\\p{N}_])`, 'giu') };
}

function fill(template: string, event: ChatEvent, spec: RuleSpec): string {
  return template.replaceAll('{user}', event.user).replaceAll('{rule}', spec.id);
}

/** Every rule that matches `event`, one finding per rule (its first match). */
export function evaluate(event: ChatEvent, compiled: CompiledRules): Finding[] {
  const findings: Finding[] = [];
  for (const rule of compiled.rules) {
    rule.pattern.lastIndex = 0;
    const m = rule.pattern.exec(event.text);
    if (!m) continue;
    const { spec } = rule;
    findings.push({
      ruleId: spec.id,
      description: spec.description,
      category: spec.category,
      severity: spec.severity,
      actions: spec.actions,
      message: fill(spec.message, event, spec),
      start: m.index,
      end: m.index + m[0].length,
      redacted: redact(m[0]),
    });
  }
  return findings;
}
