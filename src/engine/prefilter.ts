/**
 * The engine's pass over each text: an Aho-Corasick automaton over every rule's literal anchors
 * (case-insensitive ASCII), run over the text's UTF-8 bytes, plus the longest run of digits for
 * rules that look for numbers. Only rules whose gate opens run their full checks.
 *
 * Bytes rather than the string's characters: V8 reads a character of a string through a check of
 * how the string is stored, again at every character of a loop like this one, where reading a
 * byte array is one load. The bytes are the ones RE2 is given afterwards (compile.ts, Subject).
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

/** 32-bit words of shape state the second pass keeps (shift-and over the shape alternatives at once). */
const SHAPE_WORDS = 2;

/** Whether `alt` describes a digit run (digits, single spaces or dashes between them) of LONG_RUN+ digits. */
function isLongRunShape(alt: string): boolean {
  return /^9(?:[ -]?9)*$/.test(alt) && alt.replace(/[ -]/g, '').length >= LONG_RUN;
}

/**
 * How the prefilter checks each shape:
 *  - `bits`: the second pass follows its alternatives bit-parallel (shift-and). Each alternative
 *    is a run of bits in one of SHAPE_WORDS words; bit j of a word's state is set when the last
 *    j+1 characters fit the first j+1 positions of its alternative, and the run's last bit set
 *    means the text holds the alternative. Alternatives are placed longest first, so that as many
 *    fit as can.
 *  - `runs`: every alternative is a long digit run (an Aadhaar number's `9999 9999 9999`): any
 *    occurrence lies inside one of the long runs the first pass records, so only those are read.
 *  - `text`: its regular expression over the whole text (a shape that did not fit).
 */
class ShapeBits {
  /** Per word, the first bit of every alternative: a match may begin at any character. */
  readonly start = new Int32Array(SHAPE_WORDS);
  /** Per word, by byte: the bits of the positions it fits (none for the bytes of non-ASCII characters). */
  readonly masks = Array.from({ length: SHAPE_WORDS }, () => new Int32Array(256));
  /** Per alternative placed: its word and first bit. */
  private readonly spots = new Map<string, [number, number]>();

  constructor(shapes: (string | string[])[]) {
    const alternatives = [...new Set(shapes.flatMap((shape) => (ShapeBits.inRuns(shape) ? [] : Array.isArray(shape) ? shape : [shape])))];
    const used = new Int32Array(SHAPE_WORDS);
    for (const alt of alternatives.sort((a, b) => b.length - a.length)) {
      const w = used.findIndex((n) => n + alt.length <= 32);
      if (alt.length === 0 || w < 0 || !/^[\x00-\x7f]+$/.test(alt)) continue;
      const base = used[w]!;
      used[w] = base + alt.length;
      this.spots.set(alt, [w, base]);
      this.start[w]! |= 1 << base;
      [...alt].forEach((ch, j) => {
        for (let c = 0; c < 128; c++) {
          const fits = ch === 'A' ? c >= 65 && c <= 90 : ch === 'a' ? c >= 97 && c <= 122 : ch === '9' ? c >= 48 && c <= 57 : c === ch.charCodeAt(0);
          if (fits) this.masks[w]![c]! |= 1 << (base + j);
        }
      });
    }
  }

  /** Whether `shape` is checked inside the long digit runs. */
  static inRuns(shape: string | string[]): boolean {
    return (Array.isArray(shape) ? shape : [shape]).every(isLongRunShape);
  }

  /** The final bits per word that mean `shape` is in the text, or undefined when some alternative has none. */
  finals(shape: string | string[]): Int32Array | undefined {
    const finals = new Int32Array(SHAPE_WORDS);
    for (const alt of Array.isArray(shape) ? shape : [shape]) {
      const spot = this.spots.get(alt);
      if (!spot) return undefined;
      finals[spot[0]]! |= 1 << (spot[1] + alt.length - 1);
    }
    return finals;
  }
}

/**
 * One lookup per byte: the low 7 bits are the character the automaton reads (upper case folded
 * to lower); bit 8 marks a digit, bit 9 a separator inside a digit run (space, dash); bits 10-15
 * classify the byte for the encoding hints (see `hints`). A byte of a non-ASCII character reads
 * as WIDE: column 0, which no anchor has, and none of the other bits.
 */
const DIGIT = 1 << 8;
const SEPARATOR = 1 << 9;
const B64 = 1 << 10; // a base64 character of either alphabet
const UPPER = 1 << 11;
const LOWER = 1 << 12;
const HEX = 1 << 13;
const TEXT_NIBBLE = 1 << 14; // 2-7: the high hex digit of a printable ASCII byte
const ESCAPE = 1 << 15; // % or \
/** A byte of a non-ASCII character: only marks that the text has one (for anchors with non-ASCII letters). */
const WIDE = 1 << 7;
const BYTE = Uint16Array.from({ length: 256 }, (_, b) => {
  if (b >= 128) return WIDE;
  const fold = b >= 65 && b <= 90 ? b | 0x20 : b;
  const isDigit = b >= 48 && b <= 57;
  const upper = b >= 65 && b <= 90;
  const lower = b >= 97 && b <= 122;
  const hex = isDigit || (b >= 65 && b <= 70) || (b >= 97 && b <= 102);
  return (
    fold |
    (isDigit ? DIGIT : b === 32 || b === 45 ? SEPARATOR : 0) |
    (upper || lower || isDigit || b === 43 || b === 47 || b === 45 || b === 95 ? B64 : 0) |
    (upper ? UPPER : 0) |
    (lower ? LOWER : 0) |
    (hex ? HEX : 0) |
    (b >= 50 && b <= 55 ? TEXT_NIBBLE : 0) |
    (b === 37 || b === 92 ? ESCAPE : 0)
  );
});
/** Upper case, lower case and a digit seen in one base64 run. */
const MIXED = UPPER | LOWER | DIGIT;
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
/** `longRuns` of a text without any. */
const NO_RUNS: readonly number[] = Object.freeze([]);

/**
 * The digit run (as `candidates` counts them: single spaces or dashes inside) every text holding
 * `shape` has: for several shapes, the least over them. `999-99-9999` gives 9, `AA99` 2.
 */
export function shapeDigitRun(shape: string | string[]): number {
  const one = (s: string) => {
    let best = 0;
    let run = 0;
    let afterDigit = false;
    for (const ch of s) {
      if (ch === '9') run += 1;
      else if (!((ch === ' ' || ch === '-') && afterDigit)) run = 0;
      afterDigit = ch === '9';
      best = Math.max(best, run);
    }
    return best;
  };
  return Math.min(...(Array.isArray(shape) ? shape : [shape]).map(one));
}


/**
 * HINT_BASE64 and HINT_HEX for one run of base64-alphabet characters, bytes[from, to), at least
 * BASE64_RUN long: base64 of text mixes upper case, lower case and digits; hex of text (HEX_RUN
 * hex digits, a subrun of the run since hex digits are base64 characters) has even positions
 * holding the high digit of a printable byte, 2-7.
 */
function encodingHints(byteTable: Uint16Array, bytes: Uint8Array, from: number, to: number): number {
  let seen = 0;
  let hexRun = 0;
  let hints = 0;
  for (let i = from; i < to; i++) {
    const v = byteTable[bytes[i]!]!;
    seen |= v;
    const inHex = (v >>> 13) & 1 & ((hexRun & 1) | ((v >>> 14) & 1));
    hexRun = (hexRun + 1) & (0 - inHex);
    if (hexRun >= HEX_RUN) hints = HINT_HEX;
  }
  return hints | ((seen & MIXED) === MIXED ? HINT_BASE64 : 0);
}

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
  /** Rules with no anchors, ascending: gated by digit runs or shapes alone, so candidates of every text. */
  private readonly noAnchor: number[];
  /** BYTE with the low 7 bits replaced by the character's column: the automaton reads classes, not characters. */
  private readonly byteTable: Uint16Array;
  /** log2 of the table's width (64 or 128 columns). */
  private readonly shift: number;
  /** Rules whose anchor the current text holds, in the order first seen. */
  private readonly hits: number[] = [];
  /**
   * The main pass's rare events, handled after it: automaton states that emit rules, and
   * [start, end) of each run of the base64 alphabet long enough to hold an encoding. Out of the
   * loop, their handling neither crowds its registers nor sways how V8 compiles it.
   */
  private readonly emitted: number[] = [];
  private readonly wordEnds: number[] = [];
  /**
   * The digit run each rule needs: its own minDigitRun, or more when its shape implies it (a text
   * holding `AA99` has a run of two digits), so the cheap comparison turns most texts away before
   * the shape is looked at.
   */
  private readonly minRun: Int32Array;
  /** Anchors with non-ASCII characters, checked with includes() on the lowercased text. */
  private readonly wideAnchors: { anchor: string; rule: number }[] = [];
  /** Shapes followed in the second pass. */
  private readonly shapeBits: ShapeBits;
  /** Per rule, SHAPE_WORDS words: the bits of the second pass's shape state that mean the rule's shape is in the text (all 0: none followed there). */
  private readonly shapeFinals: Int32Array;
  /** After the second pass: per word, every shape bit set anywhere in the text (an alternative's last bit: it occurs). */
  private readonly shapesSeen = new Int32Array(SHAPE_WORDS);
  /** Some shape has no digit in it: shapes must be followed in texts without digits too. */
  private readonly digitlessShape: boolean;
  /** Shapes not followed in the second pass, as regular expressions, checked only once the rule's other gates are open. */
  private readonly ruleShape: (RegExp | undefined)[];
  /** Per rule, whether its regex shape is read inside the long digit runs rather than the whole text. */
  private readonly shapeInRuns: Uint8Array;
  /** Per rule, the index of its regex shape among the distinct ones (-1: none): rules sharing a shape test it once per text. */
  private readonly shapeIndex: Int32Array;
  /** shapeSeen[i] === epoch: distinct regex shape i was tested on the current text, with result shapeHeld[i]. */
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
  /**
   * After `candidates`: [start, end) byte offsets of each run of LONG_RUN+ digits (single spaces
   * or dashes inside). Shared and empty when there is none: never mutated.
   */
  longRuns: readonly number[] = NO_RUNS;

  constructor(gates: Gate[]) {
    this.minRun = Int32Array.from(gates.map((g) => Math.max(g.minDigitRun, g.shape ? shapeDigitRun(g.shape) : 0)));
    this.noAnchor = gates.flatMap((g, rule) => (g.anchors.length === 0 ? [rule] : []));
    this.digitlessShape = gates.some((g) => g.shape && (Array.isArray(g.shape) ? g.shape : [g.shape]).some((alt) => !alt.includes('9')));
    this.shapeBits = new ShapeBits(gates.flatMap((g) => (g.shape ? [g.shape] : [])));
    this.shapeFinals = new Int32Array(gates.length * SHAPE_WORDS);
    this.shapeInRuns = Uint8Array.from(gates, (g) => (g.shape && ShapeBits.inRuns(g.shape) ? 1 : 0));
    this.ruleShape = gates.map((g, rule) => {
      if (!g.shape) return undefined;
      const finals = ShapeBits.inRuns(g.shape) ? undefined : this.shapeBits.finals(g.shape);
      if (!finals) return shapeRegex(g.shape);
      this.shapeFinals.set(finals, rule * SHAPE_WORDS);
      return undefined;
    });
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
    this.byteTable = Uint16Array.from(BYTE, (v) => (v & ~0x7f) | classOf[v & 0x7f]!);
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

  /** Indexes of the rules worth running on `text`, ascending; `bytes` is `text` in UTF-8. `hints` and `longRuns` describe the text after. */
  candidates(bytes: Uint8Array, text: string): number[] {
    if (this.epoch === 0x7fffffff) {
      // Int32 marks: start the epochs over rather than wrap into values that never match.
      this.mark.fill(0);
      this.shapeSeen.fill(0);
      this.epoch = 0;
    }
    const epoch = ++this.epoch;
    const { next, mark, byteTable, shift, hits, emits } = this;
    const stateBits = emits - 1;
    hits.length = 0;
    let state = 0;
    // Every class bit of every byte, ORed: digits, escapes and non-ASCII are read off it at the end.
    let seen = 0;
    let run = 0;
    let maxRun = 0;
    let span = 0;
    let afterDigit = 0;
    let longRuns: number[] | undefined;
    let b64Run = 0;
    let hints = 0;
    const { emitted, wordEnds } = this;
    emitted.length = 0;
    wordEnds.length = 0;
    const n = bytes.length;
    // Two passes: this one runs the automaton and follows digit runs and base64 runs over every
    // text; the second (shapes) only over texts with a digit. Fused into one loop they held more
    // values than there are registers, and the spilling cost more than reading the text twice.
    //
    // Branch-free updates where the character kinds alternate unpredictably (letters, digits,
    // spaces): a mispredicted branch per character would cost more than the arithmetic. Masks are
    // made as `0 - bit`, never `-bit`: -0 is not an integer to V8 and would cost a float round trip.
    for (let i = 0; i < n; i++) {
      const v = byteTable[bytes[i]!]!;
      seen |= v;
      const digit = (v >>> 8) & 1;
      // A digit, or a single space or dash right after a digit, keeps a run of digits going.
      const keep = digit | ((v >>> 9) & afterDigit);
      if (run >= LONG_RUN && keep === 0) (longRuns ??= []).push(i - span, afterDigit ? i : i - 1);
      const keepMask = 0 - keep;
      run = (run + digit) & keepMask;
      span = (span + 1) & keepMask;
      afterDigit = digit;
      if (run > maxRun) maxRun = run;
      // Encodings live in long runs of the base64 alphabet: only their length is kept here, and the
      // rare run long enough is looked at once the pass is done.
      const inB64 = (v >>> 10) & 1;
      if (inB64 === 0 && b64Run >= BASE64_RUN) wordEnds.push(i - b64Run, i);
      b64Run = (b64Run + 1) & (0 - inB64);
      const to = next[(state << shift) | (v & 0x7f)]!;
      state = to & stateBits;
      if (to & emits) emitted.push(state);
    }
    if (run >= LONG_RUN) (longRuns ??= []).push(n - span, afterDigit ? n : n - 1);
    if (b64Run >= BASE64_RUN) wordEnds.push(n - b64Run, n);
    for (let k = 0; k < wordEnds.length; k += 2) hints |= encodingHints(byteTable, bytes, wordEnds[k]!, wordEnds[k + 1]!);
    for (let k = 0; k < emitted.length; k++) this.emit(emitted[k]!, epoch);
    this.longRuns = longRuns ?? NO_RUNS;
    this.hints = hints | ((seen >>> 13) & HINT_ESCAPE); // bit 15, % or \
    // The shapes all hold a digit (unless one says otherwise): a text without one has none of them.
    if (seen & DIGIT || this.digitlessShape) this.shapes(bytes);
    else this.shapesSeen.fill(0);
    if (seen & WIDE && this.wideAnchors.length > 0) {
      const lower = text.toLowerCase();
      for (const w of this.wideAnchors) {
        if (mark[w.rule] !== epoch && lower.includes(w.anchor)) {
          mark[w.rule] = epoch;
          hits.push(w.rule);
        }
      }
    }
    // Rule order decides the order of findings: ascending, as the rules were given. A text opens
    // few anchors, so an insertion sort in place; the rules without anchors are sorted already,
    // and the two lists are merged as the remaining gates are checked.
    for (let a = 1; a < hits.length; a++) {
      const x = hits[a]!;
      let b = a - 1;
      while (b >= 0 && hits[b]! > x) {
        hits[b + 1] = hits[b]!;
        b--;
      }
      hits[b + 1] = x;
    }
    const result: number[] = [];
    const { noAnchor } = this;
    let a = 0;
    let b = 0;
    while (a < hits.length || b < noAnchor.length) {
      const rule = b >= noAnchor.length || (a < hits.length && hits[a]! < noAnchor[b]!) ? hits[a++]! : noAnchor[b++]!;
      if (this.open(rule, bytes, text, maxRun, epoch)) result.push(rule);
    }
    return result;
  }

  /** Marks the rules whose anchors end at automaton state `state`. */
  private emit(state: number, epoch: number): void {
    const o = this.output[state]!;
    const { mark, hits } = this;
    for (let j = 0; j < o.length; j++) {
      const rule = o[j]!;
      if (mark[rule] !== epoch) {
        mark[rule] = epoch;
        hits.push(rule);
      }
    }
  }

  /** The second pass: every shape alternative at once, bit-parallel (see ShapeBits), into `shapesSeen`. */
  private shapes(bytes: Uint8Array): void {
    const [start0, start1] = this.shapeBits.start;
    const [masks0, masks1] = this.shapeBits.masks as [Int32Array, Int32Array];
    let shape0 = 0;
    let shape1 = 0;
    let shapes0 = 0;
    let shapes1 = 0;
    const n = bytes.length;
    for (let i = 0; i < n; i++) {
      const b = bytes[i]!;
      shape0 = ((shape0 << 1) | start0!) & masks0[b]!;
      shape1 = ((shape1 << 1) | start1!) & masks1[b]!;
      shapes0 |= shape0;
      shapes1 |= shape1;
    }
    this.shapesSeen[0] = shapes0;
    this.shapesSeen[1] = shapes1;
  }

  /** Whether `shape` occurs inside one of the current text's long digit runs. */
  private inLongRun(shape: RegExp, bytes: Uint8Array, text: string): boolean {
    const runs = this.longRuns;
    for (let k = 0; k < runs.length; k += 2) {
      // A run is ASCII (digits, spaces, dashes): its bytes are its characters, and they are the
      // text's own wherever the text is all ASCII.
      const run = bytes.length === text.length ? text.slice(runs[k], runs[k + 1]) : Buffer.from(bytes.buffer, bytes.byteOffset + runs[k]!, runs[k + 1]! - runs[k]!).toString('latin1');
      if (shape.test(run)) return true;
    }
    return false;
  }

  /** Whether a rule whose anchor (if any) is in `text` passes its other gates: digit run, shape, required literals. */
  private open(rule: number, bytes: Uint8Array, text: string, maxRun: number, epoch: number): boolean {
    if (maxRun < this.minRun[rule]!) return false;
    const f = rule * SHAPE_WORDS;
    const { shapeFinals, shapesSeen } = this;
    const finals = shapeFinals[f]! | shapeFinals[f + 1]!;
    if (finals !== 0 && ((shapesSeen[0]! & shapeFinals[f]!) | (shapesSeen[1]! & shapeFinals[f + 1]!)) === 0) return false;
    const k = this.shapeIndex[rule]!;
    if (k >= 0) {
      if (this.shapeSeen[k] !== epoch) {
        this.shapeSeen[k] = epoch;
        const shape = this.ruleShape[rule]!;
        this.shapeHeld[k] = (this.shapeInRuns[rule] ? this.inLongRun(shape, bytes, text) : shape.test(text)) ? 1 : 0;
      }
      if (this.shapeHeld[k] === 0) return false;
    }
    const requires = this.ruleRequires[rule];
    if (requires) for (let i = 0; i < requires.length; i++) if (!text.includes(requires[i]!)) return false;
    return true;
  }
}
