/**
 * The engine's one pass over each text: an Aho-Corasick automaton over every rule's literal
 * anchors (case-insensitive ASCII), plus a digit count for rules that look for numbers. Only
 * rules whose gate opens run their full checks.
 */

export interface Gate {
  /** Lowercase literals; the rule is a candidate when any occurs. Empty: no anchor gate. */
  anchors: string[];
  /** The text must hold at least this many digits. */
  minDigits: number;
}

const ALPHABET = 128;

export class Prefilter {
  /** Dense DFA over ASCII: next[state * 128 + char]. */
  private readonly next: Int32Array;
  /** Rule indexes whose anchor ends at each state (including via failure links). */
  private readonly output: number[][];
  private readonly alwaysByAnchor: number[] = [];
  private readonly digitGates: { rule: number; minDigits: number }[] = [];
  /** Anchors with non-ASCII characters, checked with includes() on the lowercased text. */
  private readonly wideAnchors: { anchor: string; rule: number }[] = [];

  constructor(gates: Gate[]) {
    const goto: Map<number, number>[] = [new Map()];
    const out: Set<number>[] = [new Set()];
    gates.forEach((g, rule) => {
      if (g.anchors.length === 0) this.alwaysByAnchor.push(rule);
      if (g.minDigits > 0) this.digitGates.push({ rule, minDigits: g.minDigits });
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
    this.next = new Int32Array(n * ALPHABET);
    const queue: number[] = [];
    for (let c = 0; c < ALPHABET; c++) {
      const s = goto[0]!.get(c);
      if (s !== undefined) {
        this.next[c] = s;
        queue.push(s);
      }
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const s = queue[qi]!;
      for (const o of out[fail[s]!]!) out[s]!.add(o);
      for (let c = 0; c < ALPHABET; c++) {
        const t = goto[s]!.get(c);
        if (t !== undefined) {
          fail[t] = this.next[fail[s]! * ALPHABET + c]!;
          this.next[s * ALPHABET + c] = t;
          queue.push(t);
        } else {
          this.next[s * ALPHABET + c] = this.next[fail[s]! * ALPHABET + c]!;
        }
      }
    }
    this.output = out.map((o) => [...o]);
  }

  /** Indexes of the rules worth running on `text`, ascending. */
  candidates(text: string): number[] {
    const hit = new Set<number>(this.alwaysByAnchor);
    const next = this.next;
    const output = this.output;
    let state = 0;
    let digits = 0;
    let wide = false;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 128) {
        wide = true;
        state = 0;
        continue;
      }
      if (c >= 48 && c <= 57) digits++;
      else if (c >= 65 && c <= 90) c |= 0x20;
      state = next[state * ALPHABET + c]!;
      const o = output[state]!;
      for (let k = 0; k < o.length; k++) hit.add(o[k]!);
    }
    if (wide && this.wideAnchors.length > 0) {
      const lower = text.toLowerCase();
      for (const w of this.wideAnchors) if (lower.includes(w.anchor)) hit.add(w.rule);
    }
    for (const g of this.digitGates) if (digits < g.minDigits) hit.delete(g.rule);
    return [...hit].sort((a, b) => a - b);
  }
}
