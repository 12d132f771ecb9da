/** Corpus generators for the pii detectors (rules/pii.yaml): fresh values of each format, how chat leaks them, near misses. */
import { chars, digits, ibanFor, int, LOWER, luhnComplete, pick, type Family, type Rng } from '../random';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** Splits `s` into groups of the given sizes joined by `sep`. */
const group = (s: string, sizes: number[], sep: string) => {
  const out: string[] = [];
  let at = 0;
  for (const size of sizes) {
    out.push(s.slice(at, at + size));
    at += size;
  }
  return out.join(sep);
};

/** Card networks as chat writes their numbers: an IIN, a length and the grouping printed on the card. */
const cardFormats: { iin: (r: Rng) => string; length: number; groups: number[] }[] = [
  { iin: () => '4', length: 16, groups: [4, 4, 4, 4] }, // Visa
  { iin: () => '4', length: 13, groups: [4, 3, 3, 3] },
  { iin: () => '4', length: 19, groups: [4, 4, 4, 4, 3] },
  { iin: (r) => String(int(r, 51, 55)), length: 16, groups: [4, 4, 4, 4] }, // Mastercard
  { iin: (r) => String(int(r, 2221, 2720)), length: 16, groups: [4, 4, 4, 4] },
  { iin: (r) => pick(r, ['34', '37']), length: 15, groups: [4, 6, 5] }, // American Express
  { iin: (r) => pick(r, ['6011', String(int(r, 644, 649)), '65', String(int(r, 622126, 622925))]), length: 16, groups: [4, 4, 4, 4] }, // Discover
  { iin: (r) => String(int(r, 3528, 3589)), length: 16, groups: [4, 4, 4, 4] }, // JCB
  { iin: () => '36', length: 14, groups: [4, 6, 4] }, // Diners Club International
  { iin: (r) => pick(r, [String(int(r, 300, 305)), '3095', '38', '39']), length: 16, groups: [4, 4, 4, 4] },
  { iin: () => '62', length: 16, groups: [4, 4, 4, 4] }, // UnionPay
  { iin: () => '62', length: 19, groups: [4, 4, 4, 4, 3] },
  { iin: (r) => pick(r, ['5018', '5020', '5038', '5893', '6304', '6759', '6761', '6762', '6763']), length: 16, groups: [4, 4, 4, 4] }, // Maestro
  { iin: (r) => String(int(r, 2200, 2204)), length: 16, groups: [4, 4, 4, 4] }, // Mir
  { iin: (r) => pick(r, ['508', '81', '82', '60']), length: 16, groups: [4, 4, 4, 4] }, // RuPay
  { iin: () => '5019', length: 16, groups: [4, 4, 4, 4] }, // Dankort
  { iin: () => '1', length: 15, groups: [4, 5, 6] }, // UATP
];

/** A digit that makes `body + digit` pass Verhoeff's check (written here from the published tables, independently of the engine). */
function verhoeffComplete(body: string): string {
  const d = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6], [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1], [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
  ];
  const p = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2], [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1], [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
  ];
  for (let check = 0; check < 10; check++) {
    const n = body + check;
    let c = 0;
    for (let i = 0; i < n.length; i++) c = d[c]![p[i % 8]![Number(n[n.length - 1 - i])]!]!;
    if (c === 0) return n;
  }
  throw new Error('unreachable: Verhoeff has a check digit for every body');
}

/** An IBAN whose BBAN is all digits, as German, Austrian, Belgian and Polish banks issue them (ISO 13616 mod-97 check digits). */
function numericIban(country: string, length: number, r: Rng): string {
  const bban = String(int(r, 1, 8)) + digits(r, length - 5);
  const numeric = (bban + country + '00').replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  let rem = 0;
  for (const d of numeric) rem = (rem * 10 + Number(d)) % 97;
  return country + pad(98 - rem, 2) + bban;
}

const aadhaarDigits = (r: Rng) => verhoeffComplete(String(int(r, 2, 9)) + digits(r, 10));
const sinDigits = (r: Rng) => luhnComplete(pick(r, ['1', '2', '3', '4', '5', '6', '7', '9']), 9, r);
/** An SSN the SSA could have issued: area 001-899 but not 666, group 01-99, serial 0001-9999. */
const ssnParts = (r: Rng): [string, string, string] => {
  let area = int(r, 1, 899);
  if (area === 666) area = 667;
  return [pad(area, 3), pad(int(r, 1, 99), 2), pad(int(r, 1, 9999), 4)];
};
/** ITIN middle digits the IRS issues: 50-65, 70-88, 90-92, 94-99. */
const itinParts = (r: Rng): [string, string, string] => {
  const middle = pick(r, [int(r, 50, 65), int(r, 70, 88), int(r, 90, 92), int(r, 94, 99)]);
  return [`9${digits(r, 2)}`, pad(middle, 2), digits(r, 4)];
};
/** NINO prefix letters HMRC allocates: no D, F, I, Q, U, V; no O second; not BG, GB, KN, NK, NT, TN, ZZ. */
const ninoPrefix = (r: Rng): string => {
  for (;;) {
    const prefix = pick(r, [...'ABCEGHJKLMNOPRSTWXYZ']) + pick(r, [...'ABCEGHJKLMNPRSTWXYZ']);
    if (!['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(prefix)) return prefix;
  }
};

export const family: Family = {
  values: {
    'credit-card': (r) => {
      const f = pick(r, cardFormats);
      const n = luhnComplete(f.iin(r), f.length, r);
      const style = r();
      return style < 0.4 ? n : group(n, f.groups, style < 0.8 ? ' ' : '-');
    },
    'us-ssn': (r) => ssnParts(r).join(r() < 0.7 ? '-' : ' '),
    'us-ssn-dotted': (r) => ssnParts(r).join('.'),
    'us-ssn-labelled': (r) => ssnParts(r).join(''),
    'us-itin': (r) => itinParts(r).join(r() < 0.7 ? '-' : ' '),
    'us-itin-labelled': (r) => itinParts(r).join(''),
    'uk-nino': (r) => {
      const prefix = ninoPrefix(r);
      const number = digits(r, 6);
      const suffix = pick(r, ['A', 'B', 'C', 'D']);
      return r() < 0.5 ? `${prefix}${number}${suffix}` : `${prefix} ${group(number, [2, 2, 2], ' ')} ${suffix}`;
    },
    'canada-sin': (r) => {
      const n = sinDigits(r);
      const style = r();
      return style < 0.3 ? n : group(n, [3, 3, 3], style < 0.7 ? ' ' : '-');
    },
    aadhaar: (r) => group(aadhaarDigits(r), [4, 4, 4], ' '),
    'aadhaar-labelled': (r) => {
      const n = aadhaarDigits(r);
      return r() < 0.6 ? n : group(n, [4, 4, 4], '-');
    },
    iban: (r) => {
      const [country, length] = pick(r, [
        ['DE', 22],
        ['GB', 22],
        ['FR', 27],
        ['NL', 18],
        ['ES', 24],
        ['CH', 21],
      ] as const);
      const [numericCountry, numericLength] = pick(r, [
        ['DE', 22],
        ['AT', 20],
        ['BE', 16],
        ['PL', 28],
      ] as const);
      const v = r() < 0.4 ? numericIban(numericCountry, numericLength, r) : ibanFor(country, length, r);
      return r() < 0.5 ? v : v.match(/.{1,4}/g)!.join(' ');
    },
    // Opt-in detectors (enabled: false): not measured by the corpus table, but their leaks feed the
    // prefilter's never-skips check.
    'email-address': (r) => `${chars(r, LOWER, int(r, 3, 8))}.${chars(r, LOWER, int(r, 3, 9))}@${chars(r, LOWER, int(r, 4, 10))}-${pick(r, ['labs', 'corp', 'health', 'bank'])}.${pick(r, ['com', 'io', 'co.uk', 'de'])}`,
    'phone-number': (r) => pick(r, [`+1 ${int(r, 201, 989)} ${int(r, 201, 989)} ${digits(r, 4)}`, `+44 20 ${digits(r, 4)} ${digits(r, 4)}`, `(${int(r, 201, 989)}) ${int(r, 201, 989)}-${digits(r, 4)}`]),
  },
  contexts: {
    'credit-card': [
      (v) => `card ${v} exp 09/28`,
      (v) => `charge it to ${v} please`,
      (v) => `my cc is ${v}`,
      (v) => `{"card_number": "${v}", "exp": "11/27"}`,
      (v) => `CARD_NUMBER=${v}`,
      (v) => `paid with \`${v}\`, can you refund it?`,
      (v) => v,
    ],
    'us-ssn': [(v) => `SSN: ${v}`, (v) => `employee ${v} needs a new badge`, (v) => `{"ssn": "${v}"}`, (v) => `her social is ${v}, please update the W-4`, (v) => v],
    'us-ssn-dotted': [(v) => `SSN ${v}`, (v) => `social on file: ${v}.`, (v) => `ssn=${v}`, (v) => v],
    'us-ssn-labelled': [
      (v) => `SSN ${v} for the payroll form`,
      (v) => `her social security number is ${v}`,
      (v) => `EMPLOYEE_SSN=${v}`,
      (v) => `{"ssn": "${v}"}`,
      (v) => `ssn: \`${v}\``,
    ],
    'us-itin': [(v) => `ITIN ${v} for the 1040-NR`, (v) => `his tax id is ${v}`, (v) => `{"tin": "${v}"}`, (v) => v],
    'us-itin-labelled': [(v) => `ITIN: ${v}`, (v) => `individual taxpayer identification number ${v}`, (v) => `{"itin": "${v}"}`, (v) => `W7_ITIN=${v}`],
    'uk-nino': [(v) => `NI number ${v}`, (v) => `my national insurance number is ${v}.`, (v) => `NINO=${v}`, (v) => `"nino": "${v}"`, (v) => v],
    'canada-sin': [(v) => `my SIN is ${v}`, (v) => `Social Insurance Number: ${v}`, (v) => `SIN=${v}`, (v) => `NAS ${v} (permis de travail)`, (v) => `{"sin": "${v}"}`],
    aadhaar: [(v) => `aadhaar ${v}`, (v) => `KYC doc: ${v}, pan attached`, (v) => `here is my aadhar card number ${v}`, (v) => `\`${v}\``, (v) => v],
    'aadhaar-labelled': [(v) => `Aadhaar no: ${v}`, (v) => `AADHAR=${v}`, (v) => `uid ${v}`, (v) => `आधार संख्या ${v}`, (v) => `{"aadhaar": "${v}"}`],
    iban: [(v) => `wire it to ${v} by Friday`, (v) => `IBAN ${v}`],
    'email-address': [(v) => `ping me at ${v}`, (v) => `email=${v}`],
    'phone-number': [(v) => `call me at ${v}`, (v) => `my cell: ${v}`],
  },
  nearMisses: {
    'credit-card': [
      'test card 4242 4242 4242 4242',
      '4111-1111-1111-1111',
      'order 4111 1111 1111 1112 failed',
      'card ending 4242',
      '1234 5678 9012 3456',
      'use 4000 0566 5566 5556 in the sandbox',
      'declined: 4539 1488-0343 6467',
      'pi is 3.14159265358979323',
      'tracking 9400111899223397864523',
      'call +49 1512 3456 7890',
      'IBAN DE21 4539 1488 0343 6467 00',
      'tracking 9400 4539 1488 0343 6467 23',
      'https://discord.com/api/webhooks/3588789562094201891/xb5f8xpJCzaoh',
    ],
    'us-ssn': ['SSN 000-12-3456', 'SSN 666-12-3456', 'SSN 912-34-5678', 'ssn 123-00-4567', 'ssn 123-45-0000', 'the sample SSN 078-05-1120', 'call 415-555-2671', 'ssn 512 73-0418'],
    'us-ssn-dotted': ['ssn 123.45.6789', 'SSN 666.12.3456', 'host 10.123.45.6789', 'SSN XXX.XX.6253'],
    'us-ssn-labelled': ['SSN 912345678', 'ssn 123456789', 'SSN XXXXX6253', 'classname 533844160'],
    'us-itin': ['ITIN 912-93-3481', 'ITIN 9XX-7X-XXXX', 'ITIN 912-45-3481', 'call 912-705-3481'],
    'us-itin-labelled': ['ITIN 912933481', 'itinerary 912703481'],
    'uk-nino': ['NI number QQ 12 34 56 C', 'GB 48 27 61 C', 'TN371905A', 'AO371905B', 'JW482761E'],
    'canada-sin': ['SIN 046 454 286', 'SIN 130 692 545', 'SIN XXX XXX 544', 'call me on 612 345 678'],
    aadhaar: ['aadhaar XXXX XXXX 3709', 'aadhaar 4967 2851 3701', 'aadhaar 1967 2851 3700'],
    'aadhaar-labelled': ['aadhaar 496728513701', 'aws account 4967-2851-3709', 'uuid 496728513709'],
  },
};
