/**
 * Secrets wrapped in an encoding: base64 (standard and URL-safe), hex, percent-encoding and
 * JSON string escapes. Each finds the encoded pieces of a text and decodes them into a layer the
 * rules run on again, with a map from the layer's offsets back to the text's, so a finding points
 * at the encoded secret where it stands. Decoding is bounded: pieces must decode to printable text,
 * and the engine goes a bounded number of layers deep.
 */

export type { Encoding } from './types';
import { HINT_BASE64, HINT_ESCAPE, HINT_HEX } from './prefilter';
import type { Encoding } from './types';

/** One decoded piece of a text. */
export interface Layer {
  encoding: Encoding;
  text: string;
  /** A span of `text` → the span of the encoded text it came from. */
  toOuter(start: number, end: number): [number, number];
}

/** Base64 pieces shorter than this cannot hold a credential any rule knows. */
export const MIN_BASE64 = 20;
const MIN_HEX = 32;
/** At most this many pieces decoded per text: enough for real messages, bounded for hostile ones. */
const MAX_PIECES = 16;

/** Printable ASCII and the usual whitespace: what text that was encoded decodes back to. */
function printable(b: Buffer): boolean {
  if (b.length === 0) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c > 0x7e) return false;
  }
  return true;
}

/** A layer whose characters map to encoded spans of fixed size (`unit` encoded characters per `per` decoded ones). */
function blockLayer(encoding: Encoding, text: string, at: number, length: number, unit: number, per: number): Layer {
  return {
    encoding,
    text,
    toOuter: (s, e) => [at + Math.floor(s / per) * unit, at + Math.min(length, Math.ceil(e / per) * unit)],
  };
}

/** Character classes, by char code: 1 base64 (either alphabet), 2 hex digit as well, 4 standard-only (+ /), 8 URL-safe-only (- _). */
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9]/.test(ch)) CLASS[c] = 1 | (/[0-9a-fA-F]/.test(ch) ? 2 : 0);
  else if (ch === '+' || ch === '/') CLASS[c] = 1 | 4;
  else if (ch === '-' || ch === '_') CLASS[c] = 1 | 8;
}
/** Base64 digit values of both alphabets, -1 elsewhere. */
const B64_VALUE = Int8Array.from({ length: 128 }, (_, c) => {
  const i = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.indexOf(String.fromCharCode(c));
  return i >= 0 ? i : c === 45 ? 62 : c === 95 ? 63 : -1;
});
const isText = (b: number) => (b >= 0x20 && b <= 0x7e) || b === 0x09 || b === 0x0a || b === 0x0d;
const hexValue = (c: number) => (c <= 57 ? c - 48 : (c | 0x20) - 87);

/** Whether the first three bytes a base64 run encodes are text: most runs (ids, digests, words) fail here at once. */
function base64StartsAsText(text: string, at: number): boolean {
  const a = B64_VALUE[text.charCodeAt(at)]!;
  const b = B64_VALUE[text.charCodeAt(at + 1)]!;
  const c = B64_VALUE[text.charCodeAt(at + 2)]!;
  const d = B64_VALUE[text.charCodeAt(at + 3)]!;
  return isText((a << 2) | (b >> 4)) && isText(((b & 15) << 4) | (c >> 2)) && isText(((c & 3) << 6) | d);
}

function base64Piece(text: string, at: number, length: number, classes: number, out: Layer[]): void {
  if ((classes & 12) === 12) return; // both alphabets: not one base64 string
  if ((classes & ~2 & ~1) === 0 && classes & 2 && isHexRun(text, at, length)) {
    if (length < MIN_HEX || length % 2 === 1) return;
    if (!isText(hexValue(text.charCodeAt(at)) * 16 + hexValue(text.charCodeAt(at + 1)))) return;
    const bytes = Buffer.from(text.slice(at, at + length), 'hex');
    if (printable(bytes)) out.push(blockLayer('hex', bytes.toString('latin1'), at, length, 2, 1));
    return;
  }
  if (length % 4 === 1 || !base64StartsAsText(text, at)) return;
  const bytes = Buffer.from(text.slice(at, at + length), classes & 8 ? 'base64url' : 'base64');
  // Words and identifiers are base64-shaped too; only what decodes to text is a wrapped value.
  if (bytes.length >= 12 && printable(bytes)) out.push(blockLayer('base64', bytes.toString('latin1'), at, length, 4, 3));
}

function isHexRun(text: string, at: number, length: number): boolean {
  for (let i = at; i < at + length; i++) if (!(CLASS[text.charCodeAt(i)]! & 2)) return false;
  return true;
}

/** Runs of base64 (or hex) characters long enough to hold a credential, each tried as an encoding. */
function base64Pieces(text: string, out: Layer[]): void {
  let start = -1;
  let classes = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0;
    const k = c < 128 ? CLASS[c]! : 0;
    if (k !== 0) {
      if (start < 0) {
        start = i;
        classes = 0;
      }
      classes |= k;
      continue;
    }
    if (start >= 0 && i - start >= MIN_BASE64) {
      base64Piece(text, start, i - start, classes, out);
      if (out.length >= MAX_PIECES) return;
    }
    start = -1;
  }
}

/** A decoded text built piece by piece, with each decoded character's span in the encoded text. */
class Mapped {
  text = '';
  private readonly from: number[] = [];
  private readonly to: number[] = [];
  push(s: string, start: number, end: number): void {
    for (let i = 0; i < s.length; i++) {
      this.from.push(start);
      this.to.push(end);
    }
    this.text += s;
  }
  layer(encoding: Encoding, at: number): Layer {
    const { from, to } = this;
    const n = from.length;
    return {
      encoding,
      text: this.text,
      toOuter: (s, e) => [at + (from[Math.min(s, n - 1)] ?? 0), at + (to[Math.max(0, Math.min(e, n) - 1)] ?? 0)],
    };
  }
}

const PERCENT_RUN = /[^\s"'`<>]*%[0-9A-Fa-f]{2}[^\s"'`<>]*/g;

function percentPieces(text: string, out: Layer[]): void {
  PERCENT_RUN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while (out.length < MAX_PIECES && (m = PERCENT_RUN.exec(text)) !== null) {
    const piece = m[0];
    const mapped = new Mapped();
    const bytes: number[] = [];
    let changed = false;
    for (let i = 0; i < piece.length; ) {
      if (piece[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(piece.slice(i + 1, i + 3))) {
        bytes.push(parseInt(piece.slice(i + 1, i + 3), 16));
        mapped.push(String.fromCharCode(bytes[bytes.length - 1]!), i, i + 3);
        changed = true;
        i += 3;
      } else if (piece[i] === '+') {
        // Form encoding writes spaces as +; a credential keeps its + only when encoded as %2B.
        mapped.push(' ', i, i + 1);
        i += 1;
      } else {
        mapped.push(piece[i]!, i, i + 1);
        i += 1;
      }
    }
    if (!changed || bytes.some((b) => b > 0x7e || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d))) continue;
    out.push(mapped.layer('percent', m.index));
  }
}

const JSON_ESCAPE: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** The whole text with JSON string escapes undone (\" \\ \/ \n \uXXXX …), when it has any. */
function jsonLayer(text: string, out: Layer[]): void {
  const mapped = new Mapped();
  let changed = false;
  for (let i = 0; i < text.length; ) {
    const ch = text[i]!;
    if (ch === '\\' && i + 1 < text.length) {
      const next = text[i + 1]!;
      if (next === 'u' && /^[0-9A-Fa-f]{4}$/.test(text.slice(i + 2, i + 6))) {
        mapped.push(String.fromCharCode(parseInt(text.slice(i + 2, i + 6), 16)), i, i + 6);
        changed = true;
        i += 6;
        continue;
      }
      const plain = JSON_ESCAPE[next];
      if (plain !== undefined) {
        mapped.push(plain, i, i + 2);
        changed = true;
        i += 2;
        continue;
      }
    }
    mapped.push(ch, i, i + 1);
    i += 1;
  }
  if (changed) out.push(mapped.layer('json', 0));
}

/** The decodable pieces of `text`, each decoded. `hints` (the prefilter's HINT_* bits for this text) skip what cannot be there. */
export function decodedLayers(text: string, hints = HINT_BASE64 | HINT_HEX | HINT_ESCAPE): Layer[] {
  const out: Layer[] = [];
  if (hints & (HINT_BASE64 | HINT_HEX)) base64Pieces(text, out);
  if (hints & HINT_ESCAPE) {
    if (text.includes('%')) percentPieces(text, out);
    if (text.includes('\\')) jsonLayer(text, out);
  }
  return out;
}
