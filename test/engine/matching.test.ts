/**
 * The engine's fast paths give the same answers as the plain ones: the subject's reused byte
 * buffer, the bounded-repetition locator and its opened bounds, a group that is the whole match,
 * groups read where the match is.
 */
import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { compileRule, groupIsWholeMatch, relaxBounds, relaxLargeBounds, stripCaptures, subject } from '../../src/engine/compile';
import { evaluate, ruleSet } from '../../src/engine/engine';
import { loadRules } from '../../src/engine/load';
import { ruleSchema } from '../../src/engine/schema';
import type { ChatEvent } from '../../src/engine/types';
import { projectRoot } from '../../src/paths';

const rule = (spec: Record<string, unknown>) => compileRule(ruleSchema.parse({ category: 'policy', severity: 'high', actions: ['notify'], ...spec }), 'test');
const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.1', eventType: 'message', text });
const spans = (rules: ReturnType<typeof ruleSet>, text: string) => evaluate(event(text), rules).map((f) => [f.ruleId, text.slice(f.start, f.end)]);

describe('subject bytes', () => {
  it('are the UTF-8 of the text, for ASCII, non-ASCII and long texts, and byte offsets map back to characters', () => {
    for (const text of ['plain ascii', 'grüße 🚀 ok', 'x'.repeat(7000) + ' é']) {
      const s = subject(text);
      expect(s.bytes.equals(Buffer.from(text, 'utf8'))).toBe(true);
      const at = Buffer.from(text, 'utf8').length - 2;
      expect(s.charOffset(at)).toBe(Buffer.from(text, 'utf8').subarray(0, at).toString('utf8').length);
    }
  });

  it('stay right when subjects take turns with the shared buffer', () => {
    const a = subject('first text');
    const b = subject('the second one, longer');
    expect(a.bytes.toString()).toBe('first text');
    expect(b.bytes.toString()).toBe('the second one, longer');
    expect(a.bytes.toString()).toBe('first text');
    expect(b.charOffset(4)).toBe(4);
  });
});

describe('locating matches', () => {
  it('relaxes only large counted repetitions, outside character classes and escapes', () => {
    expect(relaxLargeBounds('a{16,1000}b{2,8}[x{1,999}]\\{1,500}')).toBe('a{16,}b{2,8}[x{1,999}]\\{1,500}');
    expect(relaxLargeBounds('a{2,8}')).toBeUndefined();
  });

  it('counts capture groups as RE2 does, for every pattern of the shipped pack and some awkward ones', () => {
    const patterns = [
      ...loadRules(join(projectRoot, 'rules')).active.flatMap((r) => (r.spec.match.regex ? [{ regex: r.spec.match.regex, flags: r.spec.match.flags ?? '' }] : [])),
      ...['a(b)c', '(?:x)(?i)(y)', '(?P<n>a)(?<m>b)', '[(]\\((x)', '[]()](a)', '[^](](b)', '(a(b(c)))', '(?i:(d))'].map((regex) => ({ regex, flags: '' })),
    ];
    expect(patterns.length).toBeGreaterThan(300);
    for (const { regex, flags } of patterns) {
      const re2Count = (new RE2(`${regex}|`, `${flags}u`).exec('')?.length ?? 1) - 1;
      expect({ regex, captures: stripCaptures(regex).captures }).toEqual({ regex, captures: re2Count });
    }
  });

  it('refuses at load a bound RE2 would refuse, although only the opened pattern is compiled then', () => {
    expect(() => relaxLargeBounds('x{16,1001}')).toThrow(/bad repetition operator \{16,1001\} \(at most 1000\)/);
    expect(() => rule({ id: 'b', description: 'b', match: { regex: 'tok_([a-z]{4,5000})', anchors: ['tok_'] } })).toThrow(
      /^RE2 cannot compile "tok_\(\[a-z\]\{4,5000\}\)": bad repetition operator \{4,5000\} \(at most 1000\)$/,
    );
    expect(() => rule({ id: 'u', description: 'u', match: { regex: 'tok_([a-z]{4,300}', anchors: ['tok_'] } })).toThrow(/RE2 cannot compile "tok_\(\[a-z\]\{4,300\}"/);
  });

  it('find the same leftmost matches with large bounds as RE2 does alone, overlapping candidates and all', () => {
    const pattern = '\\b(tok_[0-9]{1,3}_[a-z]{4,300}\\.[a-z]{4,300}|tok_[a-z]{6,250}\\b)';
    const r = ruleSet([rule({ id: 't', description: 't', match: { regex: pattern, anchors: ['tok_'] } })]);
    const texts = [
      'tok_12_abcd.efgh and tok_abcdefg',
      'xtok_1_abcd.efgh tok_1_abcd tok_99_abcdef.ghijk.lmnop',
      `tok_${'a'.repeat(400)} tok_5_${'b'.repeat(301)}.cccc tok_5_${'b'.repeat(300)}.cccc`,
      'tok_tok_abcdefgh',
    ];
    const re = new RE2(pattern, 'gu');
    for (const text of texts) {
      const expected = [...text.matchAll(re as unknown as RegExp)].map((m) => ['t', m[1]]);
      expect(spans(r, text)).toEqual(expected);
    }
  });

  it('trust a relaxed match as it stands only when every bound opened repeats a class and the match is no longer than the least of them', () => {
    expect(relaxBounds('a[b-z]{2,300}[0-9]{1,250}?')).toEqual({ source: 'a[b-z]{2,}[0-9]{1,}?', upTo: 250 });
    expect(relaxBounds('(?:ab){1,300}[a]{1,400}')).toEqual({ source: '(?:ab){1,}[a]{1,}', upTo: 0 });
    expect(relaxBounds('a{16,1000}')?.upTo).toBe(0);
    expect(relaxBounds('[x]\\{1,500}')).toBeUndefined();
  });

  it('give the pattern\'s own matches and groups with its bounds opened, on texts with runs around the bounds', () => {
    const patterns = [
      '(?:^|[^a-z])(k[a-z]{3,200}?)(?:x|y)',
      '\\b(k[a-y]{1,210})(z[a-z]{0,220})?\\b',
      '(k[a-z]{2,205})[.]([a-z]{100,230})',
      // Second and later matches of a text, where a text's rest read alone differs at its start.
      '(?:^|[^a-z])k([a-c]{2,30})',
      '^k[a-z]{1,5}|\\bz[a-z]{1,4}',
      '\\B(y[a-c]{1,3})',
    ];
    let seed = 7;
    const next = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >>> 12) % n;
    const texts = Array.from({ length: 200 }, () => {
      let text = '';
      for (let piece = next(4) + 1; piece > 0; piece--) {
        const run = Array.from({ length: 150 + next(120) }, () => 'abcxyz'[next(6)]).join('');
        text += ['k', ' k', 'k', '.'][next(4)] + run + [' ', '.', '.', 'y', 'z'][next(5)];
      }
      return text;
    });
    for (const pattern of patterns) {
      const r = ruleSet([rule({ id: 'p', description: 'p', match: { regex: pattern } })]);
      const re = new RE2(pattern, 'gu');
      let found = 0;
      for (const text of texts) {
        const expected = [...text.matchAll(re as unknown as RegExp)].flatMap((m) => { const value = m.length > 1 ? m[1] : m[0]; return value ? [['p', value]] : []; }).slice(0, 20);
        found += expected.length;
        expect({ pattern, text, spans: spans(r, text) }).toEqual({ pattern, text, spans: expected });
      }
      expect(found, pattern).toBeGreaterThan(20);
    }
  });

  it('take a group that spans the whole match without reading it again, and read other groups where the match starts', () => {
    expect(groupIsWholeMatch('\\b(ghp_[0-9A-Za-z]{36})\\b')).toBe(true);
    expect(groupIsWholeMatch('(?i)(abc)$')).toBe(true);
    expect(groupIsWholeMatch('\\b(abc)(?:[^a-z]|$)')).toBe(false);
    expect(groupIsWholeMatch('(a)|(b)')).toBe(false);
    expect(groupIsWholeMatch('(?:a)(b)')).toBe(false);
    const r = ruleSet([
      rule({ id: 'whole', description: 'w', match: { regex: '\\b(wk_[a-z0-9]{8})\\b', anchors: ['wk_'] } }),
      // Read alone, the match starts with the character before the key, which the pattern needs.
      rule({ id: 'keyed', description: 'k', match: { regex: '(?:^|[^a-z])key[ =:]+([a-z0-9]{8})(?:[^a-z0-9]|$)', anchors: ['key'] } }),
    ]);
    expect(spans(r, 'see wk_ab12cd34, key: zz99yy88. and KEY=q1w2e3r4')).toEqual([
      ['whole', 'wk_ab12cd34'],
      ['keyed', 'zz99yy88'],
    ]);
  });
});
