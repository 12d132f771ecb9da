/**
 * The rule files' parse cache: a YAML file is parsed once per content, and what comes from the
 * cache is validated and compiled like a fresh parse, with problems still on their lines.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatProblem, loadRules } from '../../src/engine/load';

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
});
