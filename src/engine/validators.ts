/**
 * Structural checks that turn pattern-shaped candidates into findings: checksums, issuer tables,
 * reserved ranges, decodable structure. Each takes the candidate value and answers yes or no.
 */

/** Whether `s` is nothing but ASCII digits (the common case: the engine's digit gate passes digits alone). */
function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const digitsOf = (s: string) => (allDigits(s) ? s : s.replace(/\D/g, ''));

/** Luhn (mod 10) over the digits of `s`. */
export function luhn(s: string): boolean {
  return luhnDigits(digitsOf(s));
}

/** Luhn over a string of digits. */
function luhnDigits(d: string): boolean {
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let n = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) {
      n *= 2;
      if (n > 9) n -= 9;
    }
    sum += n;
  }
  return d.length > 0 && sum % 10 === 0;
}

/** The number formed by the first `n` digits of `d`. */
const lead = (d: string, n: number) => Number(d.slice(0, n));
const between = (d: string, n: number, lo: number, hi: number) => d.length >= n && lead(d, n) >= lo && lead(d, n) <= hi;
const span = (lo: number, hi: number) => Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);

/**
 * Card networks: their issuer identification number (IIN) ranges and the lengths of their primary
 * account numbers (ISO/IEC 7812-1; each network publishes its own ranges). All use the Luhn check
 * digit. Maestro is limited to its dedicated IINs: its full range (50, 56-69) would take in any
 * 12-digit order number that happens to pass Luhn. Discover, JCB and Diners issue 16 (Diners 36: 14)
 * and 19 digits; the 17 and 18 their acceptance rules allow for are left out, because 17- and
 * 18-digit numbers in chat are ids (Discord and Twitter snowflakes, also inside Discord bot tokens).
 */
const networks: { name: string; prefix: (d: string) => boolean; lengths: number[] }[] = [
  { name: 'Visa', prefix: (d) => d.startsWith('4'), lengths: [13, 16, 19] },
  { name: 'Mastercard', prefix: (d) => between(d, 2, 51, 55) || between(d, 4, 2221, 2720), lengths: [16] },
  { name: 'American Express', prefix: (d) => /^3[47]/.test(d), lengths: [15] },
  { name: 'Discover', prefix: (d) => /^(?:6011|64[4-9]|65)/.test(d) || between(d, 6, 622126, 622925), lengths: [16, 19] },
  { name: 'JCB', prefix: (d) => between(d, 4, 3528, 3589), lengths: [16, 19] },
  // Discover's IIN table: 36 from 14 digits; 300-305, 3095, 38-39 from 16.
  { name: 'Diners Club International', prefix: (d) => d.startsWith('36'), lengths: [14, 16, 19] },
  { name: 'Diners Club International', prefix: (d) => /^(?:30[0-5]|3095|3[89])/.test(d), lengths: [16, 19] },
  { name: 'UnionPay', prefix: (d) => d.startsWith('62'), lengths: span(16, 19) },
  { name: 'Maestro', prefix: (d) => /^(?:5018|5020|5038|5893|6304|6759|676[1-3])/.test(d), lengths: span(12, 19) },
  { name: 'Mir', prefix: (d) => between(d, 4, 2200, 2204), lengths: span(16, 19) },
  { name: 'RuPay', prefix: (d) => /^(?:60|65|81|82|508)/.test(d), lengths: [16] },
  { name: 'Dankort', prefix: (d) => d.startsWith('5019'), lengths: [16] },
  { name: 'UATP', prefix: (d) => d.startsWith('1'), lengths: [15] },
];

/** The networks issuing each length, in the table's order: the length rules most numbers out before any prefix is read. */
const networksByLength = new Map<number, typeof networks>();
for (const n of networks) for (const length of n.lengths) networksByLength.set(length, [...(networksByLength.get(length) ?? []), n]);

/** The card network a number's prefix and length belong to, if any (the first that fits). */
export function cardNetwork(s: string): string | undefined {
  return networkOf(digitsOf(s));
}

function networkOf(d: string): string | undefined {
  const candidates = networksByLength.get(d.length);
  if (candidates) for (const n of candidates) if (n.prefix(d)) return n.name;
  return undefined;
}

/**
 * One separator, used throughout: none ("4111111111111111"), or single spaces or single dashes
 * between groups of digits. Mixed separators ("4111 1111-1111") are not how anyone writes a number.
 */
function oneSeparator(s: string): boolean {
  const seps = s.replace(/\d/g, '');
  return seps.length === 0 || (/^(?: +|-+)$/.test(seps) && !/[ -]{2}/.test(s) && /^\d/.test(s) && /\d$/.test(s));
}

/** A payment card number: a network's IIN range and length, one kind of separator, and a valid Luhn check digit. */
export function paymentCard(s: string): boolean {
  const d = digitsOf(s);
  // Luhn first: the cheapest check, and the one most look-alikes fail. Digits alone have no separators to judge.
  return luhnDigits(d) && networkOf(d) !== undefined && (d.length === s.length || oneSeparator(s));
}

/**
 * A US SSN outside the ranges the SSA never issues (area 000, 666, 900-999; group 00; serial
 * 0000), written bare or AAA-GG-SSSS with one kind of separator (dash, space or dot).
 */
export function usSsn(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 9 || !/^\d{9}$|^\d{3}([ .-])\d{2}\1\d{4}$/.test(s)) return false;
  const area = +d.slice(0, 3);
  const group = +d.slice(3, 5);
  const serial = +d.slice(5);
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

/**
 * The IRS's ITIN: nine digits beginning with 9 whose fourth and fifth digits fall in 50-65, 70-88,
 * 90-92 or 94-99 (93 is the ATIN; the other 9XX numbers are IRS-internal). Written 9XX-XX-XXXX.
 */
export function usItin(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 9 || d[0] !== '9' || !/^\d{9}$|^\d{3}([ -])\d{2}\1\d{4}$/.test(s)) return false;
  const middle = +d.slice(3, 5);
  return (middle >= 50 && middle <= 65) || (middle >= 70 && middle <= 88) || (middle >= 90 && middle <= 92) || middle >= 94;
}

/** Verhoeff's tables: multiplication in the dihedral group D5, and the permutation applied by position. */
const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

/** Verhoeff's check (detects every single-digit error and every adjacent transposition) over the digits of `s`. */
export function verhoeff(s: string): boolean {
  const d = digitsOf(s);
  let c = 0;
  for (let i = 0; i < d.length; i++) c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d.charCodeAt(d.length - 1 - i) - 48]!]!;
  return d.length > 1 && c === 0;
}

/**
 * An Aadhaar number (UIDAI): 12 digits, the first neither 0 nor 1, the last a Verhoeff check
 * digit; written bare or in groups of four (XXXX XXXX XXXX).
 */
export function aadhaar(s: string): boolean {
  const d = digitsOf(s);
  return d.length === 12 && /^[2-9]/.test(d) && /^\d{12}$|^\d{4}([ -])\d{4}\1\d{4}$/.test(s) && verhoeff(d);
}

/**
 * A Canadian Social Insurance Number: 9 digits with a Luhn check digit, written bare or 3-3-3.
 * The first digit is the region of registration (1-7) or 9 for temporary residents; 0 and 8 are
 * not assigned (the fictitious 046 454 286 of the government's own examples starts with 0).
 */
export function canadaSin(s: string): boolean {
  const d = digitsOf(s);
  return d.length === 9 && /^[1-79]/.test(d) && /^\d{9}$|^\d{3}([ -])\d{3}\1\d{3}$/.test(s) && luhn(d);
}

/** NINO prefixes HMRC has never allocated and never will. */
const ninoUnallocated = new Set(['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ']);

/**
 * A UK National Insurance number (HMRC NIM39110): two prefix letters, six digits, a suffix A-D,
 * optionally spaced (QQ 12 34 56 C). Neither prefix letter is D, F, I, Q, U or V; the second is
 * not O; BG, GB, KN, NK, NT, TN and ZZ are not used.
 */
export function ukNino(s: string): boolean {
  const v = s.replace(/ /g, '').toUpperCase();
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(v)) return false;
  return !ninoUnallocated.has(v.slice(0, 2));
}

/** IBAN lengths by country (ISO 13616 registry). */
const ibanLengths: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27,
  GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LI: 21, LT: 20, LU: 20,
  LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29, PT: 25,
  QA: 29, RO: 24, RS: 22, SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VG: 24, XK: 20,
};

/** An IBAN: known country, that country's length, and the mod-97 check. */
export function iban(s: string): boolean {
  const v = s.replace(/\s/g, '').toUpperCase();
  if (ibanLengths[v.slice(0, 2)] !== v.length) return false;
  const rearranged = v.slice(4) + v.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const digits = code >= 65 ? String(code - 55) : ch;
    for (const dch of digits) rem = (rem * 10 + (dch.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

function base64UrlJson(part: string): Record<string, unknown> | undefined {
  try {
    const json = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A JWT: a header that decodes to JSON naming an algorithm, and a payload that decodes to JSON. */
export function jwt(s: string): boolean {
  const [header, payload] = s.split('.');
  const h = header ? base64UrlJson(header) : undefined;
  return typeof h?.alg === 'string' && h.alg.toLowerCase() !== 'none' && base64UrlJson(payload ?? '') !== undefined;
}

/** Has letters and digits both: random tokens do, words and numbers alone don't. */
export function mixedAlnum(s: string): boolean {
  return /[A-Za-z]/.test(s) && /\d/.test(s);
}

/** Not a hex digest or git SHA (hex strings of 32, 40, 64 or 128 characters), and not a UUID. */
export function notDigest(s: string): boolean {
  if (/^[0-9a-f]+$/i.test(s) && [32, 40, 64, 128].includes(s.length)) return false;
  return !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

/**
 * Looks like a password rather than a word: once trailing punctuation is set aside, at least two
 * of lower case, upper case, digits and symbols, and something besides letters.
 */
export function passwordLike(s: string): boolean {
  const v = s.replace(/[.,?!:;)\]]+$/, '');
  if (v.length < 6 || /^[A-Za-z]+$/.test(v)) return false;
  const classes = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z\d]/].filter((c) => c.test(v)).length;
  return classes >= 2 && !/^https?:/i.test(v);
}

/** The validators rule files may name under `match.validate`. */
export const validators = {
  luhn,
  'payment-card': paymentCard,
  'us-ssn': usSsn,
  'us-itin': usItin,
  verhoeff,
  aadhaar,
  'canada-sin': canadaSin,
  'uk-nino': ukNino,
  iban,
  jwt,
  'mixed-alnum': mixedAlnum,
  'not-digest': notDigest,
  'password-like': passwordLike,
} satisfies Record<string, (value: string) => boolean>;

export type ValidatorName = keyof typeof validators;
