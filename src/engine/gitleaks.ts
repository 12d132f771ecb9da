/**
 * Gitleaks rule files: `*.toml` in the rules folder, written in gitleaks' configuration format,
 * become ordinary Sentinel rules that match as gitleaks would. README "Gitleaks rule files" says
 * what maps to what; anything without a meaning in chat (file paths, commits, composite rules) is
 * a problem naming the file, line and field, never silently dropped.
 *
 * A file is translated on its own (its rules, with its rule and global allowlists); what reaches
 * other files (`[extend] useDefault` and `disabledRules`, `targetRules`, rules extending a rule of
 * the same id) is returned as effects that `assemble` applies to the whole set.
 */
import RE2 from 're2';
import { getStaticTOMLValue, parseTOML, ParseError, type AST } from 'toml-eslint-parser';
import { compileRule, RuleCompileError, type CompiledRule, type Rejection, type Span, type Subject } from './compile';
import type { RuleProblem } from './load';
import { allowlistSchema, ruleSchema, type RuleSpec } from './schema';

type Path = (string | number)[];
type Table = Record<string, unknown>;
type Allowlist = NonNullable<RuleSpec['allowlists']>[number];

/** The `[sentinel]` keys: what gitleaks has no word for. */
const SENTINEL_KEYS = ['severity', 'category', 'actions', 'message', 'approval'] as const;
type SentinelKey = (typeof SENTINEL_KEYS)[number];
type SentinelFields = Partial<Pick<RuleSpec, SentinelKey>>;

/** Sentinel's defaults for a gitleaks rule: a leaked secret is removed and its author told. */
const DEFAULTS = { category: 'secret', severity: 'high', actions: ['delete', 'notify'] } as const;

/** Where a field of the TOML file is, for a problem. */
export interface Located {
  line: number | undefined;
  field: string;
}

/** A rule id a file names (disabledRules, targetRules, a rule it extends). */
export interface RuleRef extends Located {
  id: string;
}

/** A `[[rules]]` entry without a regex: in gitleaks, it extends the loaded rule of that id. */
export interface Extension {
  ref: RuleRef;
  /** Where its regex would be: the problem when there is no rule to extend. */
  regexAt: Located;
  description?: string;
  entropy?: number;
  secretGroup?: number;
  /** Appended to the rule's anchors, as gitleaks appends keywords. */
  anchors: string[];
  tags: string[];
  allowlists: Allowlist[];
  /** Where each of `allowlists` comes from. */
  allowlistPaths: Path[];
  sentinel: SentinelFields;
  /** A Sentinel field of the merged rule (match.entropy, allowlists.3.regexes.0) → where it is in the file. */
  locate(sentinelField: Path, baseAllowlists: number): Located;
}

/** What one TOML file asks of the rule set beyond its own rules. */
export interface GitleaksEffects {
  /** `[extend] useDefault = true`: Sentinel's own pack is loaded, and the file's global allowlists apply to it. */
  useDefault: boolean;
  /** `[extend] disabledRules`: turned off wherever they come from. */
  disabled: RuleRef[];
  /** Global allowlists with `targetRules`: appended to those rules. */
  targeted: { targets: RuleRef[]; allowlist: Allowlist; at: Located }[];
  /** Global allowlists without `targetRules`: already in the file's own rules; also for the rules it extends and, with useDefault, the pack. */
  global: { allowlist: Allowlist; at: Located }[];
  extensions: Extension[];
}

/** The line of every table, key and array element of a TOML document, by path (keys lowercased). */
class Positions {
  private readonly lines = new Map<string, number>();

  constructor(ast: AST.TOMLProgram) {
    for (const node of ast.body[0].body) {
      if (node.type === 'TOMLTable') {
        for (let i = 1; i <= node.resolvedKey.length; i++) this.set(node.resolvedKey.slice(0, i), node.loc.start.line);
        for (const kv of node.body) this.keyValue(node.resolvedKey, kv);
      } else {
        this.keyValue([], node);
      }
    }
  }

  private static key(path: Path): string {
    return path.map((p) => (typeof p === 'string' ? p.toLowerCase() : `#${p}`)).join('\u0000');
  }

  private set(path: Path, line: number): void {
    const k = Positions.key(path);
    if (!this.lines.has(k)) this.lines.set(k, line);
  }

  private keyValue(base: Path, kv: AST.TOMLKeyValue): void {
    const keys = getStaticTOMLValue(kv.key);
    for (let i = 1; i <= keys.length; i++) this.set([...base, ...keys.slice(0, i)], kv.loc.start.line);
    this.value([...base, ...keys], kv.value);
  }

  private value(path: Path, node: AST.TOMLContentNode): void {
    if (node.type === 'TOMLArray') {
      node.elements.forEach((el, i) => {
        this.set([...path, i], el.loc.start.line);
        this.value([...path, i], el);
      });
    } else if (node.type === 'TOMLInlineTable') {
      for (const kv of node.body) this.keyValue(path, kv);
    }
  }

  /** The line of the deepest node known along `path` (a missing key: its table's line). */
  lineOf(path: Path): number | undefined {
    for (let n = path.length; n > 0; n--) {
      const line = this.lines.get(Positions.key(path.slice(0, n)));
      if (line !== undefined) return line;
    }
    return undefined;
  }
}

/** Gitleaks' spelling of the keys it reads (TOML keys are read case-insensitively, as gitleaks does). */
const SPELLING: Record<string, string> = {
  secretgroup: 'secretGroup',
  regextarget: 'regexTarget',
  targetrules: 'targetRules',
  usedefault: 'useDefault',
  disabledrules: 'disabledRules',
  skipreport: 'skipReport',
  minversion: 'minVersion',
  withinlines: 'withinLines',
  withincolumns: 'withinColumns',
};

const fieldName = (path: Path): string => path.map((p) => (typeof p === 'string' ? (SPELLING[p] ?? p) : p)).join('.');

const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Refused keys and why: each has a meaning in a repository that chat does not have. */
const NO_PATHS = 'allowlist paths match file paths, and chat messages have none: remove paths (the allowlist\'s regexes and stopwords still apply)';
const NO_COMMITS = 'allowlist commits match git commits, and chat messages have none: remove commits';
const REFUSED_RULE: Record<string, string> = {
  path: 'path rules match file paths, and chat messages have none: Sentinel cannot run this rule (remove path, or the rule)',
  required: 'composite rules ([[rules.required]]) are not supported: write the primary rule alone, or a Sentinel YAML rule',
  skipreport: 'skipReport only serves composite rules ([[rules.required]]), which are not supported',
};
const REFUSED_EXTEND: Record<string, string> = {
  path: '[extend] path is not supported: put that file in the rules folder instead (every *.toml and *.yaml there is loaded)',
  url: '[extend] url is not supported: put that file in the rules folder instead',
};

class Translation {
  readonly problems: RuleProblem[] = [];

  constructor(
    readonly file: string,
    private readonly positions: Positions,
  ) {}

  at(path: Path): Located {
    return { line: this.positions.lineOf(path), field: fieldName(path) };
  }

  problem(path: Path, message: string): void {
    const at = this.at(path);
    if (!this.problems.some((p) => p.line === at.line && p.field === at.field && p.message === message)) {
      this.problems.push({ file: this.file, ...at, message });
    }
  }

  keys(t: Table, path: Path, known: readonly string[], refused: Record<string, string> = {}): void {
    for (const k of Object.keys(t)) {
      if (Object.hasOwn(refused, k)) this.problem([...path, k], refused[k]!);
      else if (!known.includes(k)) this.problem([...path, k], `unknown key; Sentinel reads ${known.map((n) => SPELLING[n] ?? n).join(', ')} here`);
    }
  }

  string(t: Table, key: string, path: Path): string | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    this.problem([...path, key], 'a string is expected');
    return undefined;
  }

  strings(t: Table, key: string, path: Path): string[] | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v as string[];
    this.problem([...path, key], 'an array of strings is expected');
    return undefined;
  }

  number(t: Table, key: string, path: Path, integer: boolean): number | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isInteger(v))) return v;
    this.problem([...path, key], integer ? 'an integer is expected' : 'a number is expected');
    return undefined;
  }

  boolean(t: Table, key: string, path: Path): boolean | undefined {
    const v = t[key];
    if (v === undefined) return undefined;
    if (typeof v === 'boolean') return v;
    this.problem([...path, key], 'true or false is expected');
    return undefined;
  }

  tables(v: unknown, path: Path): Table[] {
    if (Array.isArray(v) && v.every(isTable)) return v;
    this.problem(path, 'an array of tables is expected');
    return [];
  }
}

/** Object keys lowercased all the way down (gitleaks reads keys case-insensitively). */
function lowerKeys(v: unknown, path: Path, tr: Translation): unknown {
  if (Array.isArray(v)) return v.map((x, i) => lowerKeys(x, [...path, i], tr));
  if (!isTable(v)) return v;
  const out: Table = Object.create(null) as Table;
  for (const [k, x] of Object.entries(v)) {
    const lower = k.toLowerCase();
    if (Object.hasOwn(out, lower)) tr.problem([...path, k], `${k} is given twice (keys are read case-insensitively, as gitleaks does)`);
    else out[lower] = lowerKeys(x, [...path, lower], tr);
  }
  return out;
}

/** The smallest number above `x`: gitleaks keeps a secret whose entropy is above the threshold, Sentinel one at or above it. */
function justAbove(x: number): number {
  const f = new Float64Array([x]);
  const bits = new BigInt64Array(f.buffer);
  bits[0] = bits[0]! + 1n;
  return f[0]!;
}

/** A gitleaks `entropy` as Sentinel's `match.entropy` (undefined: no check, as gitleaks' 0). */
function entropyOf(tr: Translation, t: Table, path: Path): number | undefined {
  const e = tr.number(t, 'entropy', path, false);
  if (e === undefined || e === 0) return undefined;
  if (e < 0 || e >= 8) {
    tr.problem([...path, 'entropy'], 'an entropy threshold from 0 to below 8 bits per character is expected');
    return undefined;
  }
  return justAbove(e);
}

const CONDITIONS: Record<string, 'and' | 'or'> = { AND: 'and', '&&': 'and', OR: 'or', '||': 'or', '': 'or' };
const TARGETS: Record<string, 'secret' | 'match' | 'line'> = { '': 'secret', secret: 'secret', match: 'match', line: 'line' };
const ALLOWLIST_FIELDS: Record<string, string> = { regex_target: 'regextarget' };

/** One gitleaks allowlist table as a Sentinel allowlist (undefined when it has problems). */
function readAllowlist(tr: Translation, v: unknown, path: Path, global: boolean): { allowlist: Allowlist; targets: string[] } | undefined {
  if (!isTable(v)) {
    tr.problem(path, 'a table is expected');
    return undefined;
  }
  const before = tr.problems.length;
  tr.keys(v, path, ['description', 'condition', 'regextarget', 'regexes', 'stopwords', ...(global ? ['targetrules'] : [])], { paths: NO_PATHS, commits: NO_COMMITS });
  const description = tr.string(v, 'description', path);
  const conditionText = tr.string(v, 'condition', path);
  const condition = CONDITIONS[(conditionText ?? '').toUpperCase()];
  if (!condition) tr.problem([...path, 'condition'], `"${conditionText}" is not a condition: AND or OR (also && and ||, any case)`);
  const targetText = tr.string(v, 'regextarget', path);
  const target = Object.hasOwn(TARGETS, targetText ?? '') ? TARGETS[targetText ?? ''] : undefined;
  if (!target) tr.problem([...path, 'regextarget'], `"${targetText}" is not a regexTarget: secret, match or line`);
  const regexes = tr.strings(v, 'regexes', path) ?? [];
  regexes.forEach((r, i) => {
    try {
      new RE2(r, '');
    } catch (err) {
      tr.problem([...path, 'regexes', i], `RE2 cannot compile ${JSON.stringify(r)}: ${(err as Error).message}`);
    }
  });
  const stopwords = tr.strings(v, 'stopwords', path) ?? [];
  const targets = global ? (tr.strings(v, 'targetrules', path) ?? []) : [];
  if (regexes.length === 0 && stopwords.length === 0 && v.paths === undefined && v.commits === undefined) {
    tr.problem(path, 'an allowlist needs regexes or stopwords');
  }
  if (tr.problems.length > before) return undefined;
  const parsed = allowlistSchema.safeParse({
    ...(description !== undefined ? { description } : {}),
    condition,
    regex_target: target,
    ...(regexes.length ? { regexes } : {}),
    ...(stopwords.length ? { stopwords } : {}),
  });
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const [head, ...rest] = i.path as Path;
      tr.problem(head === undefined ? path : [...path, ALLOWLIST_FIELDS[head as string] ?? head, ...rest], i.message);
    }
    return undefined;
  }
  return { allowlist: parsed.data, targets };
}

/** A rule's allowlists: the older `[rules.allowlist]` table or the `[[rules.allowlists]]` array, not both. */
function ruleAllowlists(tr: Translation, t: Table, path: Path): { allowlists: Allowlist[]; paths: Path[] } {
  const out = { allowlists: [] as Allowlist[], paths: [] as Path[] };
  if (t.allowlist !== undefined && t.allowlists !== undefined) {
    tr.problem([...path, 'allowlist'], '[rules.allowlist] cannot be used alongside [[rules.allowlists]] (as in gitleaks): move it into [[rules.allowlists]]');
    return out;
  }
  const entries: [unknown, Path][] =
    t.allowlist !== undefined ? [[t.allowlist, [...path, 'allowlist']]] : t.allowlists !== undefined ? tr.tables(t.allowlists, [...path, 'allowlists']).map((a, i) => [a, [...path, 'allowlists', i]]) : [];
  for (const [v, p] of entries) {
    const read = readAllowlist(tr, v, p, false);
    if (read) {
      out.allowlists.push(read.allowlist);
      out.paths.push(p);
    }
  }
  return out;
}

interface SentinelTable {
  fields: SentinelFields;
  /** Where each field was given. */
  paths: Partial<Record<SentinelKey, Path>>;
}

/** A `[sentinel]` table: Sentinel's own fields for the file's rules, or for one rule. */
function readSentinel(tr: Translation, v: unknown, path: Path): SentinelTable {
  const fields: Record<string, unknown> = {};
  const paths: SentinelTable['paths'] = {};
  if (v === undefined) return { fields, paths };
  if (!isTable(v)) {
    tr.problem(path, 'a table is expected');
    return { fields, paths };
  }
  tr.keys(v, path, SENTINEL_KEYS);
  for (const key of SENTINEL_KEYS) {
    if (v[key] === undefined) continue;
    const parsed = ruleSchema.shape[key].safeParse(v[key]);
    if (!parsed.success) {
      for (const i of parsed.error.issues) tr.problem([...path, key, ...(i.path as Path)], i.message);
      continue;
    }
    fields[key] = parsed.data;
    paths[key] = [...path, key];
  }
  return { fields: fields as SentinelFields, paths };
}

const MATCH_FIELDS: Record<string, string> = { regex: 'regex', secret_group: 'secretgroup', entropy: 'entropy', anchors: 'keywords' };

/** Where a Sentinel field of a translated rule comes from in the TOML file. */
function tomlPath(sentinelField: Path, rulePath: Path, allowlistPaths: Path[], sentinelPaths: Partial<Record<SentinelKey, Path>>): Path {
  const [head, ...rest] = sentinelField;
  if (head === 'id' || head === 'description' || head === 'tags') return [...rulePath, head, ...rest];
  if (head === 'match') {
    const [k, ...more] = rest;
    return [...rulePath, MATCH_FIELDS[k as string] ?? 'regex', ...more];
  }
  if (head === 'allowlists' && typeof rest[0] === 'number') {
    const [i, k, ...more] = rest as [number, ...Path];
    const origin = allowlistPaths[i] ?? rulePath;
    return k === undefined ? origin : [...origin, ALLOWLIST_FIELDS[k as string] ?? k, ...more];
  }
  if ((SENTINEL_KEYS as readonly unknown[]).includes(head)) return sentinelPaths[head as SentinelKey] ?? rulePath;
  return rulePath;
}

const fieldPath = (field: string): Path => field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));

/** What RE2 returns for a Buffer subject: byte offsets, Buffer groups. */
type BufferMatch = { index: number; 0: Buffer } & Record<number, Buffer | undefined>;

/** As the engine: at most this many values per rule per event, and this many candidates looked at. */
const MAX_SPANS = 20;
const MAX_CANDIDATES = 1000;

/** Rules translated from gitleaks files: recompiled (after an allowlist is added) the same way. */
const fromGitleaks = new WeakSet<CompiledRule>();
/** Where each translated rule's id is, for a duplicate id. */
const idLocations = new WeakMap<CompiledRule, Located>();

/**
 * A rule whose regex has capture groups and no `secretGroup`. Gitleaks takes the first capture
 * group that is not empty, or the whole match when all are (Sentinel's default is group 1). Each
 * match is read here for the group gitleaks would take, and the rule compiled with that group
 * settles it, so entropy, placeholders and allowlists are judged exactly as for any rule.
 */
function firstGroupRule(spec: RuleSpec, file: string, groups: number, base: CompiledRule): CompiledRule {
  const m = spec.match;
  const re = new RE2(m.regex!, `g${m.flags ?? ''}u`);
  const variants: CompiledRule[] = [];
  const variant = (g: number) => (variants[g] ??= compileRule({ ...spec, match: { ...m, secret_group: g } }, file));
  const find = (s: Subject, event: Parameters<CompiledRule['find']>[1], reject?: (r: Rejection) => void): Span[] => {
    re.lastIndex = 0;
    if (!re.test(s.bytes)) return [];
    re.lastIndex = 0;
    const wanted = new Map<number, Set<string>>();
    let hit: BufferMatch | null;
    let seen = 0;
    while (seen < MAX_CANDIDATES && (hit = re.exec(s.bytes) as BufferMatch | null) !== null) {
      if (hit[0].length === 0) {
        re.lastIndex += 1;
        continue;
      }
      seen += 1;
      let g = 0;
      for (let k = 1; k <= groups; k++) {
        if (hit[k] && hit[k]!.length > 0) {
          g = k;
          break;
        }
      }
      // The same position the rule compiled with group g gives this value.
      const bytes = hit[g]!;
      const start = s.charOffset(g === 0 ? hit.index : hit.index + hit[0].indexOf(bytes));
      const key = `${start}:${start + bytes.toString('utf8').length}`;
      if (!wanted.has(g)) wanted.set(g, new Set());
      wanted.get(g)!.add(key);
    }
    const spans: Span[] = [];
    for (const [g, keys] of wanted) {
      const has = (x: { start: number; end: number }) => keys.has(`${x.start}:${x.end}`);
      for (const span of variant(g).find(s, event, reject && ((r) => has(r) && reject(r)))) if (has(span)) spans.push(span);
    }
    return spans.sort((a, b) => a.start - b.start).slice(0, MAX_SPANS);
  };
  return { ...base, find };
}

/** Compiles a translated rule with gitleaks' choice of secret group; throws RuleCompileError. */
function compileGitleaksRule(spec: RuleSpec, file: string): CompiledRule {
  let rule = compileRule(spec, file);
  const m = spec.match;
  if (m.regex !== undefined && m.secret_group === undefined) {
    const groups = (new RE2(`${m.regex}|`, m.flags ?? '').exec('')?.length ?? 1) - 1;
    if (groups > 0) rule = firstGroupRule(spec, file, groups, rule);
  }
  fromGitleaks.add(rule);
  return rule;
}

/** Compiles a changed spec of a loaded rule the way the rule was compiled first. */
export function recompile(rule: CompiledRule, spec: RuleSpec): CompiledRule {
  const next = fromGitleaks.has(rule) ? compileGitleaksRule(spec, rule.file) : compileRule(spec, rule.file);
  const at = idLocations.get(rule);
  if (at) idLocations.set(next, at);
  return next;
}

/** Where a rule of a gitleaks file names its id (undefined for YAML rules). */
export function idLocation(rule: CompiledRule): Located | undefined {
  return idLocations.get(rule);
}

const TOP_KEYS = ['title', 'description', 'minversion', 'extend', 'rules', 'allowlist', 'allowlists', 'sentinel'];
const RULE_KEYS = ['id', 'description', 'regex', 'secretgroup', 'entropy', 'keywords', 'tags', 'allowlist', 'allowlists', 'sentinel'];

/** Translates and compiles one gitleaks TOML file: its good rules, its problems and its effects on the rest. */
export function compileGitleaksFile(file: string, text: string): { rules: CompiledRule[]; problems: RuleProblem[]; gitleaks?: GitleaksEffects } {
  let ast: AST.TOMLProgram;
  try {
    ast = parseTOML(text);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    // An error found at a blank or the end (a missing value) belongs to the last token before it.
    let at = err.index;
    if (at >= text.length || /\s/.test(text[at]!)) while (at > 0 && /\s/.test(text[at - 1]!)) at--;
    const line = at < err.index ? text.slice(0, at).split('\n').length : err.lineNumber;
    return { rules: [], problems: [{ file, line, field: '', message: `TOML: ${err.message}` }] };
  }
  const tr = new Translation(file, new Positions(ast));
  const data = lowerKeys(getStaticTOMLValue(ast), [], tr) as Table;

  // The file's frame: top-level keys, [extend], [sentinel], global allowlists. A problem there
  // leaves nothing of the file trusted, as a YAML file without its `rules:` list.
  tr.keys(data, [], TOP_KEYS);
  for (const k of ['title', 'description', 'minversion']) tr.string(data, k, []);
  const effects: GitleaksEffects = { useDefault: false, disabled: [], targeted: [], global: [], extensions: [] };
  if (data.extend !== undefined) {
    if (!isTable(data.extend)) tr.problem(['extend'], 'a table is expected');
    else {
      tr.keys(data.extend, ['extend'], ['usedefault', 'disabledrules'], REFUSED_EXTEND);
      effects.useDefault = tr.boolean(data.extend, 'usedefault', ['extend']) ?? false;
      effects.disabled = (tr.strings(data.extend, 'disabledrules', ['extend']) ?? []).map((id, i) => ({ id, ...tr.at(['extend', 'disabledrules', i]) }));
    }
  }
  const fileSentinel = readSentinel(tr, data.sentinel, ['sentinel']);
  if (data.allowlist !== undefined && data.allowlists !== undefined) {
    tr.problem(['allowlist'], '[allowlist] cannot be used alongside [[allowlists]] (as in gitleaks): move it into [[allowlists]]');
  }
  const globalEntries: [unknown, Path][] =
    data.allowlists !== undefined ? tr.tables(data.allowlists, ['allowlists']).map((a, i) => [a, ['allowlists', i]]) : data.allowlist !== undefined ? [[data.allowlist, ['allowlist']]] : [];
  /** Where each of effects.global comes from. */
  const globalPaths: Path[] = [];
  for (const [v, p] of globalEntries) {
    const read = readAllowlist(tr, v, p, true);
    if (!read) continue;
    if (read.targets.length) {
      effects.targeted.push({ targets: read.targets.map((id, i) => ({ id, ...tr.at([...p, 'targetrules', i]) })), allowlist: read.allowlist, at: tr.at(p) });
    } else {
      effects.global.push({ allowlist: read.allowlist, at: tr.at(p) });
      globalPaths.push(p);
    }
  }
  if (data.rules === undefined && data.extend === undefined && globalEntries.length === 0) {
    tr.problem([], 'no [[rules]]: a gitleaks file for Sentinel defines rules, or extends Sentinel\'s pack with [extend] useDefault = true');
  }
  const rulesList = data.rules === undefined ? [] : tr.tables(data.rules, ['rules']);
  if (tr.problems.length) return { rules: [], problems: tr.problems };

  const rules: CompiledRule[] = [];
  rulesList.forEach((r, index) => {
    const path: Path = ['rules', index];
    const before = tr.problems.length;
    // skipReport = false asks for nothing.
    const { skipreport: _, ...refused } = REFUSED_RULE;
    tr.keys(r, path, r.skipreport === false ? [...RULE_KEYS, 'skipreport'] : RULE_KEYS, r.skipreport === false ? refused : REFUSED_RULE);
    const id = tr.string(r, 'id', path);
    if (id === undefined && r.id === undefined) tr.problem([...path, 'id'], 'id is required');
    const description = tr.string(r, 'description', path);
    const regex = tr.string(r, 'regex', path);
    const secretGroup = tr.number(r, 'secretgroup', path, true);
    if (secretGroup !== undefined && secretGroup < 0) tr.problem([...path, 'secretgroup'], 'a capture group number (0 or more) is expected');
    const entropy = entropyOf(tr, r, path);
    const keywords = tr.strings(r, 'keywords', path) ?? [];
    const tags = tr.strings(r, 'tags', path) ?? [];
    const own = ruleAllowlists(tr, r, path);
    const ruleSentinel = readSentinel(tr, r.sentinel, [...path, 'sentinel']);
    if (tr.problems.length > before || id === undefined) return;

    const anchors = keywords.map((k) => k.toLowerCase());
    const group = secretGroup ? secretGroup : undefined; // gitleaks: 0 means not set
    const allowlists = [...own.allowlists, ...effects.global.map((g) => g.allowlist)];
    const allowlistPaths = [...own.paths, ...globalPaths];
    if (!regex) {
      // No regex (gitleaks reads "" as none): the rule extends the loaded rule of this id.
      effects.extensions.push({
        ref: { id, ...tr.at([...path, 'id']) },
        regexAt: tr.at([...path, 'regex']),
        ...(description ? { description } : {}),
        ...(entropy !== undefined ? { entropy } : {}),
        ...(group !== undefined ? { secretGroup: group } : {}),
        anchors,
        tags,
        allowlists,
        allowlistPaths,
        sentinel: ruleSentinel.fields,
        locate: (field, baseAllowlists) => {
          const [head, i, ...rest] = field;
          const shifted: Path = head === 'allowlists' && typeof i === 'number' ? (i >= baseAllowlists ? ['allowlists', i - baseAllowlists, ...rest] : [...path]) : field;
          return tr.at(tomlPath(shifted, path, allowlistPaths, ruleSentinel.paths));
        },
      });
      return;
    }
    const sentinel = { ...DEFAULTS, ...fileSentinel.fields, ...ruleSentinel.fields };
    const sentinelPaths = { ...fileSentinel.paths, ...ruleSentinel.paths };
    const spec = {
      id,
      description: description || id,
      ...sentinel,
      match: {
        regex,
        ...(group !== undefined ? { secret_group: group } : {}),
        ...(entropy !== undefined ? { entropy } : {}),
        ...(anchors.length ? { anchors } : {}),
      },
      ...(tags.length ? { tags } : {}),
      ...(allowlists.length ? { allowlists } : {}),
    };
    const where = (field: Path) => tomlPath(field, path, allowlistPaths, sentinelPaths);
    const parsed = ruleSchema.safeParse(spec);
    if (!parsed.success) {
      for (const i of parsed.error.issues) tr.problem(where(i.path as Path), i.message);
      return;
    }
    try {
      const rule = compileGitleaksRule(parsed.data, file);
      idLocations.set(rule, tr.at([...path, 'id']));
      rules.push(rule);
    } catch (err) {
      if (!(err instanceof RuleCompileError)) throw err;
      tr.problem(where(fieldPath(err.field)), err.message);
    }
  });
  return { rules, problems: tr.problems, gitleaks: effects };
}

/** One file's results as `assemble` sees them. */
interface FileResult {
  file: string;
  rules: CompiledRule[];
  gitleaks?: GitleaksEffects;
}

/**
 * Applies the gitleaks files' effects to the assembled rules: rules extended by id, global
 * allowlists (targeted, and untargeted ones on the pack under useDefault), disabled rules.
 * `rules` are replaced in place; problems name the TOML file and line that asked.
 */
export function applyGitleaksEffects(rules: CompiledRule[], files: FileResult[], isPack: (file: string) => boolean): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const index = new Map(rules.map((r, i) => [r.spec.id, i]));
  const disabled = new Set<number>();
  const problem = (file: string, at: Located, message: string) => problems.push({ file, ...at, message });
  const unknown = (ref: RuleRef, f: FileResult) =>
    `no rule "${ref.id}" is loaded (from this folder${f.gitleaks?.useDefault ? " or Sentinel's own pack" : ''})`;

  /** Replaces rule i by `spec` if it validates and compiles; else a problem where `locate` says. */
  const change = (i: number, spec: unknown, file: string, locate: (field: Path) => Located): boolean => {
    const parsed = ruleSchema.safeParse(spec);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problem(file, locate(issue.path as Path), issue.message);
      return false;
    }
    try {
      rules[i] = recompile(rules[i]!, parsed.data);
      return true;
    } catch (err) {
      if (!(err instanceof RuleCompileError)) throw err;
      problem(file, locate(fieldPath(err.field)), err.message);
      return false;
    }
  };
  const addAllowlists = (i: number, lists: { allowlist: Allowlist; at: Located }[], file: string) => {
    if (lists.length === 0) return;
    const spec = rules[i]!.spec;
    const base = spec.allowlists?.length ?? 0;
    change(i, { ...spec, allowlists: [...(spec.allowlists ?? []), ...lists.map((l) => l.allowlist)] }, file, (field) => {
      const n = field[0] === 'allowlists' && typeof field[1] === 'number' ? field[1] - base : -1;
      return lists[n]?.at ?? lists[0]!.at;
    });
  };

  for (const f of files) {
    const g = f.gitleaks;
    if (!g) continue;
    const extended = new Set<number>();
    for (const ext of g.extensions) {
      const i = index.get(ext.ref.id);
      if (i === undefined) {
        problem(f.file, ext.regexAt, `regex is required: without one, a rule extends the loaded rule of its id, and ${unknown(ext.ref, f)}`);
        continue;
      }
      const base = rules[i]!;
      if (base.file === f.file) {
        problem(f.file, ext.ref, `rule id "${ext.ref.id}" is given twice in this file`);
        continue;
      }
      const spec = base.spec;
      const match = {
        ...spec.match,
        ...(ext.entropy !== undefined ? { entropy: ext.entropy } : {}),
        ...(ext.secretGroup !== undefined ? { secret_group: ext.secretGroup } : {}),
        ...(ext.anchors.length ? { anchors: [...(spec.match.anchors ?? []), ...ext.anchors] } : {}),
      };
      const merged = {
        ...spec,
        ...ext.sentinel,
        ...(ext.description ? { description: ext.description } : {}),
        match,
        ...(ext.tags.length ? { tags: [...(spec.tags ?? []), ...ext.tags] } : {}),
        ...(ext.allowlists.length ? { allowlists: [...(spec.allowlists ?? []), ...ext.allowlists] } : {}),
      };
      if (change(i, merged, f.file, (field) => ext.locate(field, spec.allowlists?.length ?? 0))) extended.add(i);
    }
    // Untargeted global allowlists: the file's own rules have them already.
    const globalTargets = new Set(extended);
    if (g.useDefault) rules.forEach((r, i) => isPack(r.file) && globalTargets.add(i));
    for (const i of globalTargets) {
      if (!extended.has(i)) addAllowlists(i, g.global, f.file);
    }
    for (const t of g.targeted) {
      for (const ref of t.targets) {
        const i = index.get(ref.id);
        if (i === undefined) problem(f.file, ref, unknown(ref, f));
        else addAllowlists(i, [{ allowlist: t.allowlist, at: t.at }], f.file);
      }
    }
    for (const ref of g.disabled) {
      const i = index.get(ref.id);
      if (i === undefined) problem(f.file, ref, unknown(ref, f));
      else disabled.add(i);
    }
  }
  for (const i of disabled) rules[i] = { ...rules[i]!, spec: { ...rules[i]!.spec, enabled: false } };
  return problems;
}
