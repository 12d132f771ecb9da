/** The structural checks behind the PII detectors: checksums, issuer tables and reserved ranges, with valid and invalid values. */
import { describe, expect, it } from 'vitest';
import { aadhaar, canadaSin, cardNetwork, luhn, paymentCard, ukNino, usItin, usSsn, validators, verhoeff } from '../../src/engine/validators';

describe('luhn', () => {
  it('accepts numbers whose check digit is right, in any grouping', () => {
    expect(luhn('79927398713')).toBe(true);
    expect(luhn('4539 1488 0343 6467')).toBe(true);
  });
  it('refuses a wrong check digit and an empty value', () => {
    expect(luhn('79927398710')).toBe(false);
    expect(luhn('4539 1488 0343 6468')).toBe(false);
    expect(luhn('')).toBe(false);
  });
});

describe('payment-card', () => {
  const valid: [string, string][] = [
    ['4539148803436467', 'Visa'],
    ['4222222222222', 'Visa'],
    ['5425233430109903', 'Mastercard'],
    ['2221487277899165', 'Mastercard'],
    ['2720 9931 5738 2406', 'Mastercard'],
    ['3731 371312 89927', 'American Express'],
    ['6011-4825-9910-3362', 'Discover'],
    ['6445 1093 2871 4569', 'Discover'],
    ['6221 2693 1487 5023', 'Discover'],
    ['3530982716453321', 'JCB'],
    ['3589 1102 7745 3108 264', 'JCB'],
    ['3643 726481 4569', 'Diners Club International'],
    ['36569309025904', 'Diners Club International'],
    ['3095 1837 2649 5018', 'Diners Club International'],
    ['6212 3456 7890 1234 569', 'UnionPay'],
    ['675947392816', 'Maestro'],
    ['5018 2749 3310 6548', 'Maestro'],
    ['2202 5638 4417 0299', 'Mir'],
    ['8172 5038 9046 1278', 'RuPay'],
    ['5081 2290 4417 3363', 'RuPay'],
    ['5019 4832 7761 0958', 'Dankort'],
    ['1203 48831 905730', 'UATP'],
  ];
  it.each(valid)('accepts %s (%s)', (number, network) => {
    const fixed = completeLuhn(number);
    expect(cardNetwork(fixed)).toBe(network);
    expect(paymentCard(fixed)).toBe(true);
  });

  it('refuses a failing check digit', () => {
    expect(paymentCard('4539148803436468')).toBe(false);
    expect(paymentCard('2202 5638 4417 0290')).toBe(false);
  });
  it('refuses numbers outside every IIN range or at a length their network does not issue', () => {
    expect(paymentCard(completeLuhn('9123456789012345'))).toBe(false); // no network at 9
    expect(paymentCard(completeLuhn('7123456789012345'))).toBe(false); // 7: petroleum, no network here
    expect(paymentCard(completeLuhn('2720 9931 5738 24061'))).toBe(false); // Mastercard is 16 digits
    expect(paymentCard(completeLuhn('2721 0031 5738 2406'))).toBe(false); // above the 2-series
    expect(paymentCard(completeLuhn('37313713128992'))).toBe(false); // Amex is 15 digits
    expect(paymentCard(completeLuhn('12034883190573'))).toBe(false); // UATP is 15 digits
    expect(paymentCard(completeLuhn('567812345678'))).toBe(false); // 12 digits outside Maestro's IINs
    expect(paymentCard(completeLuhn('45391488034364'))).toBe(false); // Visa at 14
    expect(paymentCard(completeLuhn('38647264814569'))).toBe(false); // Diners 38 starts at 16 digits (36 at 14)
    expect(paymentCard(completeLuhn('360185096240350192'))).toBe(false); // 18 digits: a Discord id, not a Diners card
    expect(paymentCard(completeLuhn('35881027745310826'))).toBe(false); // JCB issues 16 and 19
  });
  it('refuses mixed or doubled separators and separators at the ends', () => {
    expect(paymentCard('4539 1488-0343 6467')).toBe(false);
    expect(paymentCard('4539  1488 0343 6467')).toBe(false);
    expect(paymentCard('4539 1488 0343 6467 ')).toBe(false);
  });
});

describe('us-ssn', () => {
  it('accepts issued-range numbers, bare or with one kind of separator', () => {
    for (const v of ['340-16-6253', '340 16 6253', '340.16.6253', '340166253', '899-01-0001']) expect(usSsn(v), v).toBe(true);
  });
  it("refuses the SSA's never-issued areas, groups and serials, and mixed separators", () => {
    for (const v of ['000-16-6253', '666-16-6253', '900-16-6253', '987-65-4321', '340-00-6253', '340-16-0000', '340-16 6253', '34016-6253', '3401662530']) {
      expect(usSsn(v), v).toBe(false);
    }
  });
});

describe('us-itin', () => {
  it("accepts 9XX numbers with the IRS's middle digits 50-65, 70-88, 90-92, 94-99", () => {
    for (const v of ['912-50-3481', '912-65-3481', '912-70-3481', '948 88 2093', '990-90-0001', '912-92-3481', '912943481', '912-99-3481']) expect(usItin(v), v).toBe(true);
  });
  it('refuses other middle digits (93 is the ATIN), other first digits and bad layouts', () => {
    for (const v of ['912-49-3481', '912-66-3481', '912-69-3481', '912-89-3481', '912-93-3481', '812-70-3481', '912-70 3481', '9127034810']) {
      expect(usItin(v), v).toBe(false);
    }
  });
});

describe('verhoeff', () => {
  it('accepts numbers with a correct check digit', () => {
    expect(verhoeff('2363')).toBe(true); // 236 → check digit 3
    expect(verhoeff('123451')).toBe(true); // 12345 → 1
    expect(verhoeff('2345 6789 0124')).toBe(true);
  });
  it('refuses a wrong check digit, a transposition and too-short input', () => {
    expect(verhoeff('2364')).toBe(false);
    expect(verhoeff('123452')).toBe(false);
    expect(verhoeff('3245 6789 0124')).toBe(false); // adjacent digits swapped
    expect(verhoeff('0')).toBe(false);
  });
});

describe('aadhaar', () => {
  it('accepts 12 digits starting 2-9 with a Verhoeff check digit, bare or 4-4-4', () => {
    for (const v of ['2345 6789 0124', '234567890124', '2345-6789-0124', '4967 2851 3709', '496728513709']) expect(aadhaar(v), v).toBe(true);
  });
  it('refuses a wrong check digit, a leading 0 or 1, other lengths and layouts', () => {
    for (const v of ['2345 6789 0125', '4967 2851 3701', completeVerhoeff('196728513700'), completeVerhoeff('096728513700'), completeVerhoeff('4967285137'), '2345 6789-0124', '23 4567 890124']) {
      expect(aadhaar(v), v).toBe(false);
    }
  });
});

describe('canada-sin', () => {
  it('accepts 9 digits with a Luhn check digit and an assigned first digit, bare or 3-3-3', () => {
    for (const v of ['130 692 544', '130-692-544', '130692544', '527-934-186', '913 280 475']) expect(canadaSin(v), v).toBe(true);
  });
  it("refuses a wrong check digit, first digit 0 or 8 (the government's fictitious 046 454 286), and bad layouts", () => {
    for (const v of ['130 692 545', '046 454 286', completeLuhn('830692544'), '130 692-544', '130 692544', completeLuhn('1306925440')]) {
      expect(canadaSin(v), v).toBe(false);
    }
  });
});

describe('uk-nino', () => {
  it('accepts allocated prefixes with six digits and a suffix A-D, spaced or not', () => {
    for (const v of ['JW 48 27 61 C', 'PR371905A', 'SH 502817 B', 'AB123456D', 'ce 12 34 56 a']) expect(ukNino(v), v).toBe(true);
  });
  it('refuses letters HMRC does not use, O second, the unallocated pairs and other suffixes', () => {
    for (const v of ['QQ 12 34 56 C', 'DA123456A', 'AF123456A', 'AO123456A', 'VA123456B', 'BG123456A', 'GB123456A', 'KN123456A', 'NK123456A', 'NT123456A', 'TN123456A', 'ZZ123456A', 'AB123456E', 'AB12345C', 'AB1234567C']) {
      expect(ukNino(v), v).toBe(false);
    }
  });
});

describe('the validators registry', () => {
  it('names the new checks as rule files spell them', () => {
    expect(Object.keys(validators)).toEqual(expect.arrayContaining(['verhoeff', 'aadhaar', 'canada-sin', 'uk-nino', 'us-itin', 'payment-card']));
  });
});

/** `s` with its last digit replaced by the one that makes the Luhn check pass. */
function completeLuhn(s: string): string {
  for (let c = 0; c < 10; c++) if (luhn(s.slice(0, -1) + c)) return s.slice(0, -1) + c;
  throw new Error(`no Luhn digit for ${s}`);
}

/** `s` with its last digit replaced by the one that makes the Verhoeff check pass. */
function completeVerhoeff(s: string): string {
  for (let c = 0; c < 10; c++) if (verhoeff(s.slice(0, -1) + c)) return s.slice(0, -1) + c;
  throw new Error(`no Verhoeff digit for ${s}`);
}
