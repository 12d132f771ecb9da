/** The rule engine: a pure function from an event and compiled rules to findings. */
import { subject, type CompiledRule, type Rejection } from './compile';
import { decodedLayers, type Encoding } from './decode';
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
  /** How many layers of encoding (base64, hex, percent, JSON escapes) to look inside; default 2, 0 turns decoding off. */
  maxDecodeDepth?: number;
  /** Hears of every candidate a rule's pattern matched but a check turned down (`sentinel scan --explain`). */
  explain?: (e: Explanation) => void;
}

/** A candidate turned down, in the event's delivered text: never the value, only its redacted form. */
export interface Explanation {
  ruleId: string;
  start: number;
  end: number;
  redacted: string;
  check: Rejection['check'] | 'superseded';
  detail: string;
  /** The encodings the candidate was found inside, outermost first; empty for plain text. */
  encodings: Encoding[];
}

/** Whether two spans share a character. */
const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) => a.start < b.end && b.start < a.end;

/** Layers of encoding looked inside by default (gitleaks calls this the decode depth). */
export const DEFAULT_DECODE_DEPTH = 2;

/** Every match of every enabled rule in `event`, in rule order; then matches inside encoded pieces. */
export function evaluate(event: ChatEvent, compiled: CompiledRules, options: EvaluateOptions = {}): Finding[] {
  const mt = matchText(event.text);
  const findings: Finding[] = [];
  const fallbacks: Finding[] = [];
  const maxDepth = options.maxDecodeDepth ?? DEFAULT_DECODE_DEPTH;
  const explain = options.explain;

  /**
   * Candidates a specific detector knew for what they are (a placeholder, an allowlisted or
   * low-entropy value of its format): a broad fallback rule must not call them secrets either.
   */
  const known: { start: number; end: number; ruleId: string; check: string }[] = [];

  const visit = (text: string, toOriginal: (s: number, e: number) => [number, number], encodings: Encoding[]): void => {
    const s = subject(text);
    const candidates = compiled.prefilter.candidates(s.bytes, text);
    const hints = compiled.prefilter.hints;
    s.longRuns = compiled.prefilter.longRuns;
    for (const index of candidates) {
      const rule = compiled.active[index]!;
      if (!rule.inScope(event)) continue;
      const { spec } = rule;
      const specific = !spec.match.fallback;
      const reject =
        explain || specific
          ? (r: Rejection) => {
              const [start, end] = toOriginal(r.start, r.end);
              if (specific && (r.check === 'placeholder' || r.check === 'allowlist' || r.check === 'entropy')) known.push({ start, end, ruleId: spec.id, check: r.check });
              explain?.({ ruleId: spec.id, start, end, redacted: redact(r.value), check: r.check, detail: r.detail, encodings });
            }
          : undefined;
      const spans = rule.find(s, event, reject);
      if (spans.length === 0) continue;
      const message = fill(rule.message, event, spec.id);
      const into = spec.match.fallback ? fallbacks : findings;
      for (const span of spans) {
        const [start, end] = toOriginal(span.start, span.end);
        // What an encoded piece holds counts only where no specific detector already named the text: a
        // token found as it stands (or a layer re-reading it, JSON escapes undone) is not found again
        // inside. A broad fallback's finding on the encoded blob gives way to a specific one inside it.
        const here = { start, end };
        const overlaps = (f: Finding) => overlap(f, here);
        if (encodings.length > 0 && (findings.some(overlaps) || (!specific && fallbacks.some(overlaps)))) continue;
        into.push({
          ruleId: spec.id,
          description: spec.description,
          category: spec.category,
          severity: spec.severity,
          actions: rule.actions,
          message,
          approvalRequired: spec.approval === 'required',
          start,
          end,
          redacted: redact(span.value),
          excerpt: '',
          ...(encodings.length ? { encodings } : {}),
          ...(options.fingerprint ? { fingerprint: options.fingerprint(span.value) } : {}),
        });
      }
    }
    if (encodings.length >= maxDepth || hints === 0) return;
    for (const layer of decodedLayers(text, hints)) {
      visit(layer.text, (a, b) => toOriginal(...layer.toOuter(a, b)), [...encodings, layer.encoding]);
    }
  };
  visit(mt.text, (a, b) => [mt.toOriginal(a), mt.toOriginal(b)], []);

  if (findings.length === 0 && fallbacks.length === 0) return findings;
  // Every match is masked in every excerpt, the suppressed fallbacks too.
  const masked = [...findings, ...fallbacks];
  // A broad detector only speaks where no specific one did, or knew the value for a placeholder.
  for (const f of fallbacks) {
    const overlaps = (g: { start: number; end: number }) => overlap(g, f);
    const specific = findings.find(overlaps);
    const knownValue = specific ? undefined : known.find(overlaps);
    if (!specific && !knownValue) findings.push(f);
    else {
      const detail = specific ? `by ${specific.ruleId}` : `by ${knownValue!.ruleId}, which turned the value down (${knownValue!.check})`;
      explain?.({ ruleId: f.ruleId, start: f.start, end: f.end, redacted: f.redacted, check: 'superseded', detail, encodings: f.encodings ?? [] });
    }
  }
  for (const f of findings) f.excerpt = excerpt(event.text, f, masked);
  return findings;
}
