/** Reproducible randomness and the alphabets the corpus generators draw tokens from. */

import { seededRandom } from '../../src/random';

export type Rng = () => number;

/** Mulberry32: small, fast, reproducible. */
export const rng: (seed: number) => Rng = seededRandom;

export const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
export const LOWER = 'abcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';
export const ALNUM = UPPER + LOWER + DIGITS;
export const HEX = '0123456789abcdef';
export const B64 = ALNUM + '+/';
export const URLSAFE = ALNUM + '_-';

export const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
export const chars = (r: Rng, set: string, n: number) => {
  let s = '';
  for (let i = 0; i < n; i++) s += set[Math.floor(r() * set.length)];
  return s;
};
export const int = (r: Rng, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
export const digits = (r: Rng, n: number) => chars(r, DIGITS, n);
/** Random alphanumerics that include both a letter and a digit (as real tokens of this length do). */
export const token = (r: Rng, set: string, n: number) => {
  for (;;) {
    const s = chars(r, set, n);
    if (/[A-Za-z]/.test(s) && /\d/.test(s)) return s;
  }
};

export function luhnComplete(prefix: string, length: number, r: Rng): string {
  let body = prefix + digits(r, length - prefix.length - 1);
  for (let check = 0; check < 10; check++) {
    const candidate = body + check;
    let sum = 0;
    for (let i = 0; i < candidate.length; i++) {
      let n = candidate.charCodeAt(candidate.length - 1 - i) - 48;
      if (i % 2 === 1) {
        n *= 2;
        if (n > 9) n -= 9;
      }
      sum += n;
    }
    if (sum % 10 === 0) return candidate;
  }
  body = '';
  return body;
}

export function ibanFor(country: string, length: number, r: Rng): string {
  const bban = token(r, UPPER.slice(0, 6) + DIGITS + DIGITS, length - 4).toUpperCase();
  const numeric = (s: string) => [...s].map((c) => (c >= 'A' ? String(c.charCodeAt(0) - 55) : c)).join('');
  const rearranged = numeric(bban + country + '00');
  let rem = 0;
  for (const d of rearranged) rem = (rem * 10 + Number(d)) % 97;
  const check = String(98 - rem).padStart(2, '0');
  return country + check + bban;
}

export const b64url = (s: string) => Buffer.from(s).toString('base64url');


/** One family's generators: a fresh value per detector, the sentences chat leaks it in, and near misses. */
export interface Family {
  values: Record<string, (r: Rng) => string>;
  /** Per detector, where the value alone is not enough (a secret next to its name, say); default: generic sentences. */
  contexts: Record<string, ((v: string, r: Rng) => string)[]>;
  /** Per detector, texts in its format that are not leaks (placeholders, masks, published examples). */
  nearMisses: Record<string, string[]>;
}

/** How chat leaks a value that needs no label: bare, in sentences, in backticks, in a fenced config. */
export const genericContexts: ((v: string, r: Rng) => string)[] = [
  (v) => `here you go: ${v}`,
  (v) => `can someone check why ${v} stopped working?`,
  (v) => `\`${v}\``,
  (v) => `${v}`,
  (v) => `use this one for now ${v} and rotate later`,
  (v) => `config:\n\`\`\`\nTOKEN=${v}\n\`\`\``,
];
