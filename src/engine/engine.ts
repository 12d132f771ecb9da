/** The rule engine: a pure function from an event and compiled rules to findings. */
import { subject, type CompiledRule } from './compile';
import { Prefilter } from './prefilter';
import { excerpt } from './excerpt';
import { redact } from './redact';
import { matchText } from './text';
import type { ChatEvent, Finding } from './types';

export interface CompiledRules {
  /** Every loaded rule, enabled or not (inline tests run them all). */
  rules: CompiledRule[];
  /** The enabled rules, in the prefilter's order. */
  active: CompiledRule[];
  prefilter: Prefilter;
}

/** Builds the matching set: the enabled rules behind one prefilter. */
export function ruleSet(rules: CompiledRule[]): CompiledRules {
  const active = rules.filter((r) => r.spec.enabled);
  return { rules, active, prefilter: new Prefilter(active.map((r) => r.gate)) };
}

function fill(template: string, event: ChatEvent, ruleId: string): string {
  return template
    .replaceAll('{user}', event.user)
    .replaceAll('{channel}', event.channel)
    .replaceAll('{ts}', event.ts)
    .replaceAll('{team}', event.team)
    .replaceAll('{rule}', ruleId);
}

export interface EvaluateOptions {
  /** Fingerprints each matched value (an HMAC under the configured key); without it findings carry none. */
  fingerprint?: (value: string) => string;
}

/** Every match of every enabled rule in `event`, in rule order. */
export function evaluate(event: ChatEvent, compiled: CompiledRules, options: EvaluateOptions = {}): Finding[] {
  const mt = matchText(event.text);
  const s = subject(mt.text);
  const findings: Finding[] = [];
  const fallbacks: Finding[] = [];
  for (const index of compiled.prefilter.candidates(s.bytes, mt.text)) {
    const rule = compiled.active[index]!;
    if (!rule.inScope(event)) continue;
    const spans = rule.find(s, event);
    if (spans.length === 0) continue;
    const { spec } = rule;
    const message = fill(rule.message, event, spec.id);
    const into = spec.match.fallback ? fallbacks : findings;
    for (const span of spans) {
      into.push({
        ruleId: spec.id,
        description: spec.description,
        category: spec.category,
        severity: spec.severity,
        actions: rule.actions,
        message,
        approvalRequired: spec.approval === 'required',
        start: mt.toOriginal(span.start),
        end: mt.toOriginal(span.end),
        redacted: redact(span.value),
        excerpt: '',
        ...(options.fingerprint ? { fingerprint: options.fingerprint(span.value) } : {}),
      });
    }
  }
  if (findings.length === 0 && fallbacks.length === 0) return findings;
  // Every match is masked in every excerpt, the suppressed fallbacks too.
  const masked = [...findings, ...fallbacks];
  // A broad detector only speaks where no specific one did.
  for (const f of fallbacks) {
    if (!findings.some((g) => g.start < f.end && f.start < g.end)) findings.push(f);
  }
  for (const f of findings) f.excerpt = excerpt(event.text, f, masked);
  return findings;
}
