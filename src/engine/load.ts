/**
 * Loads rule files from a folder: Sentinel's YAML and gitleaks' TOML (gitleaks.ts). Each problem
 * names the file, the line where the parser knows it, the field and what was expected; a bad file
 * or rule is reported and skipped, the good ones load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import type { Document, LineCounter } from 'yaml';
import { projectRoot } from '../paths';
import { cachedParse, rememberParse } from './parse-cache';
import { compileRule, RuleCompileError, type CompiledRule, type CompileOptions } from './compile';
import { ruleSet, type CompiledRules } from './engine';
import { applyGitleaksEffects, compileGitleaksFile, idLocation, type GitleaksEffects } from './gitleaks';
import { ruleFileSchema, ruleSchema } from './schema';
import { compileStateful, StatefulCompileError, statefulSet, type StatefulRule, type StatefulSet } from '../correlate/model';
import { isStatefulRaw, statefulSchema } from '../correlate/schema';

/** Sentinel's own pack: what a gitleaks file's `[extend] useDefault = true` brings in. */
export const packDir = join(projectRoot, 'rules');

/** One problem in one rule file. */
export interface RuleProblem {
  file: string;
  line: number | undefined;
  field: string;
  message: string;
}

export function formatProblem(p: RuleProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''}: ${p.field ? `${p.field}: ` : ''}${p.message}`;
}

export interface LoadedRules extends CompiledRules {
  problems: RuleProblem[];
  files: string[];
  /** Stateful rules (kind: threshold | sequence), for the detector's facts and the correlator. */
  stateful: StatefulSet;
}

/**
 * The yaml library, loaded on first use: with every file in the parse cache (parse-cache.ts), a
 * process reads no YAML and need not load it.
 */
let yamlLibrary: typeof import('yaml') | undefined;
const yaml = () => (yamlLibrary ??= createRequire(import.meta.url)('yaml') as typeof import('yaml'));

/**
 * The RE2 package's version, part of the parse cache's names for rule files: a file cached under it
 * had every pattern compile with this RE2 (compileYamlFile). Undefined when it cannot be read: then
 * no cached file is trusted to compile.
 */
const re2Version: string | undefined = (() => {
  try {
    return (createRequire(import.meta.url)('re2/package.json') as { version: string }).version;
  } catch {
    return undefined;
  }
})();

/** The line of the deepest node YAML has along `path` (a missing field: its parent's line). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = doc.getIn(path.slice(0, n), true);
    if (yaml().isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** One file's compiled rules and problems; a gitleaks file also says what it asks of the other files. */
export interface FileRules {
  file: string;
  rules: CompiledRule[];
  problems: RuleProblem[];
  gitleaks?: GitleaksEffects;
  /** The file's stateful rules (kind: threshold | sequence). */
  stateful?: StatefulRule[];
}

/** Parses and compiles one file's text (YAML, or gitleaks TOML by its extension): its good rules, and a problem for each bad one. */
export function compileRuleFile(file: string, text: string): Omit<FileRules, 'file'> {
  if (/\.toml$/i.test(file)) return compileGitleaksFile(file, text);
  return compileYamlFile(file, text);
}

function compileYamlFile(file: string, text: string): Omit<FileRules, 'file'> {
  // A file parsed before is taken from the parse cache; its rules are validated and compiled all
  // the same. Should any be refused, the YAML is read again, for the lines the problems are on.
  // An entry is written only for a file whose every rule compiled, and its name holds the RE2
  // version: a file found there has patterns this RE2 compiles, so each is built on first use.
  const cacheVersion = `re2 ${re2Version ?? 'unknown'}`;
  const cached = cachedParse('yaml', text, cacheVersion);
  if (cached !== undefined) {
    const fromCache = compileYamlData(file, cached, undefined, { patternsKnownGood: re2Version !== undefined });
    if (fromCache.problems.length === 0) return fromCache;
  }
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      rules: [],
      problems: doc.errors.map((e) => ({ file, line: lines.linePos(e.pos[0]).line, field: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    };
  }
  const data = doc.toJS() as unknown;
  const compiled = compileYamlData(file, data, { doc, lines });
  if (compiled.problems.length === 0) rememberParse('yaml', text, data, cacheVersion);
  return compiled;
}

/** Validates and compiles a YAML file's data; `source`, when there, gives each problem its line. */
function compileYamlData(file: string, data: unknown, source?: { doc: Document; lines: LineCounter }, compileOptions: CompileOptions = {}): Omit<FileRules, 'file'> {
  const lineAt = (path: (string | number)[]) => (source ? lineOf(source.doc, source.lines, path) : undefined);
  const shape = ruleFileSchema.safeParse(data);
  const problems: RuleProblem[] = [];
  const rules: CompiledRule[] = [];
  const stateful: StatefulRule[] = [];
  if (!shape.success) {
    // The file's frame is wrong (no `rules:` list): nothing in it can be trusted.
    const rulesList = (data as { rules?: unknown })?.rules;
    if (!Array.isArray(rulesList)) {
      return {
        rules: [],
        problems: shape.error.issues.map((i) => ({ file, line: lineAt(i.path as (string | number)[]), field: i.path.join('.'), message: i.message })),
      };
    }
  }
  const list = (data as { rules: unknown[] }).rules;
  /** A problem at `path` under rules[index], with its line in the file. */
  const problemAt = (index: number, path: (string | number)[], message: string) => {
    const full = ['rules', index, ...path];
    problems.push({ file, line: lineAt(full), field: full.join('.'), message });
  };
  /** Validates one rule with `schema` and compiles it into `into`; each refusal becomes a problem at its field. */
  const accept = <S, R>(
    raw: unknown,
    index: number,
    schema: { safeParse(v: unknown): { success: true; data: S } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } },
    compile: (spec: S, file: string) => R,
    CompileError: new (...args: never[]) => Error & { field: string },
    into: R[],
  ) => {
    const parsed = schema.safeParse(raw);
    if (!parsed.success) {
      for (const i of parsed.error.issues) problemAt(index, i.path as (string | number)[], i.message);
      return;
    }
    try {
      into.push(compile(parsed.data, file));
    } catch (err) {
      if (!(err instanceof CompileError)) throw err;
      problemAt(index, err.field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)), err.message);
    }
  };
  list.forEach((raw, index) => {
    if (isStatefulRaw(raw)) accept(raw, index, statefulSchema, compileStateful, StatefulCompileError, stateful);
    else accept(raw, index, ruleSchema, (spec, f) => compileRule(spec, f, compileOptions), RuleCompileError, rules);
  });
  return { rules, problems, ...(stateful.length ? { stateful } : {}) };
}

/** Every *.yaml / *.yml / *.toml file of `dir`, sorted. */
export function ruleFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /\.(?:ya?ml|toml)$/i.test(n))
    .sort()
    .map((n) => join(dir, n));
}

export interface AssembleOptions {
  /** The pack `[extend] useDefault` brings in; default the project's rules/ folder. */
  packDir?: string;
}

/** The pack's YAML files, compiled once per content. */
const packCache = new Map<string, { text: string; compiled: Omit<FileRules, 'file'> }>();

/** The pack's files not already among `loaded` (when the folder is the pack, nothing is loaded twice). */
function packFiles(dir: string, loaded: FileRules[]): FileRules[] {
  const have = new Set(loaded.map((f) => resolve(f.file)));
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    return [{ file: dir, rules: [], problems: [{ file: dir, line: undefined, field: '', message: `cannot read Sentinel's pack for [extend] useDefault: ${(err as Error).message}` }] }];
  }
  const out: FileRules[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (have.has(resolve(file))) continue;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue; // removed between listing and reading
    }
    let cached = packCache.get(file);
    if (cached?.text !== text) packCache.set(file, (cached = { text, compiled: compileYamlFile(file, text) }));
    out.push({ file, ...cached.compiled });
  }
  return out;
}

/**
 * Puts files' rules together; a duplicate id is a problem and the first definition wins. Gitleaks
 * files' effects apply across files: `[extend] useDefault` adds the pack (first), then rules
 * extended by id, global allowlists and disabled rules are applied.
 */
export function assemble(perFile: FileRules[], options: AssembleOptions = {}): LoadedRules {
  const pack = resolve(options.packDir ?? packDir);
  const all = perFile.some((f) => f.gitleaks?.useDefault) ? [...packFiles(pack, perFile), ...perFile] : perFile;
  const rules: CompiledRule[] = [];
  const stateful: StatefulRule[] = [];
  const problems: RuleProblem[] = [];
  const seen = new Map<string, string>();
  for (const f of all) {
    problems.push(...f.problems);
    for (const r of f.stateful ?? []) {
      const first = seen.get(r.id);
      if (first) {
        problems.push({ file: f.file, line: undefined, field: 'id', message: `rule id "${r.id}" is already defined in ${first}` });
        continue;
      }
      seen.set(r.id, f.file);
      stateful.push(r);
    }
    for (const r of f.rules) {
      const first = seen.get(r.spec.id);
      if (first) {
        const at = idLocation(r);
        const hint = at ? '; a gitleaks rule with a regex is a new rule: give it another id (a rule without regex extends the rule of its id)' : '';
        problems.push({ file: f.file, line: at?.line, field: at?.field ?? 'id', message: `rule id "${r.spec.id}" is already defined in ${first}${hint}` });
        continue;
      }
      seen.set(r.spec.id, f.file);
      rules.push(r);
    }
  }
  if (all.some((f) => f.gitleaks)) {
    problems.push(...applyGitleaksEffects(rules, all, (file) => /\.ya?ml$/.test(file) && resolve(dirname(file)) === pack));
  }
  return { ...ruleSet(rules), problems, files: all.map((f) => f.file), stateful: statefulSet(stateful) };
}

/** Loads every rule file in `dir`. */
export function loadRules(dir: string, options: AssembleOptions = {}): LoadedRules {
  let files: string[];
  try {
    files = ruleFiles(dir);
  } catch (err) {
    return { ...ruleSet([]), files: [], stateful: statefulSet([]), problems: [{ file: dir, line: undefined, field: '', message: `cannot read the rules folder: ${(err as Error).message}` }] };
  }
  return assemble(
    files.map((file) => ({ file, ...compileRuleFile(file, readFileSync(file, 'utf8')) })),
    options,
  );
}
