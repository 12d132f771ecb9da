/** Rule files: loading, clear problems, and the engine's matching. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../src/engine/engine';
import { runInlineTests } from '../src/engine/inline-tests';
import { formatProblem, loadRules } from '../src/engine/load';
import { redact } from '../src/engine/redact';
import type { ChatEvent } from '../src/engine/types';
import { projectRoot } from '../src/paths';

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
