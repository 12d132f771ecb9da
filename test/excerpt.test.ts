/** Excerpts: what an operator sees of the message, every secret in it redacted. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../src/engine/engine';
import { excerpt } from '../src/engine/excerpt';
import { loadRules } from '../src/engine/load';
import type { ChatEvent } from '../src/engine/types';
import { projectRoot } from '../src/paths';
import { rng, secretValues } from './corpus/generators';

const rules = loadRules(join(projectRoot, 'rules'));
const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.000001', eventType: 'message', text });

describe('excerpts', () => {
  it('show the words around the match with the match redacted', () => {
    const text = 'hi team, here is what you asked for: secret-value-here thanks';
    const start = text.indexOf('secret-value-here');
    expect(excerpt(text, { start, end: start + 17 }, [{ start, end: start + 17, redacted: 'sec*******ere' }])).toBe(
      'hi team, here is what you asked for: sec*******ere thanks',
    );
    const longer = `well, ${text}`;
    const at = longer.indexOf('secret-value-here');
    expect(excerpt(longer, { start: at, end: at + 17 }, [{ start: at, end: at + 17, redacted: 'sec*******ere' }])).toBe(
      '…hi team, here is what you asked for: sec*******ere thanks',
    );
  });

  it('cut long messages on word boundaries and say so', () => {
    const text = `${'lorem ipsum '.repeat(20)}KEY ${'dolor sit '.repeat(20)}`;
    const start = text.indexOf('KEY');
    const out = excerpt(text, { start, end: start + 3 }, [{ start, end: start + 3, redacted: '***' }]);
    expect(out.startsWith('…')).toBe(true);
    expect(out.endsWith('…')).toBe(true);
    expect(out).toContain(' *** ');
    expect(out.length).toBeLessThan(100);
    expect(out).toMatch(/^…(lorem|ipsum) /); // whole words only
    expect(out).toMatch(/ (dolor|sit) ?…$/);
  });

  it('mask every secret of the message, including those of other rules, and words with digits', () => {
    const r = rng(7);
    const pat = secretValues['github-pat']!(r);
    const aws = secretValues['aws-access-key-id']!(r);
    const text = `deploy with ${pat} and ${aws} on host db7 please`;
    const findings = evaluate(event(text), rules);
    expect(new Set(findings.map((f) => f.ruleId))).toEqual(new Set(['github-pat', 'aws-access-key-id']));
    for (const f of findings) {
      expect(f.excerpt).not.toContain(pat.slice(4, 30));
      expect(f.excerpt).not.toContain(aws.slice(4));
      expect(f.excerpt).toContain('and ');
      expect(f.excerpt).toContain('***'); // db7
      expect(f.excerpt).not.toContain('db7');
    }
  });

  it('are filled in for every finding, with a fingerprint when one is asked for', () => {
    const text = `token ${secretValues['github-pat']!(rng(3))}`;
    const [f] = evaluate(event(text), rules, { fingerprint: (v) => `fp:${v.length}` });
    expect(f?.excerpt).toMatch(/^token ghp\*+/);
    expect(f?.fingerprint).toBe('fp:40');
  });
});
