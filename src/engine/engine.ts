/** The rule engine: a pure function from an event and compiled rules to findings. */
import { subject, type CompiledRule, type Rejection, type Span } from './compile';
import { decodedLayers, type Encoding } from './decode';
import { Prefilter } from './prefilter';
import { excerpt, redactAll } from './excerpt';
import { redact } from './redact';
import { identityOffset, matchText } from './text';
import type { ChatEvent, Finding } from './types';
import type { StatefulSet } from '../correlate/model';

export interface CompiledRules {
  /** Every loaded rule, enabled or not (inline tests run them all). */
  rules: CompiledRule[];
  /** The enabled rules, in the prefilter's order. */
  active: CompiledRule[];
  prefilter: Prefilter;
  /** Stateful rules, when loaded from files (load.ts): the detector turns events into their facts. */
  stateful?: StatefulSet;
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

/** The span itself, for a text delivered without entities. */
const identitySpan: ToOriginal = (start, end) => [start, end];

/** Layers of encoding looked inside by default (gitleaks calls this the decode depth). */
export const DEFAULT_DECODE_DEPTH = 2;

const NO_OPTIONS: EvaluateOptions = {};

/** A span of a text mapped to the event's delivered text. */
type ToOriginal = (start: number, end: number) => [number, number];

/**
 * One evaluate() call: what it was asked and what it has found so far, shared by the text and its
 * decoded layers. The hot path makes no closures: under tsx every named function made at run time
 * costs a defineProperty (its keepNames helper), which was a large share of a message's time.
 */
interface Evaluation {
  event: ChatEvent;
  compiled: CompiledRules;
  options: EvaluateOptions;
  explain: ((e: Explanation) => void) | undefined;
  maxDepth: number;
  findings: Finding[];
  fallbacks: Finding[];
  /**
   * Candidates a specific detector knew for what they are (a placeholder, an allowlisted or
   * low-entropy value of its format): a broad fallback rule must not call them secrets either.
   */
  known: { start: number; end: number; ruleId: string; check: string }[];
  /** The rule running, and where its text sits: what a turned-down candidate is reported against. */
  rule: CompiledRule | undefined;
  toOriginal: ToOriginal;
  encodings: Encoding[];
  /** Hears of the running rule's turned-down candidates; made on the first candidate of the event. */
  reject: ((r: Rejection) => void) | undefined;
}

/** The callback rules report turned-down candidates to, for the rule `ev.rule` names. */
function rejecter(ev: Evaluation): (r: Rejection) => void {
  return (r) => {
    const { spec } = ev.rule!;
    const specific = !spec.match.fallback;
    if (!ev.explain && !specific) return;
    const [start, end] = ev.toOriginal(r.start, r.end);
    if (specific && (r.check === 'placeholder' || r.check === 'allowlist' || r.check === 'entropy')) ev.known.push({ start, end, ruleId: spec.id, check: r.check });
    ev.explain?.({ ruleId: spec.id, start, end, redacted: redact(r.value), check: r.check, detail: r.detail, encodings: ev.encodings });
  };
}

/** Runs the rules whose gates `text` opens (`encodings` deep inside the event's text), then looks inside what it has encoded. */
function visit(ev: Evaluation, text: string, toOriginal: ToOriginal, encodings: Encoding[]): void {
  const { prefilter, active } = ev.compiled;
  const s = subject(text);
  const candidates = prefilter.candidates(s.bytes, text);
  const hints = prefilter.hints;
  // Most texts stop here: no gate open and nothing encoded.
  if (candidates.length > 0) {
    s.longRuns = prefilter.longRuns;
    ev.reject ??= rejecter(ev);
    for (const index of candidates) {
      const rule = active[index]!;
      if (!rule.inScope(ev.event)) continue;
      ev.rule = rule;
      ev.toOriginal = toOriginal;
      ev.encodings = encodings;
      const spans = rule.find(s, ev.event, ev.reject);
      if (spans.length > 0) record(ev, rule, spans, toOriginal, encodings);
    }
  }
  if (encodings.length >= ev.maxDepth || hints === 0) return;
  for (const layer of decodedLayers(text, hints)) {
    visit(ev, layer.text, (a, b) => toOriginal(...layer.toOuter(a, b)), [...encodings, layer.encoding]);
  }
}

/** Turns a rule's spans into findings (or fallbacks, for a broad rule). */
function record(ev: Evaluation, rule: CompiledRule, spans: Span[], toOriginal: ToOriginal, encodings: Encoding[]): void {
  const { spec } = rule;
  const { event, options, findings, fallbacks } = ev;
  const specific = !spec.match.fallback;
  const message = fill(rule.message, event, spec.id);
  const into = specific ? findings : fallbacks;
  for (const span of spans) {
    const [start, end] = toOriginal(span.start, span.end);
    // What an encoded piece holds counts only where no specific detector already named the text: a
    // token found as it stands (or a layer re-reading it, JSON escapes undone) is not found again
    // inside. A broad fallback's finding on the encoded blob gives way to a specific one inside it.
    const here = { start, end };
    if (encodings.length > 0 && (findings.some((f) => overlap(f, here)) || (!specific && fallbacks.some((f) => overlap(f, here))))) continue;
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

/** Every match of every enabled rule in `event`, in rule order; then matches inside encoded pieces. */
export function evaluate(event: ChatEvent, compiled: CompiledRules, options: EvaluateOptions = NO_OPTIONS): Finding[] {
  const mt = matchText(event.text);
  const toOriginal: ToOriginal = mt.toOriginal === identityOffset ? identitySpan : (a, b) => [mt.toOriginal(a), mt.toOriginal(b)];
  const ev: Evaluation = {
    event,
    compiled,
    options,
    explain: options.explain,
    maxDepth: options.maxDecodeDepth ?? DEFAULT_DECODE_DEPTH,
    findings: [],
    fallbacks: [],
    known: [],
    rule: undefined,
    toOriginal,
    encodings: [],
    reject: undefined,
  };
  visit(ev, mt.text, toOriginal, ev.encodings);
  const { findings, fallbacks, known, explain } = ev;

  if (findings.length === 0 && fallbacks.length === 0) return findings;
  // Every match is masked in every excerpt, the suppressed fallbacks too.
  const masked = [...findings, ...fallbacks];
  // A broad detector only speaks where no specific one did, or knew the value for a placeholder.
  for (const f of fallbacks) {
    const specific = findings.find((g) => overlap(g, f));
    const knownValue = specific ? undefined : known.find((g) => overlap(g, f));
    if (!specific && !knownValue) findings.push(f);
    else {
      const detail = specific ? `by ${specific.ruleId}` : `by ${knownValue!.ruleId}, which turned the value down (${knownValue!.check})`;
      explain?.({ ruleId: f.ruleId, start: f.start, end: f.end, redacted: f.redacted, check: 'superseded', detail, encodings: f.encodings ?? [] });
    }
  }
  let whole: string | undefined;
  for (const f of findings) {
    f.excerpt = excerpt(event.text, f, masked);
    // Only rules that redact the message need all of it redacted: computed once per event, for them.
    if (f.actions.includes('redact')) f.redactedText = whole ??= redactAll(event.text, masked);
  }
  return findings;
}
