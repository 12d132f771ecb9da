/** Corpus generators for the pii detectors (rules/pii.yaml): fresh values of each format, how chat leaks them, near misses. */
import { ibanFor, int, luhnComplete, pick, type Family } from '../random';

export const family: Family = {
  values: {
  'credit-card': (r) => {
    const [prefix, length] = pick(r, [
      ['4', 16],
      ['51', 16],
      ['55', 16],
      ['2221', 16],
      ['34', 15],
      ['37', 15],
      ['6011', 16],
      ['3530', 16],
    ] as const);
    const n = luhnComplete(prefix, length, r);
    if (length === 15) return r() < 0.5 ? n : `${n.slice(0, 4)} ${n.slice(4, 10)} ${n.slice(10)}`;
    return r() < 0.5 ? n : n.match(/.{4}/g)!.join(pick(r, [' ', '-']));
  },
  'us-ssn': (r) => `${String(int(r, 1, 665)).padStart(3, '0')}-${String(int(r, 1, 99)).padStart(2, '0')}-${String(int(r, 1, 9999)).padStart(4, '0')}`,
  'us-ssn-labelled': (r) => `${String(int(r, 1, 665)).padStart(3, '0')}${String(int(r, 1, 99)).padStart(2, '0')}${String(int(r, 1, 9999)).padStart(4, '0')}`,
  iban: (r) => {
    const [country, length] = pick(r, [
      ['DE', 22],
      ['GB', 22],
      ['FR', 27],
      ['NL', 18],
      ['ES', 24],
      ['CH', 21],
    ] as const);
    const v = ibanFor(country, length, r);
    return r() < 0.5 ? v : v.match(/.{1,4}/g)!.join(' ');
  },
  },
  contexts: {
  'us-ssn-labelled': [(v) => `SSN ${v} for the payroll form`, (v) => `her social security number is ${v}`],
  'credit-card': [(v) => `card ${v} exp 09/28`, (v) => `charge it to ${v} please`, (v) => `my cc is ${v}`],
  'us-ssn': [(v) => `SSN: ${v}`, (v) => `employee ${v} needs a new badge`],
  iban: [(v) => `wire it to ${v} by Friday`, (v) => `IBAN ${v}`],
  },
  nearMisses: {
  'credit-card': ['test card 4242 4242 4242 4242', '4111-1111-1111-1111', 'order 4111 1111 1111 1112 failed', 'card ending 4242', '1234 5678 9012 3456'],
  'us-ssn': ['SSN 000-12-3456', 'SSN 666-12-3456', 'SSN 912-34-5678', 'ssn 123-00-4567', 'ssn 123-45-0000', 'the sample SSN 078-05-1120', 'call 415-555-2671'],
  iban: ['IBAN DE89 3704 0044 0532 0130 01', 'GB00 XXXX 0000 0000 0000 00', 'ref NL00ABNA0000000000'],
  },
};
