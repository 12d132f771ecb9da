/**
 * The rule files' parse cache: a YAML file (and a SQL rule's statement) is parsed once per
 * content, and what comes from the cache is validated and compiled like a fresh parse, with
 * problems still on their lines.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { evaluate } from '../../src/engine/engine';
import { formatProblem, loadRules } from '../../src/engine/load';
import { compileSql } from '../../src/engine/sql';

const require = createRequire(import.meta.url);

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

  it('builds the regexes of a file loaded before on first use, and they find what a fresh load finds', () => {
    const regexFile = `rules:
  - id: order-ref
    description: an order reference
    category: policy
    severity: low
    match:
      regex: '\\b(?:ord|ORD)-([0-9]{4,12})\\b'
      anchors: ["ord-"]
    actions: [notify]
  - id: ticket-ref
    description: a ticket reference with its key
    category: policy
    severity: low
    match:
      regex: 'TCK[0-9]{3}-[A-Za-z]{2,40}'
      anchors: ["tck"]
    actions: [notify]
`;
    writeFileSync(join(dir, 'a.yaml'), regexFile);
    const texts = ['ord-12345 shipped', 'see TCK123-abc and ORD-99999999 and ord-12', 'nothing here', 'TCK999-x, TCK000-ab'];
    const run = () => {
      const rules = loadRules(dir);
      expect(rules.problems).toEqual([]);
      return texts.map((text) => evaluate({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.1', eventType: 'message', text }, rules).map((f) => [f.ruleId, f.start, f.end]));
    };
    const fresh = run();
    expect(entries()).toHaveLength(1);
    const fromCache = run();
    expect(fromCache).toEqual(fresh);
    expect(fresh.flat()).toEqual([
      ['order-ref', 4, 9],
      ['order-ref', 23, 31],
      ['ticket-ref', 4, 14],
      ['ticket-ref', 10, 19],
    ]);
    process.env.SENTINEL_RULE_CACHE = 'off';
    expect(run()).toEqual(fresh);
  });

  it('keys a file by the RE2 version too, so another RE2 compiles its patterns afresh', () => {
    writeFileSync(join(dir, 'a.yaml'), file('lemon'));
    loadRules(dir);
    const re2 = JSON.parse(readFileSync(join(require.resolve('re2'), '..', 'package.json'), 'utf8')) as { version: string };
    const name = createHash('sha256').update('rules-yaml-v1').update('\0').update(`re2 ${re2.version}`).update('\0').update(file('lemon')).digest('hex');
    expect(entries()).toEqual([`${name}.json`]);
  });
});
