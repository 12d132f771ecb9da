/** Rule files: loading, clear problems, and the engine's matching. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate, ruleSet } from '../src/engine/engine';
import { runInlineTests } from '../src/engine/inline-tests';
import { formatProblem, loadRules } from '../src/engine/load';
import { redact } from '../src/engine/redact';
import type { ChatEvent } from '../src/engine/types';
import { projectRoot } from '../src/paths';
import { leak, ordinaryChat, rng, secretValues } from './corpus/generators';

const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.000001', eventType: 'message', text });

function rulesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-rules-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const good = `rules:
  - id: confidential
    description: confidential material
    category: policy
    severity: medium
    match:
      keywords: [confidential]
    actions: [delete, notify]
    message: "<@{user}>, do not send messages with confidential information"
`;

describe('rule files', () => {
  it('ship with every inline example passing', () => {
    const loaded = loadRules(join(projectRoot, 'rules'));
    expect(loaded.problems.map(formatProblem)).toEqual([]);
    expect(loaded.rules.length).toBeGreaterThanOrEqual(2);
    const report = runInlineTests(loaded.rules);
    expect(report.examples).toBeGreaterThan(0);
    expect(report.failures).toEqual([]);
  });

  it('reports a bad field with its file, line and what was expected, and still loads the good files', () => {
    const dir = rulesDir({
      'a-good.yaml': good,
      'b-bad.yaml': good.replace('id: confidential', 'id: other').replace('severity: medium', 'severity: urgent'),
    });
    const loaded = loadRules(dir);
    expect(loaded.rules.map((r) => r.spec.id)).toEqual(['confidential']);
    expect(loaded.problems).toHaveLength(1);
    const text = formatProblem(loaded.problems[0]!);
    expect(text).toContain(`${join(dir, 'b-bad.yaml')}:5: rules.0.severity:`);
    expect(text).toMatch(/low.*medium.*high.*critical/);
  });

  it('reports broken YAML with its line', () => {
    const loaded = loadRules(rulesDir({ 'x.yaml': 'rules:\n  - id: [unclosed\n' }));
    expect(loaded.rules).toEqual([]);
    expect(formatProblem(loaded.problems[0]!)).toMatch(/x\.yaml:\d+: YAML: /);
  });

  it('refuses a duplicate rule id, keeping the first', () => {
    const loaded = loadRules(rulesDir({ 'a.yaml': good, 'b.yaml': good }));
    expect(loaded.rules).toHaveLength(1);
    expect(formatProblem(loaded.problems[0]!)).toContain('rule id "confidential" is already defined in');
  });

  it('says so when the folder cannot be read', () => {
    const loaded = loadRules('/nonexistent/rules');
    expect(formatProblem(loaded.problems[0]!)).toContain('cannot read the rules folder');
  });
});

describe('keyword rules', () => {
  const rules = loadRules(rulesDir({ 'r.yaml': good }));

  it('match whole words case-insensitively and fill in the user message', () => {
    const [f] = evaluate(event('Deck attached (CONFIDENTIAL)'), rules);
    expect(f).toMatchObject({ ruleId: 'confidential', actions: ['delete', 'notify'], start: 15, end: 27, message: '<@U1>, do not send messages with confidential information' });
  });

  it('leave alone words that merely contain the keyword', () => {
    expect(evaluate(event('confidentiality agreement signed; unconfidential'), rules)).toEqual([]);
  });

  it('carry a redacted form of the match, never the match itself', () => {
    const [f] = evaluate(event('this is confidential'), rules);
    expect(f!.redacted).toBe('con******ial');
    expect(redact('AKIAIOSFODNN7EXAMPLE')).toBe('AKI**************PLE');
    expect(redact('hunter2')).toBe('h******');
    expect(redact('abc')).toBe('***');
  });
});

describe('the engine', () => {
  const shipped = loadRules(join(projectRoot, 'rules'));

  it("matches through Slack's escaping and reports positions in the text as delivered", () => {
    const rules = loadRules(rulesDir({ 'r.yaml': good }));
    const delivered = 'a &lt;b&gt; &amp; confidential';
    const [f] = evaluate(event(delivered), rules);
    expect(delivered.slice(f!.start, f!.end)).toBe('confidential');
    const url = evaluate(event('db: postgres://app:S3cr3t&amp;Pw9x@db.acme.io/x'), shipped).find((x) => x.ruleId === 'connection-string-password');
    expect(url).toBeDefined();
  });

  it('never skips a rule that would match: the prefilter only removes rules that cannot', () => {
    const r = rng(11);
    const texts = [...Array.from({ length: 400 }, () => ordinaryChat(r)), ...Object.keys(secretValues).map((id) => leak(id, r))];
    const everything = { ...shipped, prefilter: { candidates: () => shipped.active.map((_, i) => i) } } as unknown as typeof shipped;
    for (const text of texts) {
      expect(evaluate(event(text), shipped)).toEqual(evaluate(event(text), everything));
    }
  });

  it('rejects at load a pattern RE2 cannot take, with the reason', () => {
    const loaded = loadRules(rulesDir({ 'lookbehind.yaml': good.replace('keywords: [confidential]', "regex: '(?<=secret)[a-z]+'") }));
    expect(loaded.rules).toEqual([]);
    expect(formatProblem(loaded.problems[0]!)).toMatch(/lookbehind\.yaml:7: rules\.0\.match\.regex: RE2 cannot compile .*invalid perl operator: \(\?</);
  });

  it('lets a specific detector win over the generic one on the same value', () => {
    const findings = evaluate(event(`token: ${secretValues['github-pat']!(rng(3))}`), shipped);
    expect(findings.map((f) => f.ruleId)).toEqual(['github-pat']);
  });

  it('applies scope, allowlists and enabled: false', () => {
    const scoped = `rules:
  - id: ext
    description: shared channels only
    category: policy
    severity: low
    match: { keywords: [roadmap] }
    scope: { channel_kinds: [external] }
    actions: [notify]
  - id: allowed
    description: allowlist
    category: secret
    severity: low
    match: { regex: '(tok_[a-z0-9]{8})' }
    allow: ['^tok_public']
    actions: [notify]
  - id: off
    description: disabled
    category: policy
    severity: low
    enabled: false
    match: { keywords: [roadmap] }
    actions: [notify]
`;
    const rules = loadRules(rulesDir({ 's.yaml': scoped }));
    expect(rules.problems).toEqual([]);
    const ids = (text: string, kinds: ChatEvent['channelKinds'] = []) => evaluate({ ...event(text), channelKinds: kinds }, rules).map((f) => f.ruleId);
    expect(ids('the roadmap', ['public'])).toEqual([]);
    expect(ids('the roadmap', ['public', 'external'])).toEqual(['ext']);
    expect(ids('tok_public1 and tok_k3y9x2ab')).toEqual(['allowed']);
    expect(evaluate(event('tok_public1'), rules)).toEqual([]);
    expect(ruleSet(rules.rules).active.map((r) => r.spec.id)).toEqual(['ext', 'allowed']);
  });
});
