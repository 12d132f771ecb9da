/** Redact, tombstone and quarantine as rule actions: loading, the redacted text, the incident input and the plan. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../src/engine/engine';
import { redactAll } from '../src/engine/excerpt';
import { formatProblem, loadRules } from '../src/engine/load';
import type { ChatEvent } from '../src/engine/types';
import { bounded, incidentInput } from '../src/incidents/start';
import { planFor, tombstoneText } from '../workflows/incident-steps';
import { REDACTED_TEXT_MAX } from '../contract';

const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1700000000.000100', eventType: 'message', text });

function load(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-removal-'));
  writeFileSync(join(dir, 'removal.yaml'), yaml);
  return { dir, ...loadRules(dir) };
}

const rule = (id: string, actions: string, match = `{ regex: '(SNTL-[A-Z0-9]{16})' }`) => `  - id: ${id}
    description: rule ${id}
    category: secret
    severity: high
    match: ${match}
    actions: ${actions}
`;

describe('removal actions in rule files', () => {
  it('loads redact, tombstone and quarantine from YAML and from a SQL rule’s tp_action', () => {
    const loaded = load(
      `rules:\n${rule('r-redact', '[redact, notify]')}${rule('r-tomb', '[tombstone]')}${rule('r-quarantine', '[quarantine, notify, escalate]')}` +
        rule('r-sql', '', `{ sql: "SELECT 'tombstone,notify' AS tp_action FROM slack_events WHERE text LIKE '%tombme%'" }`).replace('    actions: \n', ''),
    );
    expect(loaded.problems.map(formatProblem)).toEqual([]);
    expect(Object.fromEntries(loaded.rules.map((r) => [r.spec.id, r.actions]))).toEqual({
      'r-redact': ['redact', 'notify'],
      'r-tomb': ['tombstone'],
      'r-quarantine': ['quarantine', 'notify', 'escalate'],
      'r-sql': ['tombstone', 'notify'],
    });
  });

  it('refuses a rule that removes a message two ways, naming the rule and the file, and keeps the others', () => {
    const loaded = load(`rules:\n${rule('ok', '[delete]')}${rule('two-ways', '[delete, notify, quarantine]')}${rule('sql-two', '', `{ sql: "SELECT 'redact tombstone' AS tp_action FROM slack_events WHERE text LIKE '%x%'" }`).replace('    actions: \n', '')}`);
    expect(loaded.rules.map((r) => r.spec.id)).toEqual(['ok']);
    const problems = loaded.problems.map(formatProblem);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toBe(
      `${join(loaded.dir, 'removal.yaml')}:13: rules.1.actions: rule "two-ways" asks for delete and quarantine: a message is removed one way, so give at most one of delete, redact, tombstone, quarantine`,
    );
    expect(problems[1]).toMatch(/removal\.yaml:\d+: rules\.2\.match\.sql: rule "sql-two" asks for redact and tombstone/);
  });
});

describe('the redacted text of a message', () => {
  it('redacts every match like the excerpt, masks token-like words, and keeps the rest and its line breaks', () => {
    const spans = [
      { start: 6, end: 26, redacted: 'AKI**************PLE' },
      { start: 40, end: 47, redacted: 'h******' },
    ];
    const text = 'key = AKIAIOSFODNN7EXAMPLE and\nthe pass hunter2 for db42 ok';
    expect(redactAll(text, spans)).toBe('key = AKI**************PLE and\nthe pass h****** for **** ok');
  });

  it('comes with findings of redact rules only, with every match of the message redacted', () => {
    const loaded = load(`rules:\n${rule('r-redact', '[redact]')}${rule('r-delete', '[delete]', `{ keywords: [bluebird] }`)}`);
    const text = 'deploy with SNTL-ABCDEFGH12345678 tonight\nbluebird says SNTL-MXQPWRKT83726154';
    const findings = evaluate(event(text), loaded);
    const redactFinding = findings.find((f) => f.ruleId === 'r-redact')!;
    expect(findings.find((f) => f.ruleId === 'r-delete')!.redactedText).toBeUndefined();
    expect(redactFinding.redactedText).toBe('deploy with SNT***************678 tonight\nb******* says SNT***************154');
    expect(redactFinding.redactedText).not.toContain('ABCDEFGH');
  });

  it('goes into the incident input only for redact rules, cut at the limit with a note of what was cut', () => {
    const loaded = load(`rules:\n${rule('r-redact', '[redact]')}${rule('r-quarantine', '[quarantine]', `{ keywords: [bluebird] }`)}`);
    const long = `SNTL-ABCDEFGH12345678 bluebird ${'word '.repeat(2000)}`;
    const findings = evaluate(event(long), loaded, { fingerprint: (v) => `fp-${v.length}` });
    const byRule = Object.fromEntries(findings.map((f) => [f.ruleId, incidentInput(event(long), f)]));
    expect(byRule['r-quarantine']!.redactedText).toBeUndefined();
    const redacted = byRule['r-redact']!.redactedText!;
    expect(redacted.length).toBeLessThanOrEqual(REDACTED_TEXT_MAX);
    expect(redacted).toMatch(/^SNT\*+678 b\*+ word word/);
    expect(redacted).toMatch(/\n… \[truncated by Sentinel: \d+ more characters not shown\]$/);
    // What is shown and what is said to be cut add up to the whole redacted text.
    const shown = redacted.indexOf('\n… [truncated');
    expect(shown + Number(/(\d+) more/.exec(redacted)![1])).toBe(redactAll(long, findings.map((f) => f)).length);
    expect(bounded('short')).toBe('short');
  });
});

describe('the plan of a removal rule', () => {
  it('runs the removal first and the review of a quarantine last; other rules plan as before', () => {
    expect(planFor(new Set(['delete', 'notify']))).toEqual(['delete', 'notify', 'summary', 'report']);
    expect(planFor(new Set(['redact', 'notify']))).toEqual(['redact', 'notify', 'summary', 'report']);
    expect(planFor(new Set(['tombstone']))).toEqual(['tombstone', 'summary', 'report']);
    expect(planFor(new Set(['quarantine', 'notify', 'revoke_kms']))).toEqual(['quarantine', 'notify', 'summary', 'report', 'revoke_kms', 'review']);
  });

  it('tombstones with the rule description and the incident id', () => {
    const input = incidentInput(event('SNTL-ABCDEFGH12345678'), {
      ruleId: 'r-tomb', description: 'Sentinel test tokens', category: 'secret', severity: 'high', actions: ['tombstone'], message: 'm', approvalRequired: false, start: 0, end: 21, redacted: 'SNT***', excerpt: 'SNT***', fingerprint: 'fp',
    });
    expect(tombstoneText(input)).toBe(':no_entry: This message was removed by Sentinel: Sentinel test tokens. Incident `incident/slack/T1/C1/1700000000.000100/r-tomb`.');
  });
});
