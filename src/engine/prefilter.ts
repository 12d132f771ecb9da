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
  shape?: string;
  /** Literals that must all occur, case as written; checked once the other gates are open. */
  requires?: string[];
}

/**
 * A shape as a JavaScript regular expression. Safe without RE2: a fixed-length sequence of
 * single-character classes cannot backtrack more than its own length at each position.
 */
export function shapeRegex(shape: string): RegExp {
  const classes = [...shape].map((ch) => (ch === 'A' ? '[A-Z]' : ch === 'a' ? '[a-z]' : ch === '9' ? '[0-9]' : ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')));
  return new RegExp(classes.join(''));
}

/** ASCII; `state >>> 7` undoes the pre-multiplication by it. */
const ALPHABET = 128;

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
/** `hints` bits: what encodings the last text may hold. */
export const HINT_BASE64 = 1;
export const HINT_HEX = 2;
export const HINT_ESCAPE = 4;
/** Base64 of text mixes upper case, lower case and digits within this many characters; ids and digests rarely do. */
const BASE64_RUN = 20;
/** Hex of text: 16 bytes whose high digits are all 2-7; a digest's are not. */
const HEX_RUN = 32;

/** Bit 0 of a pre-multiplied state marks a state that emits rules. */
const EMITS = 1;
const STATE = ~(ALPHABET - 1);

export class Prefilter {
  /** Dense DFA over ASCII, states pre-multiplied by 128 (bit 0: the state emits): next[state + byte]. */
  private readonly next: Int32Array;
  /** Rule indexes whose anchor ends at each state (including via failure links). */
  private readonly output: Int32Array[];
  private readonly ungated: number[] = [];
  private readonly minRun: Int32Array;
  /** Anchors with non-ASCII characters, checked with includes() on the lowercased text. */
  private readonly wideAnchors: { anchor: string; rule: number }[] = [];
  /** The shape each rule needs, checked only once its other gates are open. */
  private readonly ruleShape: (RegExp | undefined)[];
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

  constructor(gates: Gate[]) {
    this.minRun = Int32Array.from(gates.map((g) => g.minDigitRun));
    this.ruleShape = gates.map((g) => (g.shape ? shapeRegex(g.shape) : undefined));
    this.ruleRequires = gates.map((g) => (g.requires?.length ? g.requires : undefined));
    this.mark = new Int32Array(gates.length);
    const goto: Map<number, number>[] = [new Map()];
    const out: Set<number>[] = [new Set()];
    gates.forEach((g, rule) => {
      if (g.anchors.length === 0) this.ungated.push(rule);
      for (const anchor of g.anchors) {
        if (!/^[\x00-\x7f]+$/.test(anchor)) {
          this.wideAnchors.push({ anchor: anchor.toLowerCase(), rule });
          continue;
        }
        let state = 0;
        for (const ch of anchor.toLowerCase()) {
          const c = ch.charCodeAt(0);
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
    const next = new Int32Array(n * ALPHABET);
    const queue: number[] = [];
    for (let c = 0; c < ALPHABET; c++) {
      const s = goto[0]!.get(c);
      if (s !== undefined) {
        next[c] = s;
        queue.push(s);
      }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      for (const o of out[fail[s]!]!) out[s]!.add(o);
      for (let c = 0; c < ALPHABET; c++) {
        const t = goto[s]!.get(c);
        if (t !== undefined) {
          fail[t] = next[fail[s]! * ALPHABET + c]!;
          next[s * ALPHABET + c] = t;
          queue.push(t);
        } else {
          next[s * ALPHABET + c] = next[fail[s]! * ALPHABET + c]!;
        }
      }
    }
    for (let i = 0; i < next.length; i++) next[i] = next[i]! * ALPHABET + (out[next[i]!]!.size > 0 ? EMITS : 0);
    this.next = next;
    this.output = out.map((o) => Int32Array.from(o));
  }

  /** Indexes of the rules worth running, ascending. `bytes` is `text` in UTF-8. */
  candidates(bytes: Uint8Array, text: string): number[] {
    if (this.epoch === 0x7fffffff) {
      // Int32 marks: start the epochs over rather than wrap into values that never match.
      this.mark.fill(0);
      this.epoch = 0;
    }
    const epoch = ++this.epoch;
    const { next, output, mark } = this;
    let state = 0;
    let run = 0;
    let maxRun = 0;
    let gap = false;
    let hints = 0;
    let b64Run = 0;
    let b64Seen = 0;
    let hexRun = 0;
    for (let i = 0; i < bytes.length; i++) {
      const v = BYTE[bytes[i]!]!;
      const d = (v >>> 8) & 3;
      if (d === 1) {
        run += 1;
        gap = false;
        if (run > maxRun) maxRun = run;
      } else if (d === 2 && run > 0 && !gap) {
        gap = true; // one separator keeps the run going
      } else {
        run = 0;
        gap = false;
      }
      if (v & B64) {
        b64Seen |= v;
        if (++b64Run >= BASE64_RUN && (b64Seen & MIXED) === MIXED) hints |= HINT_BASE64;
      } else {
        b64Run = 0;
        b64Seen = 0;
      }
      if (v & HEX) {
        // Even positions hold the high digit of a byte: printable text keeps it within 2-7.
        if ((hexRun & 1) === 1 || v & TEXT_NIBBLE) {
          if (++hexRun >= HEX_RUN) hints |= HINT_HEX;
        } else hexRun = 0;
      } else hexRun = 0;
      if (v & ESCAPE) hints |= HINT_ESCAPE;
      state = next[(state & STATE) + (v & 0x7f)]!;
      if (state & EMITS) {
        const o = output[state >>> 7]!;
        for (let k = 0; k < o.length; k++) mark[o[k]!] = epoch;
      }
    }
    this.hints = hints;
    // Non-ASCII text is longer in UTF-8 than in UTF-16 code units.
    if (bytes.length !== text.length && this.wideAnchors.length > 0) {
      const lower = text.toLowerCase();
      for (const w of this.wideAnchors) if (lower.includes(w.anchor)) mark[w.rule] = epoch;
    }
    for (const rule of this.ungated) mark[rule] = epoch;
    const result: number[] = [];
    const { minRun, ruleShape, ruleRequires } = this;
    for (let rule = 0; rule < mark.length; rule++) {
      if (mark[rule] !== epoch || maxRun < minRun[rule]!) continue;
      const shape = ruleShape[rule];
      if (shape && !shape.test(text)) continue;
      const requires = ruleRequires[rule];
      if (requires && !requires.every((r) => text.includes(r))) continue;
      result.push(rule);
    }
    return result;
  }
}
