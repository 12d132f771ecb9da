/** Compiles validated rule specs into matchers the engine can run many thousands of times a second. */
import RE2 from 're2';
import { shannonEntropy } from './entropy';
import { isPlaceholder } from './placeholders';
import { LONG_RUN, type Gate } from './prefilter';
import type { RuleSpec } from './schema';
import { compileSql, SqlRuleError } from './sql';
import type { Action, ChatEvent } from './types';
import { REMOVAL_ACTIONS } from '../../contract/types';
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
  /** `text` in UTF-8. */
  readonly bytes: Buffer;
  /** [start, end) byte offsets in `bytes` of the runs of 12+ digits, when the prefilter has found them. */
  longRuns?: readonly number[];
  /** Byte offset in `bytes` → UTF-16 offset in `text`. */
  charOffset(byteOffset: number): number;
}

/**
 * The bytes of the subject being matched, written into one buffer that is reused: a Buffer made
 * per text (and a new backing store every few dozen texts) cost more than the matching it was made
 * for. A view of each length is kept, so handing RE2 the bytes allocates nothing. RE2 reads them
 * only during a call (it caches strings, never buffers), and exec() copies what it returns.
 */
const SCRATCH_SIZE = 16 * 1024;
const scratch = Buffer.allocUnsafeSlow(SCRATCH_SIZE);
/** views[n]: the first n bytes of the scratch, made on first use. */
const views: (Buffer | undefined)[] = Array.from({ length: SCRATCH_SIZE + 1 }, () => undefined);
/** Subjects are numbered; the scratch holds the text of the one numbered here. */
let subjects = 0;
let scratchHolder = 0;

class TextSubject implements Subject {
  longRuns?: readonly number[];
  private readonly serial = ++subjects;
  /** The text's own UTF-8 bytes, for a text too long for the scratch. */
  private own: Buffer | undefined;
  /** The scratch's view of this text's bytes, valid while it holds them. */
  private view: Buffer | undefined;
  /** Whether every character is ASCII, so byte and character offsets agree; known once the bytes are written. */
  private ascii = false;

  constructor(readonly text: string) {}

  /**
   * The UTF-8 bytes, valid until another subject's are asked for: a subject that reads them again
   * after that writes them again. Nothing holds them across subjects (a text's decoded layers are
   * matched after the text itself is done with).
   */
  get bytes(): Buffer {
    if (this.own) return this.own;
    if (scratchHolder === this.serial) return this.view!;
    const { text } = this;
    // UTF-8 takes at most three bytes per UTF-16 code unit.
    if (text.length * 3 > SCRATCH_SIZE) {
      this.own = Buffer.from(text, 'utf8');
      this.ascii = this.own.length === text.length;
      return this.own;
    }
    const n = scratch.write(text, 0, 'utf8');
    this.ascii = n === text.length;
    scratchHolder = this.serial;
    this.view = views[n] ??= scratch.subarray(0, n);
    return this.view;
  }

  charOffset(byteOffset: number): number {
    const bytes = this.bytes;
    return this.ascii ? byteOffset : bytes.subarray(0, byteOffset).toString('utf8').length;
  }
}

/** The subject for `text`. */
export function subject(text: string): Subject {
  return new TextSubject(text);
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

/** The scope of a rule without one: one function for all of them, so the engine's call to it stays monomorphic. */
const everywhere = (): boolean => true;

function scopeOf(spec: RuleSpec): (e: ChatEvent) => boolean {
  const s = spec.scope;
  if (!s) return everywhere;
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
  /** The text and where the secret is in it: the line is cut out only when a list asks for it. */
  text: string;
  start: number;
  end: number;
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
        const subject = l.target === 'secret' ? t.secret : l.target === 'match' ? t.match : lineAround(t.text, t.start, t.end);
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
  return stripCaptures(pattern).pattern;
}

/** `pattern` with every capturing group made non-capturing, and how many there were. */
export function stripCaptures(pattern: string): { pattern: string; captures: number } {
  let out = '';
  let captures = 0;
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
      captures += 1;
    } else if (ch === '(') {
      const named = /^\(\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(pattern.slice(i));
      if (named) {
        out += '(?:';
        captures += 1;
        i += named[0].length - 1;
      } else out += ch;
    } else out += ch;
  }
  return { pattern: out, captures };
}

/**
 * The offset of the `)` closing the group opened at `open` in `pattern`, or -1 (escapes and
 * character classes respected, as in withoutCaptures).
 */
function closingParen(pattern: string, open: number): number {
  let depth = 0;
  let inClass = false;
  for (let i = open; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') i += 1;
    else if (inClass) {
      if (ch === ']') inClass = false;
    } else if (ch === '[') {
      inClass = true;
      if (pattern[i + 1] === '^') i += 1;
      if (pattern[i + 1] === ']') i += 1;
    } else if (ch === '(') depth += 1;
    else if (ch === ')' && --depth === 0) return i;
  }
  return -1;
}


/**
 * Whether capture group 1 is the whole of every match: the pattern is one capturing group with
 * nothing around it but inline flags and zero-width assertions (`\b(ghp_[0-9A-Za-z]{36})\b`).
 */
export function groupIsWholeMatch(pattern: string): boolean {
  const lead = /^(?:\(\?[imsU-]*\)|\\[bBA]|\^)*/.exec(pattern)![0].length;
  if (pattern[lead] !== '(' || pattern[lead + 1] === '?') return false;
  const close = closingParen(pattern, lead);
  return close > 0 && /^(?:\\[bBz]|\$)*$/.test(pattern.slice(close + 1));
}

/**
 * Counted repetitions with an upper bound this high or higher make RE2's search for where a match
 * starts (its reverse automaton) outgrow its memory and fall back to a far slower engine: a GitHub
 * App token's `{16,1000}` took milliseconds to locate, where the yes/no scan took microseconds.
 */
const LARGE_BOUND = 200;
/** RE2's largest counted repetition (https://github.com/google/re2/wiki/Syntax: `{n,m}` with n, m ≤ 1000). */
const RE2_MAX_REPEAT = 1000;

/** A pattern with its large bounds opened (relaxBounds). */
export interface RelaxedPattern {
  source: string;
  /**
   * How long (in bytes) a match of `source` may be and still be the pattern's own match at the
   * same place, groups and all: the smallest bound opened, when every repetition opened is of a
   * character class; 0 when one is not (then every match is checked against the pattern).
   *
   * Why: the pattern's ways of matching are the relaxed one's, less those repeating some opened
   * class more often than its bound, and RE2 ranks them in the same order (greedy or lazy alike).
   * A class takes one character per repetition, so a match no longer than every opened bound
   * repeats none of them past its bound: the way RE2 chose for the relaxed pattern is open to the
   * pattern itself, and is ranked first there too. Nor can the pattern match further left, since
   * wherever it matches the relaxed pattern matches too.
   */
  upTo: number;
}

/**
 * `pattern` with every counted repetition bounded at LARGE_BOUND or more left open (`{16,1000}`
 * becomes `{16,}`), or undefined when it has none. Wherever the pattern matches, this one matches
 * too (it only allows more), and it is quick to locate.
 */
export function relaxBounds(pattern: string): RelaxedPattern | undefined {
  let out = '';
  let inClass = false;
  let relaxed = false;
  let upTo = Infinity;
  // Where the last character class closed in `out`: a repetition right after it repeats the class.
  let classEnd = -1;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      out += ch + (pattern[i + 1] ?? '');
      i += 1;
    } else if (inClass) {
      if (ch === ']') {
        inClass = false;
        classEnd = out.length + 1;
      }
      out += ch;
    } else if (ch === '[') {
      inClass = true;
      out += ch;
      if (pattern[i + 1] === '^') out += pattern[++i];
      if (pattern[i + 1] === ']') out += pattern[++i];
    } else if (ch === '{') {
      const counted = /^\{(\d+),(\d+)\}/.exec(pattern.slice(i));
      // Opened, a bound RE2 would refuse no longer shows: refuse it here, as RE2 would.
      if (counted && Number(counted[2]) > RE2_MAX_REPEAT) {
        throw new RuleCompileError('match.regex', `RE2 cannot compile ${JSON.stringify(pattern)}: bad repetition operator ${counted[0]} (at most ${RE2_MAX_REPEAT})`);
      }
      if (counted && Number(counted[2]) >= LARGE_BOUND) {
        upTo = classEnd === out.length ? Math.min(upTo, Number(counted[2])) : 0;
        out += `{${counted[1]},}`;
        i += counted[0].length - 1;
        relaxed = true;
      } else out += ch;
    } else out += ch;
  }
  return relaxed ? { source: out, upTo } : undefined;
}

/** relaxBounds' pattern alone. */
export function relaxLargeBounds(pattern: string): string | undefined {
  return relaxBounds(pattern)?.source;
}

/**
 * Finds the leftmost match at or after a byte offset, as a global regex's exec() from there gives
 * it, groups included, with a regex anchored where the search starts that skips ahead lazily to
 * the match: `(?s:.*?)(pattern)`, sticky. The leftmost match is the one the lazy skip reaches
 * first, and group 1 is it. Anchored, RE2 runs forwards only: an unanchored search for where a
 * match starts also builds a reverse program and automaton (about three times the memory of the
 * search itself; a detector that had located every rule's match once held some 55 MB of them).
 * It is compiled on first use: only texts the probe passes get here, and a rule may go a long time
 * without one.
 *
 * For a pattern with large counted repetitions, RE2's own search is slow and its program large
 * (see LARGE_BOUND): the relaxed pattern finds the match, and is the answer wherever the match is
 * short enough (RelaxedPattern.upTo), which real tokens are. A longer one is checked with the
 * pattern itself, anchored where the relaxed match starts: the first start it confirms is the
 * leftmost match's, since every start of the pattern is a start of the relaxed one. So the
 * pattern as written, with its bounds spelled out, is built only for a text with a match that long.
 */
class MatchLocator {
  private readonly relaxedPattern: RelaxedPattern | undefined;
  /** Whether a match from an offset on is also a match of the text from there alone, and so the probe can rule one out. */
  private readonly tailTestable: boolean;
  private finder: RE2 | undefined;
  private anchored: RE2 | undefined;

  /** @param probe the pattern without groups and with its large bounds opened, for test() alone (regexFinder's). */
  constructor(
    private readonly pattern: string,
    private readonly flags: string,
    private readonly probe: RE2,
  ) {
    this.relaxedPattern = relaxBounds(pattern);
    // Read alone, the rest of a text starts a text: `^` and `\b` may hold there where they did not,
    // so it has every match the whole text has from there, and maybe more; only `\B` could hold in
    // the whole text and fail alone.
    this.tailTestable = !/\\B/.test(pattern);
  }

  next(text: Buffer, from: number): BufferMatch | null {
    const open = this.relaxedPattern;
    for (let at = from; at <= text.length; ) {
      const maybe = this.search(text, at);
      if (!maybe || !open || maybe[0].length <= open.upTo) return maybe;
      const anchored = (this.anchored ??= re2(this.pattern, `y${this.flags}u`, 'match.regex'));
      anchored.lastIndex = maybe.index;
      const hit = anchored.exec(text) as BufferMatch | null;
      if (hit) return hit;
      at = maybe.index + 1;
    }
    return null;
  }

  /** The leftmost match of the pattern (its large bounds opened) at or after `at`. */
  private search(text: Buffer, at: number): BufferMatch | null {
    // Most texts hold one match: after it, the probe tells there is no other.
    if (at > 0 && this.tailTestable && !this.probe.test(text.subarray(at))) return null;
    const finder = (this.finder ??= re2(`(?s:.*?)(${this.relaxedPattern?.source ?? this.pattern})`, `y${this.flags}u`, 'match.regex'));
    finder.lastIndex = at;
    const found = finder.exec(text) as BufferMatch | null;
    if (!found) return null;
    // Group 1 is the match, and it ends where the whole does; the pattern's own groups follow it.
    const match = (found as unknown as Buffer[]).slice(1) as unknown as BufferMatch;
    match.index = found.index + found[0].length - found[1]!.length;
    return match;
  }
}

/** Runs of digits, single spaces or dashes between them (as the prefilter counts digit runs). */
const DIGIT_RUN = /[0-9](?:[ -]?[0-9])+/g;

/** Validators that a number must pass Luhn (mod 10) for: the digit gate tries Luhn first, all lengths in one pass. */
const LUHN_FIRST = new Set(['luhn', 'payment-card', 'canada-sin']);
/** Luhn's doubled digit: 2d, less 9 when that has two digits. */
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/**
 * Whether the leading `min`..19 digits of the digit run bytes[from, to) pass `check`. With
 * `luhnFirst`, the Luhn sums of every length are kept in one pass over the digits, and `check` runs
 * only for the lengths whose check digit is right (one in ten): only those build a string.
 */
function runPasses(bytes: Uint8Array, from: number, to: number, min: number, check: (digits: string) => boolean, luhnFirst: boolean): boolean {
  // plain0/doubled0: the digits at even index, as they are and doubled; plain1/doubled1 the odd ones.
  let plain0 = 0;
  let plain1 = 0;
  let doubled0 = 0;
  let doubled1 = 0;
  let n = 0;
  for (let i = from; i < to && n < 19; i++) {
    const d = bytes[i]! - 48;
    if (d < 0 || d > 9) continue; // a separator
    if ((n & 1) === 0) {
      plain0 += d;
      doubled0 += DOUBLED[d]!;
    } else {
      plain1 += d;
      doubled1 += DOUBLED[d]!;
    }
    n += 1;
    if (n < min) continue;
    // The last digit (index n-1) is not doubled, the one before is, and so on leftwards.
    if (luhnFirst && ((n & 1) === 1 ? plain0 + doubled1 : plain1 + doubled0) % 10 !== 0) continue;
    let digits = '';
    for (let k = from; k <= i; k++) if (bytes[k]! >= 48 && bytes[k]! <= 57) digits += String.fromCharCode(bytes[k]!);
    if (check(digits)) return true;
  }
  return false;
}

/**
 * Whether the leading `min`..19 digits of some digit run in the subject pass `check` (see runPasses).
 */
function someDigitRunPasses(s: Subject, min: number, check: (digits: string) => boolean, luhnFirst: boolean): boolean {
  // The prefilter has already found the long runs on its pass over the bytes.
  const runs = s.longRuns;
  if (runs && min >= LONG_RUN) {
    const bytes = s.bytes;
    for (let k = 0; k < runs.length; k += 2) if (runPasses(bytes, runs[k]!, runs[k + 1]!, min, check, luhnFirst)) return true;
    return false;
  }
  DIGIT_RUN.lastIndex = 0;
  let run: RegExpExecArray | null;
  while ((run = DIGIT_RUN.exec(s.text)) !== null) {
    // A run is digits, spaces and dashes: ASCII, its characters are its bytes.
    const bytes = Buffer.from(run[0], 'latin1');
    if (runPasses(bytes, 0, bytes.length, min, check, luhnFirst)) return true;
  }
  return false;
}

/** The line of `text` around [start, end). */
function lineAround(text: string, start: number, end: number): string {
  const from = text.lastIndexOf('\n', start - 1) + 1;
  const to = text.indexOf('\n', end);
  return text.slice(from, to < 0 ? text.length : to);
}

function regexFinder(spec: RuleSpec, allowed: (t: AllowTarget) => string | undefined, lazy: boolean): { find: CompiledRule['find']; gate: Gate } {
  const m = spec.match;
  const flags = m.flags ?? '';
  // One regex is built when the rule loads: the probe, the pattern without its groups and with its
  // large bounds opened. RE2 builds a pattern as written with `{16,1000}` thrice in tens of
  // milliseconds (the pack took about a second to load, most of a short `sentinel scan`), opened
  // in a fraction of that. Opened, it matches wherever the pattern does, so it can turn texts
  // away; bounds over RE2's limit are refused by relaxLargeBounds. The locator builds what it needs
  // on the rule's first candidate match (MatchLocator). The groups are counted as they are dropped
  // (the group-free copy must have none).
  const stripped = stripCaptures(m.regex!);
  const groups = stripped.captures + 1;
  const group = m.secret_group ?? (groups > 1 ? 1 : 0);
  if (group >= groups) throw new RuleCompileError('match.secret_group', `the regex has ${groups - 1} capture groups; secret_group ${group} does not exist`);
  const groupFree = groups > 1 ? stripped.pattern : m.regex!;
  // The groups are read where the match is, in the same call (MatchLocator). A group that is the
  // whole match (`\b(…)\b`) needs no groups read at all: those rules match without them.
  const readsGroup = group !== 0 && !(group === 1 && groupIsWholeMatch(m.regex!));
  // RE2 answers "is there a match" with its fast automaton, stopping at the first one it sees, only
  // when asked without a position (a global regex's test() asks where the match ends): a
  // non-global copy turns away the texts that do not match. Asked only that, it never builds the
  // automaton that runs backwards from a match's end to its start, nor the program for it: about
  // 150 KB a pattern, which every rule's probe would come to hold in a detector that has seen
  // each rule match once. It differs from the rule's pattern only in its groups and bounds: a
  // pattern RE2 rejects is reported as the rule wrote it. Bounds RE2 would refuse are refused
  // here, naming the rule's own pattern.
  //
  // `lazy`: the rule's file has loaded before, with this RE2, every pattern compiling (load.ts), so
  // the probe is built on the rule's first candidate instead. Most rules never have one in a given
  // process (their anchors gate them), and building them all was about half of loading the pack.
  relaxLargeBounds(m.regex!);
  const buildProbe = (): RE2 => {
    try {
      return new RE2(relaxLargeBounds(groupFree) ?? groupFree, `${flags}u`);
    } catch (err) {
      throw new RuleCompileError('match.regex', `RE2 cannot compile ${JSON.stringify(m.regex!)}: ${(err as Error).message}`);
    }
  };
  let probe = lazy ? undefined : buildProbe();
  let locator: MatchLocator | undefined;
  const checks = (m.validate ?? []).map((v) => ({ name: v, check: validators[v] }));
  const judgePlaceholders = spec.category === 'secret' || spec.category === 'pii';
  const digitsCheck = m.digits_validate ? validators[m.digits_validate] : undefined;
  const luhnFirst = m.digits_validate !== undefined && LUHN_FIRST.has(m.digits_validate);
  const minDigits = m.min_digit_run ?? 0;
  const find = (s: Subject, _event: ChatEvent, reject?: (r: Rejection) => void): Span[] => {
    if (digitsCheck && !someDigitRunPasses(s, minDigits, digitsCheck, luhnFirst)) return [];
    // A yes/no scan is several times cheaper than finding where a match is: ask it first.
    const text = s.bytes;
    probe ??= buildProbe();
    if (!probe.test(text)) return [];
    locator ??= new MatchLocator(readsGroup ? m.regex! : groupFree, flags, probe);
    const spans: Span[] = [];
    let from = 0;
    let hit: BufferMatch | null;
    // At the end of the text only an empty match is left, and empty matches are skipped: no need to ask.
    while (spans.length < MAX_SPANS && from < text.length && (hit = locator.next(text, from)) !== null) {
      from = hit.index + hit[0].length;
      if (hit[0].length === 0) {
        from += 1;
        continue;
      }
      const bytes = readsGroup ? hit[group] : hit[0];
      if (!bytes || bytes.length === 0) continue;
      const value = bytes.toString('utf8');
      const startByte = group === 0 ? hit.index : hit.index + hit[0].indexOf(bytes);
      const start = s.charOffset(startByte);
      const end = start + value.length;
      if (m.entropy !== undefined) {
        const h = shannonEntropy(value);
        if (h < m.entropy) {
          reject?.({ start, end, value, check: 'entropy', detail: `${h.toFixed(2)} bits/char < ${m.entropy}` });
          continue;
        }
      }
      if (judgePlaceholders && isPlaceholder(value, spec.category === 'secret')) {
        reject?.({ start, end, value, check: 'placeholder', detail: 'a mask, template, placeholder word or published example' });
        continue;
      }
      const failed = checks.find((c) => !c.check(value));
      if (failed) {
        reject?.({ start, end, value, check: CHECKSUMS.has(failed.name) ? 'checksum' : 'validate', detail: failed.name });
        continue;
      }
      const whole = hit[0];
      const list = allowed({ secret: value, match: whole.toString('utf8'), text: s.text, start, end });
      if (list) {
        reject?.({ start, end, value, check: 'allowlist', detail: list });
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
    if (allowed({ secret: value, match: value, text: s.text, start, end: start + value.length })) return [];
    return [{ start, end: start + value.length, value }];
  };
  return { find, gate: { anchors: words.map((w) => w.toLowerCase()), minDigitRun: 0 } };
}

const defaultMessage = '<@{user}>, your message matched the security rule {rule} and was handled by Sentinel.';

export interface CompileOptions {
  /**
   * The rule's patterns are known to compile (its file loaded before, with this RE2): each regex is
   * built when the rule first has a candidate rather than now. Bounds and captures are still checked now.
   */
  patternsKnownGood?: boolean;
}

/** Compiles one validated rule; throws RuleCompileError naming the field at fault. */
export function compileRule(spec: RuleSpec, file: string, o: CompileOptions = {}): CompiledRule {
  const allowed = allowTest(spec);
  let actions = spec.actions;
  let message = spec.message;
  let matcher: { find: CompiledRule['find']; gate: Gate };
  if (spec.match.sql !== undefined) {
    let sql;
    try {
      sql = compileSql(spec.match.sql, `rule ${spec.id}`, { cache: true });
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
        return allowed({ secret: value, match: value, text, start, end }) ? [] : [{ start, end, value }];
      },
    };
  } else if (spec.match.regex !== undefined) {
    matcher = regexFinder(spec, allowed, o.patternsKnownGood === true);
  } else {
    matcher = keywordFinder(spec, allowed);
  }
  if (!actions) throw new RuleCompileError('actions', spec.match.sql ? 'no actions: select a constant AS tp_action, or add actions' : 'actions is required');
  const removals = [...new Set(actions.filter((a) => REMOVAL_ACTIONS.includes(a)))];
  if (removals.length > 1) {
    throw new RuleCompileError(
      spec.match.sql && !spec.actions ? 'match.sql' : 'actions',
      `rule "${spec.id}" asks for ${removals.join(' and ')}: a message is removed one way, so give at most one of ${REMOVAL_ACTIONS.join(', ')}`,
    );
  }
  return { spec, file, actions, message: message ?? defaultMessage, gate: matcher.gate, inScope: scopeOf(spec), find: matcher.find };
}
