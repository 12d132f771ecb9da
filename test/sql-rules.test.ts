/** The tutorial's streaming-SQL rules load unchanged and match exactly what SQL says they match. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileRule, RuleCompileError, type CompiledRule } from '../src/engine/compile';
import { evaluate, ruleSet } from '../src/engine/engine';
import { loadRules } from '../src/engine/load';
import { ruleSchema } from '../src/engine/schema';
import type { ChatEvent } from '../src/engine/types';
import { projectRoot } from '../src/paths';

const event = (text: string, extra: Partial<ChatEvent> = {}): ChatEvent => ({
  source: 'slack',
  team: 'T1',
  channel: 'C1',
  user: 'U0ALICE01',
  ts: '1700000000.000100',
  eventType: 'message',
  text,
  ...extra,
});

const shipped = loadRules(join(projectRoot, 'rules'));
const tutorial = (id: string) => {
  const rule = shipped.rules.find((r) => r.spec.id === id);
  if (!rule) throw new Error(`rule ${id} is not in rules/`);
  return ruleSet([{ ...rule, spec: { ...rule.spec, enabled: true } }]);
};
const matches = (rules: ReturnType<typeof ruleSet>, text: string, extra?: Partial<ChatEvent>) => evaluate(event(text, extra), rules).length > 0;

function sqlRule(sql: string, extra: Record<string, unknown> = {}): CompiledRule {
  const spec = ruleSchema.parse({ id: 'r', description: 'd', category: 'policy', severity: 'low', match: { sql }, actions: ['notify'], ...extra });
  return compileRule(spec, 'test.yaml');
}

describe('the four tutorial SQL rules, as written', () => {
  it("text='password' matches only a message that is exactly password", () => {
    const r = tutorial('tutorial-password-exact');
    expect(matches(r, 'password')).toBe(true);
    for (const t of ['Password', 'my password', 'password ', 'passwords']) expect(matches(r, t)).toBe(false);
  });

  it("multi_search_any(text, ['password','token','secret']) matches any of the substrings, case-sensitively", () => {
    const r = tutorial('tutorial-credential-words');
    for (const t of ['reset your password', 'the tokenizer', 'top secret', 'secretary']) expect(matches(r, t)).toBe(true);
    for (const t of ['PASSWORD', 'Token', 'nothing here']) expect(matches(r, t)).toBe(false);
  });

  it("match(text, 'arn:aws:kms:us-east-1:\\d{12}:key/.{36}') matches a us-east-1 key ARN", () => {
    const r = tutorial('tutorial-kms-key-arn');
    const arn = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const [f] = evaluate(event(`revoke ${arn} now`), r);
    expect(f).toMatchObject({ start: 7, end: 7 + arn.length, actions: ['revoke_kms', 'notify'] });
    expect(matches(r, arn.replace('us-east-1', 'eu-west-1'))).toBe(false);
    expect(matches(r, 'arn:aws:kms:us-east-1:1234:key/short')).toBe(false);
  });

  it("LIKE '%confidential%' with tp_action and a concat() tp_message becomes the rule's action and message", () => {
    const r = tutorial('tutorial-confidential');
    const [f] = evaluate(event('the confidentiality clause'), r);
    expect(f).toMatchObject({ actions: ['delete'], message: '<@U0ALICE01>, do not send messages with confidential information', start: 4, end: 16 });
    expect(matches(r, 'CONFIDENTIAL')).toBe(false); // LIKE is case-sensitive, as in the tutorial's engine
  });
});

describe('SQL rules', () => {
  const one = (sql: string) => ruleSet([sqlRule(sql)]);

  it('support =, !=, IN, NOT IN, NOT, AND, OR with SQL precedence', () => {
    const r = one("SELECT * FROM slack_events WHERE text LIKE '%deck%' AND channel IN ('C1','C2') OR user_id = 'U9' AND NOT channel != 'C3'");
    expect(matches(r, 'board deck')).toBe(true);
    expect(matches(r, 'board deck', { channel: 'C7' })).toBe(false);
    expect(matches(r, 'anything', { user: 'U9', channel: 'C3' })).toBe(true);
    expect(matches(r, 'anything', { user: 'U9', channel: 'C4' })).toBe(false);
    const notIn = one("SELECT * FROM slack_events WHERE text = 'x' AND channel NOT IN ('C1')");
    expect(matches(notIn, 'x')).toBe(false);
    expect(matches(notIn, 'x', { channel: 'C2' })).toBe(true);
  });

  it('support ILIKE, NOT LIKE, lower() and LIKE wildcards', () => {
    expect(matches(one("SELECT * FROM slack_events WHERE text ILIKE '%confidential%'"), 'CONFIDENTIAL')).toBe(true);
    expect(matches(one("SELECT * FROM slack_events WHERE lower(text) LIKE '%secret%'"), 'TOP SECRET')).toBe(true);
    expect(matches(one("SELECT * FROM slack_events WHERE text NOT LIKE '%ok%'"), 'fine')).toBe(true);
    expect(matches(one("SELECT * FROM slack_events WHERE text LIKE 'inv_ice%'"), 'invoice 12')).toBe(true);
    expect(matches(one("SELECT * FROM slack_events WHERE text LIKE 'inv_ice%'"), 'an invoice')).toBe(false);
  });

  it('read fields of the raw Slack event', () => {
    const raw = { channel_type: 'im', files: [{ name: 'payroll.xlsx' }] };
    expect(matches(one("SELECT * FROM slack_events WHERE event.channel_type = 'im'"), 'x', { raw })).toBe(true);
    expect(matches(one("SELECT * FROM slack_events WHERE channel_type = 'channel'"), 'x', { raw })).toBe(false);
    expect(matches(one("SELECT * FROM slack_events WHERE json_value(raw, '$.files[0].name') LIKE '%payroll%'"), 'x', { raw })).toBe(true);
  });

  it('derive prefilter anchors from what the WHERE clause requires', () => {
    expect(sqlRule("SELECT * FROM slack_events WHERE text LIKE '%confidential%' AND channel = 'C1'").gate.anchors).toEqual(['confidential']);
    expect(sqlRule("SELECT * FROM slack_events WHERE multi_search_any(text, ['ab','cd']) OR text = 'zz'").gate.anchors).toEqual(['ab', 'cd', 'zz']);
    expect(sqlRule("SELECT * FROM slack_events WHERE NOT text LIKE '%x%'").gate.anchors).toEqual([]);
  });

  it.each([
    ["SELECT * FROM slack_events WHERE text = 'a' GROUP BY channel", /unsupported construct GROUP BY/],
    ["SELECT * FROM slack_events WHERE text = 'a' LIMIT 5", /unsupported construct LIMIT/],
    ["SELECT * FROM slack_events a JOIN users b ON a.user = b.id", /FROM must name the one stream slack_events/],
    ['SELECT * FROM other_stream', /unknown stream "other_stream"/],
    ["SELECT * FROM slack_events WHERE soundex(text) = 'x'", /unsupported function soundex\(\)/],
    ["SELECT * FROM slack_events WHERE match(text, '(?<=a)b')", /RE2 cannot compile/],
    ["SELECT count(*) AS n FROM slack_events", /unsupported selected column "n"/],
    ["SELECT *, 'explode' AS tp_action FROM slack_events", /tp_action "explode" is not one of/],
    ['DELETE FROM slack_events', /only SELECT is supported/],
    ['SELECT * FROM slack_events WHERE', /SQL does not parse/],
  ])('refuse %s with a message naming the construct', (sql, message) => {
    expect(() => sqlRule(sql)).toThrow(RuleCompileError);
    expect(() => sqlRule(sql)).toThrow(message);
  });

  it('refuse an action given twice', () => {
    expect(() => sqlRule("SELECT *, 'delete' AS tp_action FROM slack_events WHERE text = 'a'")).toThrow('give the actions once');
  });
});
