/**
 * Structural checks that turn pattern-shaped candidates into findings: checksums, issuer tables,
 * reserved ranges, decodable structure. Each takes the candidate value and answers yes or no.
 */

const digitsOf = (s: string) => s.replace(/\D/g, '');

/** Luhn (mod 10) over the digits of `s`. */
export function luhn(s: string): boolean {
  const d = digitsOf(s);
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

/** Issuer prefixes and the lengths each issuer uses. */
const issuers: { prefix: (d: string) => boolean; lengths: number[] }[] = [
  { prefix: (d) => d.startsWith('4'), lengths: [13, 16, 19] }, // Visa
  { prefix: (d) => /^5[1-5]/.test(d) || (+d.slice(0, 4) >= 2221 && +d.slice(0, 4) <= 2720), lengths: [16] }, // Mastercard
  { prefix: (d) => /^3[47]/.test(d), lengths: [15] }, // American Express
  { prefix: (d) => /^(?:6011|65|64[4-9])/.test(d), lengths: [16, 19] }, // Discover
  { prefix: (d) => +d.slice(0, 4) >= 3528 && +d.slice(0, 4) <= 3589, lengths: [16, 17, 18, 19] }, // JCB
  { prefix: (d) => /^(?:30[0-5]|36|38)/.test(d), lengths: [14, 16] }, // Diners Club
  { prefix: (d) => /^62/.test(d), lengths: [16, 17, 18, 19] }, // UnionPay
];

/** A payment card number: an issuer's prefix and length, and a valid Luhn check digit. */
export function paymentCard(s: string): boolean {
  const d = digitsOf(s);
  if (!issuers.some((i) => i.prefix(d) && i.lengths.includes(d.length))) return false;
  // Mixed separators ("4111 1111-1111") are not how anyone writes a card.
  const seps = new Set(s.replace(/\d/g, ''));
  return seps.size <= 1 && luhn(d);
}

/** A US SSN outside the ranges the SSA never issues (area 000, 666, 900-999; group 00; serial 0000). */
export function usSsn(s: string): boolean {
  const d = digitsOf(s);
  if (d.length !== 9) return false;
  const area = +d.slice(0, 3);
  const group = +d.slice(3, 5);
  const serial = +d.slice(5);
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
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
  iban,
  jwt,
  'mixed-alnum': mixedAlnum,
  'not-digest': notDigest,
  'password-like': passwordLike,
} satisfies Record<string, (value: string) => boolean>;

export type ValidatorName = keyof typeof validators;
