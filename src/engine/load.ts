/**
 * Loads rule files from a folder. Each problem names the file, the line where YAML knows it, the
 * field and what was expected; a bad file is reported and skipped, the good ones still load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import { compileRule, type CompiledRule, type CompiledRules } from './engine';
import { ruleFileSchema } from './schema';

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

/** Parses and compiles one file's text; returns its rules or its problems. */
export function compileRuleFile(file: string, text: string): { rules: CompiledRule[]; problems: RuleProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      rules: [],
      problems: doc.errors.map((e) => ({ file, line: lines.linePos(e.pos[0]).line, field: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    };
  }
  const parsed = ruleFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    return {
      rules: [],
      problems: parsed.error.issues.map((i) => {
        // Point at the deepest node YAML has for the path (a missing field: its parent).
        let line: number | undefined;
        for (let n = i.path.length; n >= 0 && line === undefined; n--) {
          const node: unknown = doc.getIn(i.path.slice(0, n) as (string | number)[], true);
          if (isNode(node) && node.range) line = lines.linePos(node.range[0]).line;
        }
        return { file, line, field: i.path.join('.'), message: i.message };
      }),
    };
  }
  return { rules: parsed.data.rules.map((r) => compileRule(r, file)), problems: [] };
}

/** Loads every *.yaml / *.yml file in `dir`. Duplicate rule ids are problems; the first wins. */
export function loadRules(dir: string): LoadedRules {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /\.ya?ml$/.test(n)).sort();
  } catch (err) {
    return { rules: [], files: [], problems: [{ file: dir, line: undefined, field: '', message: `cannot read the rules folder: ${(err as Error).message}` }] };
  }
  const out: LoadedRules = { rules: [], problems: [], files: [] };
  const seen = new Map<string, string>();
  for (const name of names) {
    const file = join(dir, name);
    const { rules, problems } = compileRuleFile(file, readFileSync(file, 'utf8'));
    out.files.push(file);
    out.problems.push(...problems);
    for (const r of rules) {
      const first = seen.get(r.spec.id);
      if (first) {
        out.problems.push({ file, line: undefined, field: 'id', message: `rule id "${r.spec.id}" is already defined in ${first}` });
        continue;
      }
      seen.set(r.spec.id, file);
      out.rules.push(r);
    }
  }
  return out;
}
