/**
 * Gitleaks rule files (`*.toml`): translated into Sentinel rules that report what gitleaks would
 * report on the same text, with `[extend]`, global allowlists and hot reload, and a clear
 * file:line:field problem for what chat has no meaning for.
 *
 * The expectations are gitleaks' behaviour as its source has it (detect/detect.go detectRule,
 * config/config.go Translate and extend, config/allowlist.go): the secret is the secretGroup'th
 * group, or without one the first non-empty group, or the whole match; a secret is kept only when
 * its entropy is above `entropy`; `keywords` gate a rule case-insensitively; allowlist regexes try
 * the secret, the match or the match's line; stopwords are substrings of the secret in any case.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/engine/engine';
import { formatProblem, loadRules, packDir, type LoadedRules } from '../../src/engine/load';
import type { ChatEvent, Finding } from '../../src/engine/types';
import { RuleWatcher, type ReloadReport } from '../../src/engine/watch';
import { projectRoot } from '../../src/paths';

const event = (text: string): ChatEvent => ({ source: 'slack', team: 'T1', channel: 'C1', user: 'U1', ts: '1.1', eventType: 'message', text });

/** A fresh folder holding `files`. */
function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-gitleaks-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** The findings of `rules` in `text`, with the value each one covers. */
function findings(rules: LoadedRules, text: string): (Finding & { value: string })[] {
  return evaluate(event(text), rules).map((f) => ({ ...f, value: text.slice(f.start, f.end) }));
}

/** [rule, value] of every finding. */
const found = (rules: LoadedRules, text: string) => findings(rules, text).map((f) => [f.ruleId, f.value]);

/** The 1-based line of the first line of `text` holding `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`no ${needle} in the fixture`);
  return i + 1;
}

const problems = (rules: LoadedRules) => rules.problems.map(formatProblem);

describe('gitleaks rule files: rules', () => {
  const toml = `title = "team rules"

[[rules]]
id = "acme-api-key"
description = "ACME API key"
regex = '''acme_[a-z0-9]{16}'''
keywords = ["ACME_"]
tags = ["acme", "vendor"]

[[rules]]
id = "corp-db-password"
regex = '''(db|database)_pass(word)?\\s*=\\s*"([^"\\s]{8,})"'''
secretGroup = 3

[[rules]]
id = "either-credential"
regex = '''(?:svc_user=(\\w{10,})|svc_pass=(\\w{10,}))'''

[[rules]]
id = "optional-prefix"
regex = '''TKN-([0-9]{4})?[A-Z]{6}\\b'''

[[rules]]
id = "signature"
regex = '''sig:([a-z0-9]{8,12})\\b'''
entropy = 3

[[rules]]
id = "vault-ref"
regex = '''tok_[a-z0-9]{12}'''
keywords = ["Vault"]
`;
  const rules = loadRules(folder({ 'team.toml': toml }));

  it('loads every rule as a Sentinel rule with the defaults: secret, high, delete + notify', () => {
    expect(problems(rules)).toEqual([]);
    expect(rules.active.map((r) => r.spec.id)).toEqual(['acme-api-key', 'corp-db-password', 'either-credential', 'optional-prefix', 'signature', 'vault-ref']);
    const acme = rules.rules[0]!;
    expect(acme.spec).toMatchObject({
      id: 'acme-api-key',
      description: 'ACME API key',
      category: 'secret',
      severity: 'high',
      actions: ['delete', 'notify'],
      match: { regex: 'acme_[a-z0-9]{16}', anchors: ['acme_'] },
      tags: ['acme', 'vendor'],
    });
    // Without a description, the id says what the rule is.
    expect(rules.rules[1]!.spec.description).toBe('corp-db-password');
    const [f] = findings(rules, 'key acme_k3j9x8m2q7w4z5n6 ok');
    expect(f).toMatchObject({ ruleId: 'acme-api-key', category: 'secret', severity: 'high', actions: ['delete', 'notify'], value: 'acme_k3j9x8m2q7w4z5n6' });
  });

  it('takes the secret as gitleaks does: secretGroup, else the first non-empty group, else the whole match', () => {
    // No capture group: the whole match.
    expect(found(rules, 'key acme_k3j9x8m2q7w4z5n6 ok')).toEqual([['acme-api-key', 'acme_k3j9x8m2q7w4z5n6']]);
    // secretGroup = 3, past an optional group 2.
    expect(found(rules, 'database_password = "Zr8#pLq2vW"')).toEqual([['corp-db-password', 'Zr8#pLq2vW']]);
    expect(found(rules, 'db_pass="Zr8#pLq2vW"')).toEqual([['corp-db-password', 'Zr8#pLq2vW']]);
    // No secretGroup, two groups: whichever alternative matched (Sentinel's own default, group 1, would miss svc_pass).
    expect(found(rules, 'svc_user=Bk4Nz8Wq3Jd6 then svc_pass=Hq7Lm2Xp9Rt4')).toEqual([
      ['either-credential', 'Bk4Nz8Wq3Jd6'],
      ['either-credential', 'Hq7Lm2Xp9Rt4'],
    ]);
    // An optional group that did not take part: the whole match.
    expect(found(rules, 'use TKN-PLMOKN here')).toEqual([['optional-prefix', 'TKN-PLMOKN']]);
    expect(found(rules, 'use TKN-2931PLMOKN here')).toEqual([['optional-prefix', '2931']]);
  });

  it('keeps a secret only when its entropy is above the threshold, as gitleaks (entropy <= threshold is dropped)', () => {
    // 8 different characters: exactly 3 bits per character, not above 3.
    expect(found(rules, 'sig:q7w2e9r4')).toEqual([]);
    // 10 different characters: 3.32 bits.
    expect(found(rules, 'sig:q7w2e9r4k1')).toEqual([['signature', 'q7w2e9r4k1']]);
    // Low entropy, longer.
    expect(found(rules, 'sig:abababab')).toEqual([]);
  });

  it('uses keywords as a case-insensitive prefilter, and runs rules without keywords on every text', () => {
    expect(rules.rules.find((r) => r.spec.id === 'vault-ref')!.spec.match.anchors).toEqual(['vault']);
    expect(found(rules, 'tok_k3j9x8m2q7w4')).toEqual([]);
    expect(found(rules, 'from the VAULT: tok_k3j9x8m2q7w4')).toEqual([['vault-ref', 'tok_k3j9x8m2q7w4']]);
    // either-credential has no keywords: no gate.
    expect(found(rules, 'svc_pass=Hq7Lm2Xp9Rt4')).toEqual([['either-credential', 'Hq7Lm2Xp9Rt4']]);
  });

  it('reads keys case-insensitively, as gitleaks (viper) does', () => {
    const loaded = loadRules(folder({ 'k.toml': `[[rules]]\nID = "mixed-case"\nRegex = '''mc_([a-z]{4})([0-9]{8})'''\nSecretGroup = 2\n` }));
    expect(problems(loaded)).toEqual([]);
    expect(found(loaded, 'mc_abcd83920174')).toEqual([['mixed-case', '83920174']]);
  });
});

describe('gitleaks rule files: rule allowlists', () => {
  const toml = `[[rules]]
id = "internal-token"
regex = '''(itk|ITK)_([A-Za-z0-9]{12})'''
secretGroup = 2

  [[rules.allowlists]]
  description = "the published test token"
  regexes = ['''^Aa1Bb2Cc3Dd4$''']

  [[rules.allowlists]]
  regexTarget = "match"
  regexes = ['''^ITK_''']

  [[rules.allowlists]]
  regexTarget = "line"
  regexes = ['''(?i)\\brotated\\b''']

  [[rules.allowlists]]
  stopwords = ["Mock"]

  [[rules.allowlists]]
  condition = "AND"
  regexes = ['''^Zz''']
  stopwords = ["9q"]

[[rules]]
id = "legacy-token"
regex = '''lgc_[a-z0-9]{10}'''

  [rules.allowlist]
  regexes = ['''lgc_0000''']
`;
  const rules = loadRules(folder({ 'allow.toml': toml }));

  it('translates each allowlist', () => {
    expect(problems(rules)).toEqual([]);
    expect(rules.rules[0]!.spec.allowlists).toEqual([
      { description: 'the published test token', condition: 'or', regex_target: 'secret', regexes: ['^Aa1Bb2Cc3Dd4$'] },
      { condition: 'or', regex_target: 'match', regexes: ['^ITK_'] },
      { condition: 'or', regex_target: 'line', regexes: ['(?i)\\brotated\\b'] },
      { condition: 'or', regex_target: 'secret', stopwords: ['Mock'] },
      { condition: 'and', regex_target: 'secret', regexes: ['^Zz'], stopwords: ['9q'] },
    ]);
  });

  it('tries regexes on the secret by default, on the match with regexTarget = "match", on the line with "line"', () => {
    expect(found(rules, 'itk_Qm7Rk2Lp9Xw4')).toEqual([['internal-token', 'Qm7Rk2Lp9Xw4']]);
    // secret target: the pattern is anchored on the secret, not on the match.
    expect(found(rules, 'itk_Aa1Bb2Cc3Dd4')).toEqual([]);
    // match target: the upper-case prefix is in the match, not in the secret.
    expect(found(rules, 'ITK_Qm7Rk2Lp9Xw4')).toEqual([]);
    // line target: the match's own line only.
    expect(found(rules, 'itk_Qm7Rk2Lp9Xw4 (Rotated yesterday)')).toEqual([]);
    expect(found(rules, 'itk_Qm7Rk2Lp9Xw4\nrotated yesterday')).toEqual([['internal-token', 'Qm7Rk2Lp9Xw4']]);
  });

  it('matches stopwords in the secret in any case, and holds an AND allowlist only when every criterion does', () => {
    expect(found(rules, 'itk_Hn3mOcKz8Wq1')).toEqual([]);
    expect(found(rules, 'itk_Zz4Pk8Wm2Rt6')).toEqual([['internal-token', 'Zz4Pk8Wm2Rt6']]);
    expect(found(rules, 'itk_Ab9qPk8Wm2Rt')).toEqual([['internal-token', 'Ab9qPk8Wm2Rt']]);
    expect(found(rules, 'itk_Zz4Pk9qm2Rt6')).toEqual([]);
  });

  it('reads the older single [rules.allowlist] table', () => {
    expect(found(rules, 'lgc_k3j9x8m2q7')).toEqual([['legacy-token', 'lgc_k3j9x8m2q7']]);
    expect(found(rules, 'lgc_0000k3j9x8')).toEqual([]);
  });
});

describe('gitleaks rule files: global allowlists and the [sentinel] table', () => {
  const toml = `[sentinel]
severity = "critical"
actions = ["delete", "notify", "escalate"]
message = "<@{user}>, that looked like a credential ({rule})."

[[rules]]
id = "alpha-key"
regex = '''alpha_[a-z0-9]{12}'''

[[rules]]
id = "beta-key"
regex = '''beta_[a-z0-9]{12}'''

  [rules.sentinel]
  severity = "low"
  actions = ["notify"]

[[allowlists]]
description = "staging keys"
regexes = ['''stg0''']

[[allowlists]]
targetRules = ["beta-key", "team-order"]
regexTarget = "line"
regexes = ['''(?i)\\bsandbox\\b''']
`;
  const yaml = `rules:
  - id: team-order
    description: an order number
    category: policy
    severity: low
    match: { regex: 'ord-[a-z0-9]{6}' }
    actions: [notify]
`;
  const rules = loadRules(folder({ 'gl.toml': toml, 'team.yaml': yaml }));

  it('sets severity, actions and message for the file, and per rule', () => {
    expect(problems(rules)).toEqual([]);
    const [alpha] = findings(rules, 'alpha_k3j9x8m2q7w4');
    expect(alpha).toMatchObject({ ruleId: 'alpha-key', severity: 'critical', actions: ['delete', 'notify', 'escalate'], message: '<@U1>, that looked like a credential (alpha-key).' });
    const [beta] = findings(rules, 'beta_k3j9x8m2q7w4');
    expect(beta).toMatchObject({ ruleId: 'beta-key', severity: 'low', actions: ['notify'], message: '<@U1>, that looked like a credential (beta-key).' });
  });

  it('applies an allowlist without targetRules to every rule of the file, and not to other files', () => {
    expect(found(rules, 'alpha_stg0x8m2q7w4')).toEqual([]);
    expect(found(rules, 'beta_stg0x8m2q7w4')).toEqual([]);
    expect(found(rules, 'ord-stg012')).toEqual([['team-order', 'ord-stg012']]);
  });

  it('applies an allowlist with targetRules to those rules only, in this file or another', () => {
    expect(found(rules, 'sandbox: beta_k3j9x8m2q7w4')).toEqual([]);
    expect(found(rules, 'sandbox: alpha_k3j9x8m2q7w4')).toEqual([['alpha-key', 'alpha_k3j9x8m2q7w4']]);
    expect(found(rules, 'sandbox order ord-a1b2c3')).toEqual([]);
    expect(found(rules, 'order ord-a1b2c3')).toEqual([['team-order', 'ord-a1b2c3']]);
  });

  it('reads the older single [allowlist] table', () => {
    const loaded = loadRules(folder({ 'old.toml': `[allowlist]\nstopwords = ["qqq"]\n\n[[rules]]\nid = "gamma-key"\nregex = '''gamma_[a-z0-9]{12}'''\n` }));
    expect(problems(loaded)).toEqual([]);
    expect(found(loaded, 'gamma_k3j9x8m2q7w4')).toEqual([['gamma-key', 'gamma_k3j9x8m2q7w4']]);
    expect(found(loaded, 'gamma_k3qqq8m2q7w4')).toEqual([]);
  });
});

describe('gitleaks rule files: [extend]', () => {
  const pack = `rules:
  - id: pack-token
    description: a pack token
    category: secret
    severity: critical
    match: { regex: '\\b(pk_[a-z0-9]{12})\\b', anchors: [pk_] }
    actions: [delete, notify]
  - id: pack-word
    description: a pack word
    category: policy
    severity: low
    match: { keywords: [codename] }
    actions: [notify]
`;
  const extend = `[extend]
useDefault = true
disabledRules = ["pack-word", "own-key"]

[[rules]]
id = "own-key"
regex = '''own_[a-z0-9]{12}'''

[[rules]]
id = "kept-key"
regex = '''kept_[a-z0-9]{12}'''

# Extends the pack's rule: no regex, the rest is inherited.
[[rules]]
id = "pack-token"
tags = ["from-gitleaks"]

  [[rules.allowlists]]
  regexTarget = "line"
  regexes = ['''(?i)ci-bot''']

[[allowlists]]
stopwords = ["zzz"]
`;

  it('brings in the pack, extends a pack rule by id, applies global allowlists to it, and disables rules wherever they come from', () => {
    const packFolder = folder({ 'pack.yaml': pack });
    const dir = folder({ 'extend.toml': extend });
    const rules = loadRules(dir, { packDir: packFolder });
    expect(problems(rules)).toEqual([]);
    expect(rules.files).toEqual([join(packFolder, 'pack.yaml'), join(dir, 'extend.toml')]);
    expect(rules.rules.map((r) => [r.spec.id, r.spec.enabled])).toEqual([
      ['pack-token', true],
      ['pack-word', false],
      ['own-key', false],
      ['kept-key', true],
    ]);
    expect(rules.active.map((r) => r.spec.id)).toEqual(['pack-token', 'kept-key']);
    // The pack rule keeps its own fields (Sentinel's group 1, severity) and gains the tags and allowlists.
    const token = rules.rules[0]!;
    expect(token.spec).toMatchObject({ severity: 'critical', tags: ['from-gitleaks'] });
    expect(found(rules, 'see pk_k3j9x8m2q7w4')).toEqual([['pack-token', 'pk_k3j9x8m2q7w4']]);
    expect(found(rules, 'ci-bot says pk_k3j9x8m2q7w4')).toEqual([]);
    expect(found(rules, 'see pk_k3jzzzm2q7w4')).toEqual([]);
    expect(found(rules, 'the codename is out')).toEqual([]);
    expect(found(rules, 'own_k3j9x8m2q7w4')).toEqual([]);
    expect(found(rules, 'kept_k3j9x8m2q7w4 kept_k3jzzzm2q7w4')).toEqual([['kept-key', 'kept_k3j9x8m2q7w4']]);
  });

  it('without useDefault, loads only the folder', () => {
    const packFolder = folder({ 'pack.yaml': pack });
    const rules = loadRules(folder({ 'only.toml': `[[rules]]\nid = "kept-key"\nregex = '''kept_[a-z0-9]{12}'''\n` }), { packDir: packFolder });
    expect(problems(rules)).toEqual([]);
    expect(rules.rules.map((r) => r.spec.id)).toEqual(['kept-key']);
    expect(found(rules, 'see pk_k3j9x8m2q7w4')).toEqual([]);
  });

  it('loads nothing twice when the folder is the pack', () => {
    const dir = folder({ 'pack.yaml': pack, 'extend.toml': extend });
    const rules = loadRules(dir, { packDir: dir });
    expect(problems(rules)).toEqual([]);
    expect(rules.files).toEqual([join(dir, 'extend.toml'), join(dir, 'pack.yaml')]);
    expect(rules.rules.map((r) => r.spec.id).sort()).toEqual(['kept-key', 'own-key', 'pack-token', 'pack-word']);
    expect(found(rules, 'ci-bot says pk_k3j9x8m2q7w4')).toEqual([]);
    expect(found(rules, 'see pk_k3j9x8m2q7w4')).toEqual([['pack-token', 'pk_k3j9x8m2q7w4']]);
  });

  it("uses Sentinel's own pack by default, from any folder", () => {
    const toml = `[extend]
useDefault = true
disabledRules = ["slack-webhook-url"]

[[rules]]
id = "github-pat"

  [[rules.allowlists]]
  regexTarget = "line"
  regexes = ['''(?i)ci-bot''']

[[allowlists]]
targetRules = ["us-ssn"]
regexTarget = "line"
regexes = ['''(?i)synthetic''']
`;
    const dir = folder({ 'gitleaks.toml': toml });
    const rules = loadRules(dir);
    // Other people's rule files may be mid-edit; this file's own problems must be none.
    expect(rules.problems.filter((p) => p.file.endsWith('gitleaks.toml')).map(formatProblem)).toEqual([]);
    expect(rules.files).toContain(join(packDir, 'secrets-code.yaml'));
    expect(packDir).toBe(join(projectRoot, 'rules'));
    const ids = (text: string) => findings(rules, text).map((f) => f.ruleId);
    expect(ids('use this one for now ghp_XlTdbUD2fN7NgL7QBsE5LowAzYosJrBy0uYO and rotate later')).toContain('github-pat');
    expect(ids('ci-bot: ghp_XlTdbUD2fN7NgL7QBsE5LowAzYosJrBy0uYO')).not.toContain('github-pat');
    expect(ids('SSN 287-65-4321 on file')).toContain('us-ssn');
    expect(ids('synthetic SSN 287-65-4321 on file')).not.toContain('us-ssn');
    expect(rules.rules.find((r) => r.spec.id === 'slack-webhook-url')?.spec.enabled).toBe(false);
    expect(rules.active.some((r) => r.spec.id === 'slack-webhook-url')).toBe(false);
  });

  it('names an unknown id in disabledRules or targetRules, and a regex-less rule with nothing to extend', () => {
    const toml = `[extend]
disabledRules = ["no-such-rule"]

[[rules]]
id = "refs-own"
regex = '''ref_[0-9]{6}'''

[[rules]]
id = "nothing-to-extend"

  [[rules.allowlists]]
  stopwords = ["x"]

[[allowlists]]
targetRules = ["refs-own", "missing-target"]
stopwords = ["99"]
`;
    const dir = folder({ 'refs.toml': toml });
    const file = join(dir, 'refs.toml');
    const rules = loadRules(dir);
    expect(problems(rules)).toEqual([
      // A missing key: the line of its table.
      `${file}:${lineOf(toml, 'id = "nothing-to-extend"') - 1}: rules.1.regex: regex is required: without one, a rule extends the loaded rule of its id, and no rule "nothing-to-extend" is loaded (from this folder)`,
      `${file}:${lineOf(toml, 'targetRules')}: allowlists.0.targetRules.1: no rule "missing-target" is loaded (from this folder)`,
      `${file}:${lineOf(toml, 'disabledRules')}: extend.disabledRules.0: no rule "no-such-rule" is loaded (from this folder)`,
    ]);
    // What the file could do, it does.
    expect(found(rules, 'ref_839201')).toEqual([['refs-own', 'ref_839201']]);
    expect(found(rules, 'ref_839920')).toEqual([]);
  });

  it('refuses a rule with a regex whose id is already loaded (gitleaks would merge it; Sentinel will not swap a regex)', () => {
    const packFolder = folder({ 'pack.yaml': pack });
    const toml = `[extend]\nuseDefault = true\n\n[[rules]]\nid = "pack-token"\nregex = '''pk_[0-9]{12}'''\n`;
    const dir = folder({ 'dup.toml': toml });
    const [p, ...more] = loadRules(dir, { packDir: packFolder }).problems.map(formatProblem);
    expect(more).toEqual([]);
    expect(p).toContain(`${join(dir, 'dup.toml')}:5: rules.0.id: rule id "pack-token" is already defined in ${join(packFolder, 'pack.yaml')}; a gitleaks rule with a regex is a new rule`);
  });
});

describe('gitleaks rule files: what Sentinel refuses', () => {
  it('names file, line and field of every unsupported or wrong field, and still loads the good rules', () => {
    const toml = `[[rules]]
id = "with-path"
regex = '''abc_[0-9]{6}'''
path = '''\\.env$'''

[[rules]]
id = "composite"
regex = '''def_[0-9]{6}'''

  [[rules.required]]
  id = "with-path"
  withinLines = 2

[[rules]]
id = "skipped"
regex = '''ghi_[0-9]{6}'''
skipReport = true

[[rules]]
id = "allow-paths"
regex = '''jkl_[0-9]{6}'''

  [[rules.allowlists]]
  paths = ['''test/''']
  commits = ["abc123"]
  regexes = ['''000''']

[[rules]]
id = "Bad_Upper"
regex = '''mno_[0-9]{6}'''

[[rules]]
id = "lookahead"
regex = '''pqr_(?=[0-9]{6})'''

[[rules]]
id = "group-out-of-range"
regex = '''stu_([0-9]{6})'''
secretGroup = 2

[[rules]]
id = "typo"
regex = '''vwx_[0-9]{6}'''
keyword = ["vwx"]

[[rules]]
id = "bad-allowlist"
regex = '''yza_[0-9]{6}'''

  [[rules.allowlists]]
  condition = "XOR"
  regexTarget = "secrets"
  stopwords = ["x"]

[[rules]]
id = "bad-sentinel"
regex = '''bcd_[0-9]{6}'''
entropy = 9

  [rules.sentinel]
  severity = "apocalyptic"
  enabled = false

[[rules]]
id = "still-good"
regex = '''good_[0-9]{6}'''
skipReport = false
`;
    const dir = folder({ 'unsupported.toml': toml });
    const file = join(dir, 'unsupported.toml');
    const rules = loadRules(dir);
    const at = (needle: string, field: string) => `${file}:${lineOf(toml, needle)}: ${field}: `;
    const got = problems(rules);
    const expected = [
      [at("path = '''", 'rules.0.path'), 'path rules match file paths'],
      [at('[[rules.required]]', 'rules.1.required'), 'composite rules ([[rules.required]]) are not supported'],
      [at('skipReport = true', 'rules.2.skipReport'), 'skipReport only serves composite rules'],
      [at('paths = ', 'rules.3.allowlists.0.paths'), 'allowlist paths match file paths'],
      [at('commits = ', 'rules.3.allowlists.0.commits'), 'allowlist commits match git commits'],
      [at('id = "Bad_Upper"', 'rules.4.id'), 'lowercase letters, digits'],
      [at("regex = '''pqr_", 'rules.5.regex'), 'RE2 cannot compile'],
      [at('secretGroup = 2', 'rules.6.secretGroup'), 'the regex has 1 capture groups; secret_group 2 does not exist'],
      [at('keyword = ', 'rules.7.keyword'), 'unknown key'],
      [at('condition = "XOR"', 'rules.8.allowlists.0.condition'), '"XOR" is not a condition'],
      [at('regexTarget = "secrets"', 'rules.8.allowlists.0.regexTarget'), '"secrets" is not a regexTarget'],
      [at('entropy = 9', 'rules.9.entropy'), 'below 8 bits'],
      [at('severity = "apocalyptic"', 'rules.9.sentinel.severity'), ''],
      [at('enabled = false', 'rules.9.sentinel.enabled'), 'unknown key'],
    ];
    for (const [prefix, text] of expected) expect(got.find((p) => p.startsWith(prefix!) && p.includes(text!)), `${prefix}${text}`).toBeDefined();
    expect(got).toHaveLength(expected.length);
    expect(rules.rules.map((r) => r.spec.id)).toEqual(['still-good']);
    expect(found(rules, 'good_839201')).toEqual([['still-good', 'good_839201']]);
  });

  it('trusts nothing of a file whose frame is wrong: top-level keys, [extend] path, global allowlist paths', () => {
    const toml = `titel = "typo"

[extend]
path = "base.toml"

[[allowlists]]
paths = ['''vendor/''']

[[rules]]
id = "fine"
regex = '''fine_[0-9]{6}'''
`;
    const dir = folder({ 'frame.toml': toml });
    const file = join(dir, 'frame.toml');
    const rules = loadRules(dir);
    expect(problems(rules)).toEqual([
      `${file}:1: titel: unknown key; Sentinel reads title, description, minVersion, extend, rules, allowlist, allowlists, sentinel here`,
      `${file}:4: extend.path: [extend] path is not supported: put that file in the rules folder instead (every *.toml and *.yaml there is loaded)`,
      `${file}:7: allowlists.0.paths: allowlist paths match file paths, and chat messages have none: remove paths (the allowlist's regexes and stopwords still apply)`,
    ]);
    expect(rules.rules).toEqual([]);
  });

  it('reports TOML syntax errors by line, and both forms of one allowlist', () => {
    const broken = `[[rules]]\nid = "x"\nregex = "a\\qb"\n`;
    const both = `[allowlist]\nstopwords = ["a"]\n\n[[allowlists]]\nstopwords = ["b"]\n\n[[rules]]\nid = "r"\nregex = '''r_[0-9]{6}'''\n\n  [rules.allowlist]\n  stopwords = ["c"]\n\n  [[rules.allowlists]]\n  stopwords = ["d"]\n`;
    const dir = folder({ 'broken.toml': broken, 'both.toml': both });
    const got = problems(loadRules(dir));
    expect(got).toHaveLength(2);
    expect(got[0]).toMatch(new RegExp(`^${join(dir, 'both.toml')}:1: allowlist: \\[allowlist\\] cannot be used alongside \\[\\[allowlists\\]\\]`));
    expect(got[1]).toMatch(new RegExp(`^${join(dir, 'broken.toml')}:3: TOML: `));
    const ruleLevel = problems(loadRules(folder({ 'r.toml': both.replace(/^\[allowlist\]\nstopwords = \["a"\]\n\n/, '') })));
    expect(ruleLevel).toEqual([expect.stringMatching(/:8: rules\.0\.allowlist: \[rules\.allowlist\] cannot be used alongside \[\[rules\.allowlists\]\]/)]);
  });
});

describe('gitleaks rule files: hot reload', () => {
  const version = (prefix: string) => `[[rules]]\nid = "watched"\nregex = '''${prefix}_[0-9]{6}'''\n`;

  it('applies an edited TOML file, keeps the last good version (with its effects) on a broken one, and says why', () => {
    const dir = folder({
      'watched.toml': version('one'),
      'team.yaml': 'rules:\n  - id: team-word\n    description: a word\n    category: policy\n    severity: low\n    match: { keywords: [codename] }\n    actions: [notify]\n',
    });
    const file = join(dir, 'watched.toml');
    const reports: ReloadReport[] = [];
    const watcher = new RuleWatcher(dir, (r) => reports.push(r));
    const ids = (text: string) => evaluate(event(text), watcher.current()).map((f) => f.ruleId);
    expect(ids('one_839201')).toEqual(['watched']);

    writeFileSync(file, version('two'));
    expect(watcher.reload()).toMatchObject({ changed: true, kept: [], problems: [] });
    expect(ids('one_839201')).toEqual([]);
    expect(ids('two_839201')).toEqual(['watched']);

    // Effects on other files come and go with the file.
    writeFileSync(file, `[extend]\ndisabledRules = ["team-word"]\n\n${version('three')}`);
    watcher.reload();
    expect(ids('the codename three_839201')).toEqual(['watched']);

    writeFileSync(file, `[extend]\ndisabledRules = ["team-word"]\n\n${version('four')}path = '''x'''\n`);
    const refused = watcher.reload();
    expect(refused.kept).toEqual([file]);
    expect(refused.problems.map(formatProblem)).toEqual([expect.stringContaining(`${file}:7: rules.0.path: path rules match file paths`)]);
    expect(ids('the codename three_839201 four_839201')).toEqual(['watched']);

    writeFileSync(file, `${version('four')}secretGroup =\n`);
    expect(watcher.reload().problems.map(formatProblem)).toEqual([`${file}:4: TOML: Unspecified values are invalid`]);
    expect(ids('three_839201')).toEqual(['watched']);

    writeFileSync(file, version('five'));
    watcher.reload();
    expect(ids('the codename five_839201 three_839201')).toEqual(['team-word', 'watched']);
    expect(reports.length).toBeGreaterThanOrEqual(6);
  });

  it('picks up a TOML file written while the folder is watched', async () => {
    const dir = folder({ 'watched.toml': version('one') });
    const watcher = new RuleWatcher(dir).start();
    try {
      const ids = (text: string) => evaluate(event(text), watcher.current()).map((f) => f.ruleId);
      expect(ids('one_839201')).toEqual(['watched']);
      writeFileSync(join(dir, 'new.toml'), `[[rules]]\nid = "added"\nregex = '''added_[0-9]{6}'''\n`);
      writeFileSync(join(dir, 'watched.toml'), version('two'));
      const deadline = Date.now() + 10_000;
      while (ids('added_839201 two_839201').length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(ids('added_839201 two_839201')).toEqual(['added', 'watched']);
    } finally {
      watcher.close();
    }
  });
});

describe('gitleaks rule files: the CLI', () => {
  const bin = join(projectRoot, 'bin', 'sentinel.js');
  async function sentinel(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { cwd: tmpdir() });
      return { code: 0, stdout, stderr };
    } catch (e) {
      const err = e as { code: number; stdout: string; stderr: string };
      return { code: err.code, stdout: err.stdout, stderr: err.stderr };
    }
  }
  const toml = `[sentinel]\nseverity = "critical"\n\n[[rules]]\nid = "acme-api-key"\nregex = '''acme_[a-z0-9]{16}'''\nkeywords = ["acme_"]\n\n[[rules]]\nid = "either-credential"\nregex = '''(?:svc_user=(\\w{10,})|svc_pass=(\\w{10,}))'''\n`;

  it('`rules test --rules DIR` loads a TOML-only folder', async () => {
    const dir = folder({ 'team.toml': toml });
    const { code, stdout } = await sentinel(['rules', 'test', '--rules', dir]);
    expect(stdout).toBe('1 files, 2 rules, 0 examples: 0 passed, 0 failed\n');
    expect(code).toBe(0);
  });

  it('`scan --rules DIR` matches with a TOML-only folder, and refuses a broken one by file:line:field', async () => {
    const dir = folder({ 'team.toml': toml });
    const events = join(dir, 'events.jsonl');
    writeFileSync(
      events,
      [
        JSON.stringify({ type: 'message', user: 'U1', channel: 'C1', ts: '1700000000.000100', text: 'key acme_k3j9x8m2q7w4z5n6 ok' }),
        JSON.stringify({ type: 'message', user: 'U2', channel: 'C2', ts: '1700000001.000100', text: 'svc_pass=Hq7Lm2Xp9Rt4' }),
      ].join('\n') + '\n',
    );
    const { code, stdout } = await sentinel(['scan', '--rules', dir, events]);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toMatchObject([
      { user: 'U1', rule: 'acme-api-key', severity: 'critical', actions: ['delete', 'notify'], start: 4, end: 25 },
      { user: 'U2', rule: 'either-credential', severity: 'critical', start: 9, end: 21 },
    ]);

    const bad = join(tmpdir(), `sentinel-gitleaks-bad-${process.pid}`);
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'bad.toml'), `[[rules]]\nid = "p"\nregex = '''p_[0-9]{6}'''\npath = '''\\.env$'''\n`);
    const refused = await sentinel(['scan', '--rules', bad, events]);
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain(`${join(bad, 'bad.toml')}:4: rules.0.path: path rules match file paths`);
  });
});
