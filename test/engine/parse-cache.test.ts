/**
 * The rule files' parse cache: a YAML file (and a SQL rule's statement) is parsed once per
 * content, and what comes from the cache is validated and compiled like a fresh parse, with
 * problems still on their lines.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/engine/engine';
import { formatProblem, loadRules } from '../../src/engine/load';
import { compileSql } from '../../src/engine/sql';

const file = (keyword: string) => `rules:
  - id: word
    description: a word
    category: policy
    severity: low
    match:
      keywords: [${keyword}]
    actions: [notify]
    message: "no ${keyword} here"
`;

describe('rule file parse cache', () => {
  let cache: string;
  let dir: string;
  const before = process.env.SENTINEL_RULE_CACHE;
  beforeEach(() => {
    cache = mkdtempSync(join(tmpdir(), 'sentinel-rule-cache-'));
    dir = mkdtempSync(join(tmpdir(), 'sentinel-rules-'));
    process.env.SENTINEL_RULE_CACHE = cache;
  });
  afterEach(() => {
    if (before === undefined) delete process.env.SENTINEL_RULE_CACHE;
    else process.env.SENTINEL_RULE_CACHE = before;
  });
  const entries = () => readdirSync(cache).filter((n) => n.endsWith('.json'));

  it('keeps one entry per content and loads the same rules from it', () => {
    writeFileSync(join(dir, 'a.yaml'), file('lemon'));
    const first = loadRules(dir);
    expect(first.problems).toEqual([]);
    expect(entries()).toHaveLength(1);
    const second = loadRules(dir);
    expect(second.active.map((r) => r.spec)).toEqual(first.active.map((r) => r.spec));
    expect(entries()).toHaveLength(1);
    writeFileSync(join(dir, 'a.yaml'), file('melon'));
    expect(loadRules(dir).active[0]!.spec.match.keywords).toEqual(['melon']);
    expect(entries()).toHaveLength(2);
  });

  it('validates what comes from the cache, and reports a refused rule on its line from the YAML', () => {
    writeFileSync(join(dir, 'a.yaml'), file('lemon'));
    loadRules(dir);
    // An entry that no longer holds a valid rule (edited, or written by an older Sentinel).
    const entry = join(cache, entries()[0]!);
    const data = JSON.parse(readFileSync(entry, 'utf8')) as { rules: { severity: string }[] };
    data.rules[0]!.severity = 'apocalyptic';
    writeFileSync(entry, JSON.stringify(data));
    const loaded = loadRules(dir);
    // The YAML itself is fine: it is read again, loads, and its data replaces the bad entry.
    expect(loaded.problems).toEqual([]);
    expect(loaded.active.map((r) => r.spec.severity)).toEqual(['low']);
    expect(JSON.parse(readFileSync(entry, 'utf8')).rules[0].severity).toBe('low');
  });

  it('caches nothing for a file with a problem, and names its line', () => {
    writeFileSync(join(dir, 'a.yaml'), file('lemon').replace('severity: low', 'severity: apocalyptic'));
    const loaded = loadRules(dir);
    expect(loaded.problems.map(formatProblem)).toEqual([expect.stringMatching(/a\.yaml:5: rules\.0\.severity: /)]);
    expect(entries()).toEqual([]);
  });

  it('reads the YAML when the cache is unreadable or off', () => {
    writeFileSync(join(dir, 'a.yaml'), file('lemon'));
    loadRules(dir);
    writeFileSync(join(cache, entries()[0]!), '{ not json');
    expect(loadRules(dir).active).toHaveLength(1);
    process.env.SENTINEL_RULE_CACHE = 'off';
    writeFileSync(join(dir, 'b.yaml'), file('melon').replace('id: word', 'id: other'));
    expect(loadRules(dir).active).toHaveLength(2);
    expect(entries()).toHaveLength(1);
  });

  it('keeps the parse of a SQL rule, uses it on the next load, and keeps nothing of an ad hoc condition', () => {
    const sqlFile = (word: string) =>
      `rules:\n  - id: sql-word\n    description: d\n    category: policy\n    severity: low\n    match:\n      sql: SELECT * FROM slack_events WHERE text LIKE '%${word}%'\n    actions: [notify]\n`;
    writeFileSync(join(dir, 'a.yaml'), sqlFile('lemon'));
    const matches = (text: string) => evaluate({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.1', eventType: 'message', text }, loadRules(dir)).length;
    expect(matches('a lemon tart')).toBe(1);
    // The file's data and the statement's syntax tree.
    expect(entries()).toHaveLength(2);
    const tree = entries().map((n) => join(cache, n)).find((p) => readFileSync(p, 'utf8').includes('"%lemon%"'))!;
    expect(tree).toBeDefined();
    // The next load reads the tree from the cache: an entry that says otherwise is what it goes by.
    writeFileSync(tree, readFileSync(tree, 'utf8').replaceAll('%lemon%', '%lime%'));
    expect([matches('a lemon tart'), matches('a lime tart')]).toEqual([0, 1]);
    expect(entries()).toHaveLength(2);
    // `sentinel tail --where` compiles an operator's condition, which may quote a secret: not kept.
    compileSql(`SELECT * FROM slack_events WHERE text LIKE '%AKIAIOSFODNN7EXAMPLE%'`, '--where');
    expect(entries()).toHaveLength(2);
  });
});
