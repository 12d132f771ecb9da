/** Broad fallback rules speak only where no specific detector did, nor knew the value for a placeholder. */
import { describe, expect, it } from 'vitest';
import { compileRule } from '../../src/engine/compile';
import { evaluate, ruleSet, type Explanation } from '../../src/engine/engine';
import { ruleSchema } from '../../src/engine/schema';
import type { ChatEvent } from '../../src/engine/types';

const rule = (spec: Record<string, unknown>) => compileRule(ruleSchema.parse({ category: 'secret', severity: 'high', actions: ['notify'], ...spec }), 'test');
const rules = ruleSet([
  rule({ id: 'acme-key', description: 'Acme key', match: { regex: '\\b(acme_[A-Za-z0-9]{24})\\b', anchors: ['acme_'], entropy: 3 }, allow: ['^acme_DOCS'] }),
  // A policy rule: no placeholder filter of its own, so only the specific detector's judgement can stop it.
  rule({ id: 'broad', category: 'policy', description: 'anything after key=', match: { regex: 'key=([A-Za-z0-9_]{20,})', anchors: ['key='], fallback: true } }),
]);
const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.1', eventType: 'message', text });

describe('fallback rules', () => {
  it('give way to a specific detector that matched the same text', () => {
    expect(evaluate(event('key=acme_Q7zVtm2Lp9WxR4nB8cYd1KfH'), rules).map((f) => f.ruleId)).toEqual(['acme-key']);
  });

  it('stay quiet on a value a specific detector allowlisted or found to be a placeholder, and say so under explain', () => {
    const heard: Explanation[] = [];
    const explain = (e: Explanation) => heard.push(e);
    expect(evaluate(event('key=acme_DOCSvaXdnv6asntY3ymqYw9Q'), rules, { explain })).toEqual([]);
    expect(evaluate(event('key=acme_abababababababababababab'), rules, { explain })).toEqual([]);
    expect(heard.filter((e) => e.ruleId === 'broad').map((e) => e.detail)).toEqual([
      'by acme-key, which turned the value down (allowlist)',
      'by acme-key, which turned the value down (entropy)',
    ]);
  });

  it('still speak where no specific detector knows the value', () => {
    expect(evaluate(event('key=Zq8vL2mN4pR6sT1uW3xY5zA7'), rules).map((f) => f.ruleId)).toEqual(['broad']);
  });
});
