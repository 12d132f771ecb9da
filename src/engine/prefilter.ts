/**
 * The engine's one pass over each text: an Aho-Corasick automaton over every rule's literal
 * anchors (case-insensitive ASCII), run over the text's UTF-8 bytes, plus the longest run of
 * digits for rules that look for numbers. Only rules whose gate opens run their full checks.
 */

export interface Gate {
  /** Lowercase literals; the rule is a candidate when any occurs. Empty: no anchor gate. */
  anchors: string[];
  /**
   * The text must hold a run of at least this many digits, where digits may be separated by
   * single spaces or dashes (as in "4111 1111 1111 1111" or "123-45-6789"). 0: no digit gate.
   */
  minDigitRun: number;
  /**
   * A character shape the text must contain: `A` an upper-case letter, `a` a lower-case letter,
   * `9` a digit, anything else itself (e.g. `AA99` for an IBAN's start, `999-99-9999`).
   */
  shape?: string | string[];
  /** Literals that must all occur, case as written; checked once the other gates are open. */
  requires?: string[];
}

/**
 * A shape as a JavaScript regular expression. Safe without RE2: a fixed-length sequence of
 * single-character classes cannot backtrack more than its own length at each position.
 */
export function shapeRegex(shape: string | string[]): RegExp {
  const one = (s: string) => [...s].map((ch) => (ch === 'A' ? '[A-Z]' : ch === 'a' ? '[a-z]' : ch === '9' ? '[0-9]' : ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))).join('');
  return new RegExp((Array.isArray(shape) ? shape : [shape]).map(one).join('|'));
}


/**
 * One lookup per byte: the low 7 bits are the character the automaton reads (upper case folded
 * to lower, non-ASCII to NUL, which no anchor has); bits 8-9 are 1 for a digit, 2 for a
 * separator inside a digit run (space, dash), 0 otherwise; bits 10-15 classify the byte for the
 * encoding hints (see `hints`).
 */
const B64 = 1 << 10; // a base64 character of either alphabet
const UPPER = 1 << 11;
const LOWER = 1 << 12;
const HEX = 1 << 13;
const TEXT_NIBBLE = 1 << 14; // 2-7: the high hex digit of a printable ASCII byte
const ESCAPE = 1 << 15; // % or \
const BYTE = Uint16Array.from({ length: 256 }, (_, b) => {
  const fold = b >= 128 ? 0 : b >= 65 && b <= 90 ? b | 0x20 : b;
  const isDigit = b >= 48 && b <= 57;
  const digit = isDigit ? 1 : b === 32 || b === 45 ? 2 : 0;
  const upper = b >= 65 && b <= 90;
  const lower = b >= 97 && b <= 122;
  const hex = isDigit || (b >= 65 && b <= 70) || (b >= 97 && b <= 102);
  return (
    fold |
    (digit << 8) |
    (upper || lower || isDigit || b === 43 || b === 47 || b === 45 || b === 95 ? B64 : 0) |
    (upper ? UPPER : 0) |
    (lower ? LOWER : 0) |
    (hex ? HEX : 0) |
    (b >= 50 && b <= 55 ? TEXT_NIBBLE : 0) |
    (b === 37 || b === 92 ? ESCAPE : 0)
  );
});
/** Upper case, lower case and a digit (bit 8: the digit class) seen in one base64 run. */
const MIXED = UPPER | LOWER | (1 << 8);
/** Digit runs this long or longer are recorded (`longRuns`): where card-length numbers can be. */
export const LONG_RUN = 12;
/** `hints` bits: what encodings the last text may hold. */
export const HINT_BASE64 = 1;
export const HINT_HEX = 2;
export const HINT_ESCAPE = 4;
/** Base64 of text mixes upper case, lower case and digits within this many characters; ids and digests rarely do. */
const BASE64_RUN = 20;
/** Hex of text: 16 bytes whose high digits are all 2-7; a digest's are not. */
const HEX_RUN = 32;


export class Prefilter {
  /**
   * Dense DFA over byte classes: next[(state << shift) | class] is the next state, with the
   * `emits` bit set when it emits rules. 16-bit entries while the states fit, to stay in cache.
   */
  private readonly next: Uint16Array | Uint32Array;
  /** The bit of a `next` entry that marks a state emitting rules; the bits below it are the state. */
  private readonly emits: number;
  /** Rule indexes whose anchor ends at each state (including via failure links). */
  private readonly output: Int32Array[];
  /** Rules with no anchors: gated by digit runs or shapes alone. */
  private readonly noAnchor: number[];
  /** BYTE with the low 7 bits replaced by the byte's column: the automaton reads classes, not characters. */
  private readonly byteTable: Uint16Array;
  /** log2 of the table's width (64 or 128 columns). */
  private readonly shift: number;
  /** Rules marked in the current text, in the order first seen. */
  private readonly hits: number[] = [];
  private readonly minRun: Int32Array;
  /** Anchors with non-ASCII characters, checked with includes() on the lowercased text. */
  private readonly wideAnchors: { anchor: string; rule: number }[] = [];
  /** The shape each rule needs, checked only once its other gates are open. */
  private readonly ruleShape: (RegExp | undefined)[];
  /** Per rule, the index of its shape among the distinct shapes (-1: none): rules sharing a shape test it once per text. */
  private readonly shapeIndex: Int32Array;
  /** shapeSeen[i] === epoch: distinct shape i was tested on the current text, with result shapeHeld[i]. */
  private readonly shapeSeen: Int32Array;
  private readonly shapeHeld: Uint8Array;
  private readonly ruleRequires: (string[] | undefined)[];
  /** mark[rule] === epoch: the rule's anchor was seen in the current text. */
  private readonly mark: Int32Array;
  private epoch = 0;
  /**
   * After `candidates`: HINT_* bits saying the text may hold base64 (a run of 20+ base64
   * characters mixing upper case, lower case and digits), hex-encoded text, or % / \\ escapes.
   * Only then is decoding worth trying; computed in the same pass as the anchors.
   */
  hints = 0;
  /** After `candidates`: [start, end) byte offsets of each run of LONG_RUN+ digits (single spaces or dashes inside). */
  longRuns: number[] = [];

  constructor(gates: Gate[]) {
    this.minRun = Int32Array.from(gates.map((g) => g.minDigitRun));
    this.noAnchor = gates.flatMap((g, rule) => (g.anchors.length === 0 ? [rule] : []));
    this.ruleShape = gates.map((g) => (g.shape ? shapeRegex(g.shape) : undefined));
    const distinct = [...new Set(this.ruleShape.flatMap((r) => (r ? [r.source] : [])))];
    this.shapeIndex = Int32Array.from(this.ruleShape, (r) => (r ? distinct.indexOf(r.source) : -1));
    this.shapeSeen = new Int32Array(distinct.length);
    this.shapeHeld = new Uint8Array(distinct.length);
    this.ruleRequires = gates.map((g) => (g.requires?.length ? g.requires : undefined));
    this.mark = new Int32Array(gates.length);
    // Only the characters anchors use need columns of their own; every other byte reads as class 0.
    const used = [...new Set(gates.flatMap((g) => g.anchors.filter((a) => /^[\x00-\x7f]+$/.test(a)).flatMap((a) => [...a.toLowerCase()])))].sort();
    const classOf = new Uint8Array(128);
    used.forEach((ch, i) => (classOf[ch.charCodeAt(0)] = i + 1));
    const width = used.length < 64 ? 64 : 128;
    this.shift = width === 64 ? 6 : 7;
    this.byteTable = Uint16Array.from(BYTE, (v, b) => (v & ~0x7f) | (b < 128 ? classOf[b < 128 && b >= 65 && b <= 90 ? b | 0x20 : b]! : 0));
    const goto: Map<number, number>[] = [new Map()];
    const out: Set<number>[] = [new Set()];
    gates.forEach((g, rule) => {
      for (const anchor of g.anchors) {
        if (!/^[\x00-\x7f]+$/.test(anchor)) {
          this.wideAnchors.push({ anchor: anchor.toLowerCase(), rule });
          continue;
        }
        let state = 0;
        for (const ch of anchor.toLowerCase()) {
          const c = classOf[ch.charCodeAt(0)]!;
          let nxt = goto[state]!.get(c);
          if (nxt === undefined) {
            nxt = goto.length;
            goto.push(new Map());
            out.push(new Set());
            goto[state]!.set(c, nxt);
          }
          state = nxt;
        }
        out[state]!.add(rule);
      }
    });
    // Breadth-first failure links, folded into a dense transition table.
    const n = goto.length;
    const fail = new Int32Array(n);
    const next = new Int32Array(n * width);
    const queue: number[] = [];
    for (let c = 0; c < width; c++) {
      const s = goto[0]!.get(c);
      if (s !== undefined) {
        next[c] = s;
        queue.push(s);
      }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      for (const o of out[fail[s]!]!) out[s]!.add(o);
      for (let c = 0; c < width; c++) {
        const t = goto[s]!.get(c);
        if (t !== undefined) {
          fail[t] = next[fail[s]! * width + c]!;
          next[s * width + c] = t;
          queue.push(t);
        } else {
          next[s * width + c] = next[fail[s]! * width + c]!;
        }
      }
    }
    this.emits = n < 0x8000 ? 0x8000 : 0x40000000;
    const table = n < 0x8000 ? new Uint16Array(next.length) : new Uint32Array(next.length);
    for (let i = 0; i < next.length; i++) table[i] = next[i]! | (out[next[i]!]!.size > 0 ? this.emits : 0);
    this.next = table;
    this.output = out.map((o) => Int32Array.from(o));
  }

  /** Indexes of the rules worth running, ascending. `bytes` is `text` in UTF-8. */
  candidates(bytes: Uint8Array, text: string): number[] {
    if (this.epoch === 0x7fffffff) {
      // Int32 marks: start the epochs over rather than wrap into values that never match.
      this.mark.fill(0);
      this.shapeSeen.fill(0);
      this.epoch = 0;
    }
    const epoch = ++this.epoch;
    const { next, output, mark, byteTable, shift, hits, emits } = this;
    const stateBits = emits - 1;
    hits.length = 0;
    let state = 0;
    let run = 0;
    let maxRun = 0;
    let gap = 0;
    let span = 0;
    let hints = 0;
    let b64Run = 0;
    let b64Seen = 0;
    let hexRun = 0;
    const longRuns: number[] = [];
    // Branch-free updates where the byte kinds alternate unpredictably (letters, digits, spaces):
    // a mispredicted branch per byte would cost more than the arithmetic.
    for (let i = 0; i < bytes.length; i++) {
      const v = byteTable[bytes[i]!]!;
      const isDigit = (v >>> 8) & 1;
      // A single space or dash inside a run of digits keeps it going.
      const keep = ((v >>> 9) & 1 & (run > 0 ? 1 : 0) & (gap ^ 1)) | isDigit;
      if (run >= LONG_RUN && keep === 0) longRuns.push(i - span, gap ? i - 1 : i);
      run = (run + isDigit) * keep;
      span = (span + 1) * keep;
      gap = keep & (isDigit ^ 1);
      if (run > maxRun) maxRun = run;
      const inB64 = -((v >>> 10) & 1);
      b64Run = (b64Run + 1) & inB64;
      b64Seen = (b64Seen | v) & inB64;
      if (b64Run >= BASE64_RUN && (b64Seen & MIXED) === MIXED) hints |= HINT_BASE64;
      // Hex of text: even positions hold the high digit of a byte, which printable text keeps within 2-7.
      const inHex = (v >>> 13) & 1 & ((hexRun & 1) | ((v >>> 14) & 1));
      hexRun = (hexRun + 1) * inHex;
      if (hexRun >= HEX_RUN) hints |= HINT_HEX;
      hints |= (v >>> 13) & HINT_ESCAPE; // bit 15, % or \
      const to = next[(state << shift) | (v & 0x7f)]!;
      state = to & stateBits;
      if (to & emits) {
        const o = output[state]!;
        for (let k = 0; k < o.length; k++) {
          const rule = o[k]!;
          if (mark[rule] !== epoch) {
            mark[rule] = epoch;
            hits.push(rule);
          }
        }
      }
    }
    if (run >= LONG_RUN) longRuns.push(bytes.length - span, gap ? bytes.length - 1 : bytes.length);
    this.hints = hints;
    this.longRuns = longRuns;
    // Non-ASCII text is longer in UTF-8 than in UTF-16 code units.
    if (bytes.length !== text.length && this.wideAnchors.length > 0) {
      const lower = text.toLowerCase();
      for (const w of this.wideAnchors) {
        if (mark[w.rule] !== epoch && lower.includes(w.anchor)) {
          mark[w.rule] = epoch;
          hits.push(w.rule);
        }
      }
    }
    for (const rule of this.noAnchor) hits.push(rule);
    // Rule order decides the order of findings: ascending, as the rules were given.
    if (hits.length > 1) hits.sort((a, b) => a - b);
    const result: number[] = [];
    const { minRun, ruleShape, ruleRequires, shapeIndex, shapeSeen, shapeHeld } = this;
    for (const rule of hits) {
      if (maxRun < minRun[rule]!) continue;
      const k = shapeIndex[rule]!;
      if (k >= 0) {
        if (shapeSeen[k] !== epoch) {
          shapeSeen[k] = epoch;
          shapeHeld[k] = ruleShape[rule]!.test(text) ? 1 : 0;
        }
        if (shapeHeld[k] === 0) continue;
      }
      const requires = ruleRequires[rule];
      if (requires && !requires.every((r) => text.includes(r))) continue;
      result.push(rule);
    }
    return result;
  }
}
