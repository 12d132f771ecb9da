/** The prefilter: Aho-Corasick over anchors, digit runs and shapes; it may let through too much, never too little. */
import { describe, expect, it } from 'vitest';
import { HINT_BASE64, HINT_ESCAPE, HINT_HEX, Prefilter, shapeDigitRun, shapeRegex, type Gate } from '../src/engine/prefilter';

const gate = (g: Partial<Gate>): Gate => ({ anchors: [], minDigitRun: 0, ...g });
const run = (p: Prefilter, text: string) => p.candidates(Buffer.from(text), text);

describe('prefilter', () => {
  it('finds overlapping and nested anchors in any case (the classic he/she/his/hers set)', () => {
    const p = new Prefilter([gate({ anchors: ['he'] }), gate({ anchors: ['she'] }), gate({ anchors: ['his'] }), gate({ anchors: ['hers'] })]);
    expect(run(p, 'USHERS')).toEqual([0, 1, 3]);
    expect(run(p, 'a phis b')).toEqual([2]);
    expect(run(p, 'nothing')).toEqual([]);
  });

  it('agrees with a plain substring search on random text', () => {
    const anchors = ['ab', 'bca', 'cab', 'aaa', 'ghp_', 'xoxb-', '://'];
    const p = new Prefilter(anchors.map((a) => gate({ anchors: [a] })));
    let seed = 1;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const text = Array.from({ length: 30 }, () => 'abcABC:/_-xoghp'[Math.floor(rand() * 15)]).join('');
      const expected = anchors.flatMap((a, k) => (text.toLowerCase().includes(a) ? [k] : []));
      expect(run(p, text)).toEqual(expected);
    }
  });

  it('gates on digit runs with single separators', () => {
    const p = new Prefilter([gate({ minDigitRun: 13 })]);
    expect(run(p, 'card 4111 1111 1111 1111')).toEqual([0]);
    expect(run(p, 'card 4111-1111-1111-1')).toEqual([0]);
    expect(run(p, 'call 415 555 2671')).toEqual([]);
    expect(run(p, '4111  1111  1111  1111')).toEqual([]);
  });

  it('gates on shapes and required literals, and matches anchors with non-ASCII letters', () => {
    const p = new Prefilter([gate({ shape: 'AA99' }), gate({ anchors: ['sk'], requires: ['SK'] }), gate({ anchors: ['geheimnis', 'contraseña'] })]);
    expect(run(p, 'iban DE89 3704')).toEqual([0]);
    expect(run(p, 'de89 3704')).toEqual([]);
    expect(run(p, 'ask the desk')).toEqual([]);
    expect(run(p, 'key SKabc')).toEqual([1]);
    expect(run(p, 'la CONTRASEÑA es')).toEqual([2]);
  });

  it('hints at encoded text in the same pass: base64 of text, hex of text, escapes; not at digests and ids', () => {
    const p = new Prefilter([gate({ anchors: ['ghp_'] })]);
    const hints = (text: string) => {
      run(p, text);
      return p.hints;
    };
    expect(hints(`token ${Buffer.from('password=Q7zVtm2Lp9Wx').toString('base64')}`)).toBe(HINT_BASE64);
    expect(hints(`blob ${Buffer.from('password=Q7zVtm2Lp9Wx').toString('hex')}`)).toBe(HINT_HEX);
    expect(hints('postgres%3A%2F%2Fapp')).toBe(HINT_ESCAPE);
    expect(hints(String.raw`{\"token\": 1}`)).toBe(HINT_ESCAPE);
    expect(hints('sha256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toBe(0);
    expect(hints('request 0f8fad5b-d9cb-469f-a165-70867728950e, commit 9fceb02d0ae598e95dc970b74767f19372d61af8')).toBe(0);
    expect(hints('Morning all! standup in 5')).toBe(0);
  });

  it('records where the runs of 12 or more digits are, separators inside and not at their ends', () => {
    const p = new Prefilter([gate({ anchors: ['x'] })]);
    const runs = (text: string) => {
      run(p, text);
      const out: string[] = [];
      for (let k = 0; k < p.longRuns.length; k += 2) out.push(text.slice(p.longRuns[k], p.longRuns[k + 1]));
      return out;
    };
    expect(runs('card 4111 1111 1111 1111 x')).toEqual(['4111 1111 1111 1111']);
    expect(runs('4111-1111-1111-1111- x')).toEqual(['4111-1111-1111-1111']);
    expect(runs('a 4111111111111111')).toEqual(['4111111111111111']);
    expect(runs('x 4111  1111 1111 1111 1111')).toEqual(['1111 1111 1111 1111']);
    expect(runs('call 1234567890 or 555-0100')).toEqual([]);
  });

  it('finds shapes however they are followed: bit-parallel, inside long digit runs, or by regex when they do not fit', () => {
    const long = 'A9A9A9A9A9A9A9A9A9A9A9A9A9A9A9A9A9A9'; // 36 characters: more than a word of shape state
    const p = new Prefilter([
      gate({ shape: 'AA99' }),
      gate({ shape: ['999-99-9999', '999 99 9999'] }),
      gate({ shape: '9999 9999 9999' }),
      gate({ shape: long }),
      gate({ shape: 'AAA.' }),
    ]);
    expect(run(p, 'iban DE89 3704')).toEqual([0]);
    expect(run(p, 'ssn 123-45-6789 and 123 45 6789')).toEqual([1]);
    expect(run(p, 'ssn 123-45 6789')).toEqual([]);
    expect(run(p, 'aadhaar 2345 6789 0123, again 12 2345 6789 0123 45')).toEqual([2]);
    expect(run(p, 'not 2345 6789  0123')).toEqual([]);
    expect(run(p, `x ${long.replaceAll('A', 'Q').replaceAll('9', '7')} y`)).toEqual([3]);
    expect(run(p, 'no digits at all: ABC.')).toEqual([4]);
    expect(run(p, 'AB12')).toEqual([0]);
    // A shape from an earlier text does not linger into the next.
    expect(run(p, 'nothing here')).toEqual([]);
  });

  it('the digit run a shape implies gates it first', () => {
    expect(shapeDigitRun('AA99')).toBe(2);
    expect(shapeDigitRun(['999-99-9999', '999 99 9999'])).toBe(9);
    expect(shapeDigitRun('999.99.9999')).toBe(4);
    expect(shapeDigitRun(['A999999', 'A 99 99 99'])).toBe(6);
    expect(shapeDigitRun('9- 9')).toBe(1);
  });

  it('agrees with a plain reading of every gate on random text', () => {
    const gates: Gate[] = [
      gate({ anchors: ['key', 'pass'] }),
      gate({ anchors: ['ghp_'], requires: ['ghp_'] }),
      gate({ minDigitRun: 12 }),
      gate({ minDigitRun: 4, shape: '999.99.9999' }),
      gate({ shape: 'AA99' }),
      gate({ shape: ['A999999', 'A 99 99 99'] }),
      gate({ shape: '9999 9999 9999' }),
      gate({ anchors: ['pass'], minDigitRun: 6 }),
      gate({ anchors: ['contraseña'] }),
      gate({ shape: ['999-99-9999', '999 99 9999'], minDigitRun: 9 }),
    ];
    const p = new Prefilter(gates);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pieces = ['key', 'PASS', 'ghp_', 'GHP_', 'contraseña', ' ', ' ', '-', '.', '0', '1', '9', '12', 'AB', 'Q', 'x', 'é', '🚀', '%', '\\', 'aGVsbG8gd29ybGQgaGVsbG8gd29ybGQ'];
    // Runs where the prefilter reads them: in the UTF-8 bytes (one character per byte here).
    const digitRuns = (text: string) =>
      [...Buffer.from(text).toString('latin1').matchAll(/[0-9](?:[ -]?[0-9])*/g)].map((m) => ({ start: m.index, end: m.index + m[0].length, digits: m[0].replace(/[^0-9]/g, '').length }));
    for (let i = 0; i < 3000; i++) {
      const text = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => pieces[Math.floor(rand() * pieces.length)]).join('');
      const lower = text.toLowerCase();
      const runs = digitRuns(text);
      const maxRun = Math.max(0, ...runs.map((r) => r.digits));
      const expected = gates.flatMap((g, k) =>
        (g.anchors.length === 0 || g.anchors.some((a) => lower.includes(a))) &&
        maxRun >= g.minDigitRun &&
        (!g.shape || shapeRegex(g.shape).test(text)) &&
        (g.requires ?? []).every((r) => text.includes(r))
          ? [k]
          : [],
      );
      expect(run(p, text), JSON.stringify(text)).toEqual(expected);
      expect(p.longRuns, JSON.stringify(text)).toEqual(runs.filter((r) => r.digits >= 12).flatMap((r) => [r.start, r.end]));
      expect((p.hints & HINT_ESCAPE) !== 0).toBe(/[%\\]/.test(text));
    }
  });
});
