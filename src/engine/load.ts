/**
 * Loads rule files from a folder. Each problem names the file, the line where YAML knows it, the
 * field and what was expected; a bad file or rule is reported and skipped, the good ones load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { compileRule, RuleCompileError, type CompiledRule } from './compile';
import { ruleSet, type CompiledRules } from './engine';
import { ruleFileSchema, ruleSchema } from './schema';

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
}

/** The line of the deepest node YAML has along `path` (a missing field: its parent's line). */
function lineOf(doc: Document, lines: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node: unknown = doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Parses and compiles one file's text: its good rules, and a problem for each bad one. */
export function compileRuleFile(file: string, text: string): { rules: CompiledRule[]; problems: RuleProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      rules: [],
      problems: doc.errors.map((e) => ({ file, line: lines.linePos(e.pos[0]).line, field: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    };
  }
  const data = doc.toJS() as unknown;
  const shape = ruleFileSchema.safeParse(data);
  const problems: RuleProblem[] = [];
  const rules: CompiledRule[] = [];
  if (!shape.success) {
    // The file's frame is wrong (no `rules:` list): nothing in it can be trusted.
    const rulesList = (data as { rules?: unknown })?.rules;
    if (!Array.isArray(rulesList)) {
      return {
        rules: [],
        problems: shape.error.issues.map((i) => ({ file, line: lineOf(doc, lines, i.path as (string | number)[]), field: i.path.join('.'), message: i.message })),
      };
    }
  }
  const list = (data as { rules: unknown[] }).rules;
  list.forEach((raw, index) => {
    const parsed = ruleSchema.safeParse(raw);
    if (!parsed.success) {
      for (const i of parsed.error.issues) {
        const path = ['rules', index, ...(i.path as (string | number)[])];
        problems.push({ file, line: lineOf(doc, lines, path), field: path.join('.'), message: i.message });
      }
      return;
    }
    try {
      rules.push(compileRule(parsed.data, file));
    } catch (err) {
      if (!(err instanceof RuleCompileError)) throw err;
      const path = ['rules', index, ...err.field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
      problems.push({ file, line: lineOf(doc, lines, path), field: path.join('.'), message: err.message });
    }
  });
  return { rules, problems };
}

/** Every *.yaml / *.yml file of `dir`, sorted. */
export function ruleFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /\.ya?ml$/.test(n))
    .sort()
    .map((n) => join(dir, n));
}

/** Puts files' rules together; a duplicate id is a problem and the first definition wins. */
export function assemble(perFile: { file: string; rules: CompiledRule[]; problems: RuleProblem[] }[]): LoadedRules {
  const rules: CompiledRule[] = [];
  const problems: RuleProblem[] = [];
  const seen = new Map<string, string>();
  for (const f of perFile) {
    problems.push(...f.problems);
    for (const r of f.rules) {
      const first = seen.get(r.spec.id);
      if (first) {
        problems.push({ file: f.file, line: undefined, field: 'id', message: `rule id "${r.spec.id}" is already defined in ${first}` });
        continue;
      }
      seen.set(r.spec.id, f.file);
      rules.push(r);
    }
  }
  return { ...ruleSet(rules), problems, files: perFile.map((f) => f.file) };
}

/** Loads every rule file in `dir`. */
export function loadRules(dir: string): LoadedRules {
  let files: string[];
  try {
    files = ruleFiles(dir);
  } catch (err) {
    return { ...ruleSet([]), files: [], problems: [{ file: dir, line: undefined, field: '', message: `cannot read the rules folder: ${(err as Error).message}` }] };
  }
  return assemble(files.map((file) => ({ file, ...compileRuleFile(file, readFileSync(file, 'utf8')) })));
}
