/** Stateful rules in rule files: loading, the SQL front end, step conditions and the shipped rules' sequences. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { partitionOf, stepRef } from '../../src/correlate/fact';
import { factOf, factPartitions } from '../../src/correlate/steps';
import { runSequenceTests } from '../../src/correlate/sequence-tests';
import { compileRuleFile, loadRules } from '../../src/engine/load';
import type { ChatEvent } from '../../src/engine/types';
import { RuleWatcher } from '../../src/engine/watch';
import { normalize } from '../../src/events/normalize';
import { projectRoot } from '../../src/paths';

const pack = loadRules(join(projectRoot, 'rules'));

describe('the shipped stateful rules', () => {
  it('load beside the per-event rules, enabled, without problems', () => {
    expect(pack.problems).toEqual([]);
    expect(pack.stateful.active.map((r) => r.id).sort()).toEqual(['confidential-file-to-external', 'reshare-to-outsiders', 'secret-burst']);
    // Per-event matching is unchanged: no stateful rule is among the per-event ones.
    expect(pack.rules.some((r) => r.spec.id === 'secret-burst')).toBe(false);
  });

  it('pass their inline sequences', () => {
    const report = runSequenceTests(pack.stateful.rules, pack);
    expect(report.failures).toEqual([]);
    expect(report.sequences).toBeGreaterThanOrEqual(15);
  });
});

const file = (body: string) => `rules:\n${body}`;

describe('the SQL front end', () => {
  const sqlRule = (sql: string) =>
    compileRuleFile('t.yaml', file(`  - id: burst-sql\n    kind: threshold\n    description: d\n    category: behavior\n    severity: high\n    sql: ${JSON.stringify(sql)}\n`));

  it('lowers hop() with GROUP BY and HAVING onto the same model as the YAML form', () => {
    const r = sqlRule("SELECT user_id, count() AS n FROM hop(slack_events, 1m, 10m) WHERE channel != 'C0BOTS' GROUP BY user_id, window_start HAVING n >= 3");
    expect(r.problems).toEqual([]);
    expect(r.stateful![0]).toMatchObject({ kind: 'threshold', by: 'user', windowMs: 600_000, hopMs: 60_000, count: 3 });
  });

  it('reads tumble() and count(DISTINCT …)', () => {
    const r = sqlRule('SELECT user_id FROM tumble(slack_events, 1h) GROUP BY user_id, window_start HAVING count(DISTINCT channel) > 4');
    expect(r.stateful![0]).toMatchObject({ by: 'user', windowMs: 3_600_000, hopMs: 3_600_000, count: 5, distinct: 'channel' });
  });

  it('says what is wrong, on the rule’s line', () => {
    for (const [sql, message] of [
      ['SELECT user_id, count() AS n FROM slack_events GROUP BY user_id, window_start HAVING n >= 3', /hop\(slack_events/],
      ['SELECT user_id, count() AS n FROM hop(slack_events, 1m, 10m) GROUP BY user_id HAVING n >= 3', /window_start/],
      ['SELECT user_id, count() AS n FROM hop(slack_events, 20m, 10m) GROUP BY user_id, window_start HAVING n >= 3', /hop .* longer than the window/],
      ['SELECT user_id, count() AS n FROM hop(slack_events, 1m, 10m) WHERE nope(text) GROUP BY user_id, window_start HAVING n >= 3', /unsupported function nope/],
    ] as const) {
      const r = sqlRule(sql);
      expect(r.problems).toHaveLength(1);
      expect(r.problems[0]).toMatchObject({ line: 7, field: 'rules.0.sql' });
      expect(r.problems[0]!.message).toMatch(message);
    }
  });

  it('evaluates the WHERE clause on the event, through the engine’s SQL compiler', () => {
    const r = sqlRule("SELECT user_id, count() AS n FROM hop(slack_events, 1m, 10m) WHERE text ILIKE '%deploy key%' GROUP BY user_id, window_start HAVING n >= 2");
    const set = { rules: r.stateful!, active: r.stateful!, spanMs: 600_000 };
    const event = (text: string) => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1700000000.000100', eventType: 'message', text });
    expect(factOf(event('here is the Deploy Key'), [], { stateful: set, kmsChannels: new Set() })?.steps).toEqual([stepRef('burst-sql', 0)]);
    expect(factOf(event('lunch?'), [], { stateful: set, kmsChannels: new Set() })).toBeUndefined();
  });
});

describe('rule files with stateful rules', () => {
  it('report a bad stateful rule with its file, line and field, and keep the good ones', () => {
    const r = compileRuleFile(
      't.yaml',
      file(`  - id: seq\n    kind: sequence\n    description: d\n    category: policy\n    severity: low\n    by: file\n    maxspan: 1 day\n    steps: [{ has_file: true }, { has_file: true }]\n  - id: ok\n    kind: sequence\n    description: d\n    category: policy\n    severity: low\n    by: file\n    maxspan: 1d\n    steps: [{ has_file: true }, { channel_kinds: [im] }]\n`),
    );
    expect(r.problems).toEqual([expect.objectContaining({ file: 't.yaml', line: 8, field: 'rules.0.maxspan' })]);
    expect(r.stateful!.map((s) => s.id)).toEqual(['ok']);
  });

  it('are picked up by hot reload', () => {
    const dir = mkdtempSync(join(tmpdir(), 'stateful-'));
    writeFileSync(join(dir, 'policy.yaml'), readFileSync(join(projectRoot, 'rules', 'policy.yaml')));
    const watcher = new RuleWatcher(dir);
    expect(watcher.current().stateful.active).toHaveLength(0);
    writeFileSync(join(dir, 'stateful.yaml'), readFileSync(join(projectRoot, 'rules', 'stateful.yaml')));
    watcher.reload();
    expect(watcher.current().stateful.active).toHaveLength(3);
    // A broken edit keeps the last good version.
    writeFileSync(join(dir, 'stateful.yaml'), 'rules:\n  - id: x\n    kind: sequence\n');
    const report = watcher.reload();
    expect(report.kept).toEqual([join(dir, 'stateful.yaml')]);
    expect(watcher.current().stateful.active).toHaveLength(3);
  });
});

describe('facts', () => {
  const event = (o: Record<string, unknown>) => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1700000000.000100', eventType: 'message', text: 'hello', channelKinds: ['public' as const], ...o });

  it('are not made for clean chat', () => {
    expect(factOf(event({}), [], { stateful: pack.stateful, kmsChannels: new Set() })).toBeUndefined();
  });

  it('hold ids, kinds, rule ids and event time, never text', () => {
    const f = factOf(event({ text: 'secret plan.pdf', files: ['F1'], raw: { files: [{ id: 'F1', name: 'secret plan.pdf' }] } }), [], { stateful: pack.stateful, kmsChannels: new Set() })!;
    expect(f).toMatchObject({ id: 'slack/T1/C1/1700000000.000100/message', eventTime: 1_700_000_000_000, files: ['F1'], steps: [stepRef('reshare-to-outsiders', 0)] });
    expect(JSON.stringify(f)).not.toContain('plan');
    expect(factPartitions(f, pack.stateful, 8)).toHaveLength(1);
  });

  it('are made for a deleted file (ids only) and go to the file’s partition', () => {
    const envelope = { type: 'event_callback', team_id: 'T1', event_id: 'Ev1', event: { type: 'file_deleted', file_id: 'F1', event_ts: '1700000100.000200' } };
    const n = normalize('chat.slack.T1.file_deleted', new TextEncoder().encode(JSON.stringify(envelope)));
    expect(n).toMatchObject({ kind: 'event', event: { eventType: 'file_deleted', channel: '', user: '', ts: '1700000100.000200', files: ['F1'], text: '' } });
    const f = factOf((n as { event: ChatEvent }).event, [], { stateful: pack.stateful, kmsChannels: new Set() })!;
    expect(f).toMatchObject({ id: 'slack/T1//1700000100.000200/file_deleted', files: ['F1'], steps: [stepRef('reshare-to-outsiders', -1)] });
    expect(factPartitions(f, pack.stateful, 8)).toEqual([partitionOf('file', 'F1', 8)]);
  });
});
