/** Compiles validated rule specs into matchers the engine can run many thousands of times a second. */
import RE2 from 're2';
import { shannonEntropy } from './entropy';
import { isPlaceholder } from './placeholders';
import { LONG_RUN, type Gate } from './prefilter';
import type { RuleSpec } from './schema';
import { compileSql, SqlRuleError } from './sql';
import type { Action, ChatEvent } from './types';
import { validators } from './validators';

/** A span of the match text and the value found there. */
export interface Span {
  start: number;
  end: number;
  value: string;
}

/**
 * The text a rule looks at, as a string and as UTF-8 bytes. RE2 runs on the bytes: converting
 * the string for every regex would cost more than matching.
 */
export interface Subject {
  text: string;
  bytes: Buffer;
  /** [start, end) byte offsets of the runs of 12+ digits, when the prefilter has found them. */
  longRuns?: number[];
  /** Byte offset in `bytes` → UTF-16 offset in `text`. */
  charOffset(byteOffset: number): number;
}

export function subject(text: string): Subject {
  const bytes = Buffer.from(text, 'utf8');
  const ascii = bytes.length === text.length;
  return { text, bytes, charOffset: ascii ? (b) => b : (b) => bytes.subarray(0, b).toString('utf8').length };
}

/** A candidate the rule's pattern matched but a check turned down: what `sentinel scan --explain` prints. */
export interface Rejection {
  /** UTF-16 offsets of the candidate value in the match text. */
  start: number;
  end: number;
  /** The candidate itself: callers print only its redacted form. */
  value: string;
  /** Which check: entropy, placeholder, checksum, validate, allowlist. */
  check: 'entropy' | 'placeholder' | 'checksum' | 'validate' | 'allowlist';
  /** What about it, e.g. `3.1 bits/char < 3.5`, `luhn`, `allowlists.0 (stopwords)`. */
  detail: string;
}

export interface CompiledRule {
  spec: RuleSpec;
  /** Where the rule came from, for error messages. */
  file: string;
  actions: Action[];
  /** Message template ({user}, {channel}, {ts}, {team}, {rule}). */
  message: string;
  gate: Gate;
  inScope(event: ChatEvent): boolean;
  /** Matches in the (unescaped) text; `reject`, when given, hears of each candidate a check turned down. */
  find(subject: Subject, event: ChatEvent, reject?: (r: Rejection) => void): Span[];
}

/** A rule that validated but cannot be compiled; `field` says which part. */
export class RuleCompileError extends Error {
  override name = 'RuleCompileError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** What RE2 returns for a Buffer subject: byte offsets, Buffer groups. */
type BufferMatch = { index: number; 0: Buffer } & Record<number, Buffer | undefined>;

/** At most this many values per rule per event: enough to act on, bounded for a hostile message. */
const MAX_SPANS = 20;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function re2(pattern: string, flags: string, field: string): RE2 {
  try {
    return new RE2(pattern, flags);
  } catch (err) {
    throw new RuleCompileError(field, `RE2 cannot compile ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

function scopeOf(spec: RuleSpec): (e: ChatEvent) => boolean {
  const s = spec.scope;
  if (!s) return () => true;
  const types = s.event_types && new Set(s.event_types);
  const channels = s.channels && new Set(s.channels);
  const users = s.users && new Set(s.users);
  const excluded = s.exclude_users && new Set(s.exclude_users);
  const kinds = s.channel_kinds;
  return (e) =>
    (!types || types.has(e.eventType)) &&
    (!channels || channels.has(e.channel)) &&
    (!users || users.has(e.user)) &&
    (!excluded || !excluded.has(e.user)) &&
    (!kinds || kinds.some((k) => e.channelKinds?.includes(k)));
}

/** Validators that are checksums rather than shape checks, named so in explanations. */
const CHECKSUMS = new Set(['luhn', 'payment-card', 'iban', 'verhoeff', 'aadhaar', 'canada-sin']);

/** What an allowlist is tried against: the secret, the whole match and the line it is on. */
interface AllowTarget {
  secret: string;
  match: string;
  line: () => string;
}

/** Compiles `allow` and `allowlists` into one test; it answers which list held, or undefined. */
function allowTest(spec: RuleSpec): (t: AllowTarget) => string | undefined {
  const allow = (spec.allow ?? []).map((a, i) => re2(a, '', `allow.${i}`));
  const lists = (spec.allowlists ?? []).map((l, i) => ({
    name: `allowlists.${i}`,
    and: l.condition === 'and',
    target: l.regex_target,
    regexes: l.regexes?.map((r, j) => re2(r, '', `allowlists.${i}.regexes.${j}`)),
    stopwords: l.stopwords?.map((w) => w.toLowerCase()),
  }));
  if (allow.length === 0 && lists.length === 0) return () => undefined;
  return (t) => {
    if (allow.some((a) => a.test(t.secret))) return 'allow';
    for (const l of lists) {
      const results: boolean[] = [];
      if (l.regexes) {
        const subject = l.target === 'secret' ? t.secret : l.target === 'match' ? t.match : t.line();
        results.push(l.regexes.some((r) => r.test(subject)));
      }
      if (l.stopwords) {
        const lower = t.secret.toLowerCase();
        results.push(l.stopwords.some((w) => lower.includes(w)));
      }
      if (l.and ? results.every(Boolean) : results.some(Boolean)) return l.name;
    }
    return undefined;
  };
}

/** `pattern` with every capturing group made non-capturing (escapes and character classes respected). */
export function withoutCaptures(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      out += ch + (pattern[i + 1] ?? '');
      i += 1;
    } else if (inClass) {
      if (ch === ']') inClass = false;
      out += ch;
    } else if (ch === '[') {
      inClass = true;
      out += ch;
      // A ] right after [ or [^ is a literal member, not the end of the class.
      if (pattern[i + 1] === '^') out += pattern[++i];
      if (pattern[i + 1] === ']') out += pattern[++i];
    } else if (ch === '(' && pattern[i + 1] !== '?') {
      out += '(?:';
    } else if (ch === '(') {
      const named = /^\(\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(pattern.slice(i));
      if (named) {
        out += '(?:';
        i += named[0].length - 1;
      } else out += ch;
    } else out += ch;
  }
  return out;
}

/** Runs of digits, single spaces or dashes between them (as the prefilter counts digit runs). */
const DIGIT_RUN = /[0-9](?:[ -]?[0-9])+/g;

/** Validators that a number must pass Luhn (mod 10) for: the digit gate tries Luhn first, all lengths in one pass. */
const LUHN_FIRST = new Set(['luhn', 'payment-card', 'canada-sin']);
/** Luhn's doubled digit: 2d, less 9 when that has two digits. */
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/**
 * Whether the leading `min`..19 digits of some digit run in the subject pass `check`. With
 * `luhnFirst`, the Luhn sums of every length are kept in one pass over the digits, and `check` runs
 * only for the lengths whose check digit is right (one in ten).
 */
function someDigitRunPasses(s: Subject, min: number, check: (digits: string) => boolean, luhnFirst: boolean): boolean {
  const passes = (digits: number[]): boolean => {
    // plain[p] / doubled[p]: the digits at even (p 0) or odd (p 1) index, as they are and doubled.
    const plain = [0, 0];
    const doubled = [0, 0];
    const top = Math.min(19, digits.length);
    for (let i = 0; i < top; i++) {
      const d = digits[i]!;
      plain[i & 1]! += d;
      doubled[i & 1]! += DOUBLED[d]!;
      const n = i + 1;
      if (n < min) continue;
      // The last digit (index n-1) is not doubled, the one before is, and so on leftwards.
      const last = (n - 1) & 1;
      if (luhnFirst && (plain[last]! + doubled[last ^ 1]!) % 10 !== 0) continue;
      if (check(String.fromCharCode(...digits.slice(0, n).map((x) => x + 48)))) return true;
    }
    return false;
  };
  const collect = (from: number, to: number, at: (i: number) => number): number[] => {
    const out: number[] = [];
    for (let i = from; i < to; i++) {
      const c = at(i);
      if (c >= 48 && c <= 57) out.push(c - 48);
    }
    return out;
  };
  // The prefilter has already found the long runs on its pass over the bytes.
  if (s.longRuns && min >= LONG_RUN) {
    for (let k = 0; k < s.longRuns.length; k += 2) if (passes(collect(s.longRuns[k]!, s.longRuns[k + 1]!, (i) => s.bytes[i]!))) return true;
    return false;
  }
  DIGIT_RUN.lastIndex = 0;
  let run: RegExpExecArray | null;
  while ((run = DIGIT_RUN.exec(s.text)) !== null) {
    const t = run[0];
    if (passes(collect(0, t.length, (i) => t.charCodeAt(i)))) return true;
  }
  return false;
}

/** The line of `text` around [start, end). */
function lineAround(text: string, start: number, end: number): string {
  const from = text.lastIndexOf('\n', start - 1) + 1;
  const to = text.indexOf('\n', end);
  return text.slice(from, to < 0 ? text.length : to);
}

function regexFinder(spec: RuleSpec, allowed: (t: AllowTarget) => string | undefined): { find: CompiledRule['find']; gate: Gate } {
  const m = spec.match;
  const re = re2(m.regex!, `g${m.flags ?? ''}u`, 'match.regex');
  const groups = new RE2(`${m.regex!}|`, m.flags ?? '').exec('')?.length ?? 1;
  const group = m.secret_group ?? (groups > 1 ? 1 : 0);
  if (group >= groups) throw new RuleCompileError('match.secret_group', `the regex has ${groups - 1} capture groups; secret_group ${group} does not exist`);
  // RE2 finds where a match is with its fast automaton only when it need not report groups: locate
  // whole matches with a group-free copy, then take the group from the (short) match alone.
  const locate = group === 0 ? re : re2(withoutCaptures(m.regex!), `g${m.flags ?? ''}u`, 'match.regex');
  const inMatch = group === 0 ? undefined : re2(m.regex!, `${m.flags ?? ''}u`, 'match.regex');
  const groupOf = (whole: Buffer, at: number, text: Buffer): Buffer | undefined => {
    if (!inMatch) return whole;
    const g = inMatch.exec(whole) as BufferMatch | null;
    if (g && g.index === 0 && g[0].length === whole.length) return g[group];
    // The match read alone parsed differently (context at its edges): read it in place.
    re.lastIndex = at;
    const again = re.exec(text) as BufferMatch | null;
    return again && again.index === at ? again[group] : undefined;
  };
  const checks = (m.validate ?? []).map((v) => ({ name: v, check: validators[v] }));
  const judgePlaceholders = spec.category === 'secret' || spec.category === 'pii';
  const digitsCheck = m.digits_validate ? validators[m.digits_validate] : undefined;
  const luhnFirst = m.digits_validate !== undefined && LUHN_FIRST.has(m.digits_validate);
  const minDigits = m.min_digit_run ?? 0;
  const find = (s: Subject, _event: ChatEvent, reject?: (r: Rejection) => void): Span[] => {
    if (digitsCheck && !someDigitRunPasses(s, minDigits, digitsCheck, luhnFirst)) return [];
    // A yes/no scan is several times cheaper than finding where a match is: ask it first.
    locate.lastIndex = 0;
    if (!locate.test(s.bytes)) return [];
    const spans: Span[] = [];
    locate.lastIndex = 0;
    let hit: BufferMatch | null;
    while (spans.length < MAX_SPANS && (hit = locate.exec(s.bytes) as BufferMatch | null) !== null) {
      if (hit[0].length === 0) {
        locate.lastIndex += 1;
        continue;
      }
      const bytes = groupOf(hit[0], hit.index, s.bytes);
      if (!bytes || bytes.length === 0) continue;
      const value = bytes.toString('utf8');
      const startByte = group === 0 ? hit.index : hit.index + hit[0].indexOf(bytes);
      const start = s.charOffset(startByte);
      const end = start + value.length;
      const turnDown = (check: Rejection['check'], detail: string) => reject?.({ start, end, value, check, detail });
      if (m.entropy !== undefined) {
        const h = shannonEntropy(value);
        if (h < m.entropy) {
          turnDown('entropy', `${h.toFixed(2)} bits/char < ${m.entropy}`);
          continue;
        }
      }
      if (judgePlaceholders && isPlaceholder(value, spec.category === 'secret')) {
        turnDown('placeholder', 'a mask, template, placeholder word or published example');
        continue;
      }
      const failed = checks.find((c) => !c.check(value));
      if (failed) {
        turnDown(CHECKSUMS.has(failed.name) ? 'checksum' : 'validate', failed.name);
        continue;
      }
      const whole = hit[0];
      const list = allowed({ secret: value, match: whole.toString('utf8'), line: () => lineAround(s.text, start, end) });
      if (list) {
        turnDown('allowlist', list);
        continue;
      }
      spans.push({ start, end, value });
    }
    return spans;
  };
  return {
    find,
    gate: {
      anchors: (m.anchors ?? []).map((a) => a.toLowerCase()),
      minDigitRun: m.min_digit_run ?? 0,
      ...(m.shape ? { shape: m.shape } : {}),
      ...(m.requires ? { requires: m.requires } : {}),
    },
  };
}

function keywordFinder(spec: RuleSpec, allowed: (t: AllowTarget) => string | undefined): { find: CompiledRule['find']; gate: Gate } {
  const words = spec.match.keywords!;
  const re = re2(`\\b(?:${words.map(escapeRe).join('|')})\\b`, 'giu', 'match.keywords');
  const find = (s: Subject): Span[] => {
    re.lastIndex = 0;
    const hit = re.exec(s.bytes);
    if (!hit) return [];
    const value = hit[0].toString('utf8');
    const start = s.charOffset(hit.index);
    if (allowed({ secret: value, match: value, line: () => lineAround(s.text, start, start + value.length) })) return [];
    return [{ start, end: start + value.length, value }];
  };
  return { find, gate: { anchors: words.map((w) => w.toLowerCase()), minDigitRun: 0 } };
}

const defaultMessage = '<@{user}>, your message matched the security rule {rule} and was handled by Sentinel.';

/** Compiles one validated rule; throws RuleCompileError naming the field at fault. */
export function compileRule(spec: RuleSpec, file: string): CompiledRule {
  const allowed = allowTest(spec);
  let actions = spec.actions;
  let message = spec.message;
  let matcher: { find: CompiledRule['find']; gate: Gate };
  if (spec.match.sql !== undefined) {
    let sql;
    try {
      sql = compileSql(spec.match.sql, `rule ${spec.id}`);
    } catch (err) {
      if (err instanceof SqlRuleError) throw new RuleCompileError('match.sql', err.message);
      throw err;
    }
    if (sql.actions && spec.actions) throw new RuleCompileError('actions', 'give the actions once: in tp_action or in actions, not both');
    if (sql.message && spec.message) throw new RuleCompileError('message', 'give the message once: in tp_message or in message, not both');
    actions = sql.actions ?? spec.actions;
    message = sql.message ?? spec.message;
    const predicate = sql.predicate;
    matcher = {
      gate: { anchors: sql.anchors, minDigitRun: 0 },
      find: ({ text }, event) => {
        const ctx = { event, text, evidence: undefined as [number, number] | undefined };
        if (!predicate(ctx)) return [];
        const [start, end] = ctx.evidence ?? [0, text.length];
        const value = text.slice(start, end);
        return allowed({ secret: value, match: value, line: () => lineAround(text, start, end) }) ? [] : [{ start, end, value }];
      },
    };
  } else if (spec.match.regex !== undefined) {
    matcher = regexFinder(spec, allowed);
  } else {
    matcher = keywordFinder(spec, allowed);
  }
  if (!actions) throw new RuleCompileError('actions', spec.match.sql ? 'no actions: select a constant AS tp_action, or add actions' : 'actions is required');
  return { spec, file, actions, message: message ?? defaultMessage, gate: matcher.gate, inScope: scopeOf(spec), find: matcher.find };
}
