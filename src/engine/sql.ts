/**
 * The source tutorial's streaming-SQL rules, unchanged: `SELECT … FROM slack_events WHERE …`.
 * node-sql-parser (BigQuery dialect) parses; this module compiles the WHERE clause into a
 * predicate over one event, and the constant columns `tp_action` / `tp_message` into the rule's
 * actions and message. Anything it does not support is a load-time error that names it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import RE2 from 're2';
import { cachedParse, rememberParse } from './parse-cache';
import type { Action, ChatEvent } from './types';

const require = createRequire(import.meta.url);

/**
 * The SQL parser, loaded on the first statement the parse cache does not hold (about 70 ms), and
 * its version, which names the cache entries it made. The BigQuery build alone: the package's main
 * file loads every dialect, which cost about 0.3 s at each start of a short-lived command such as
 * `sentinel scan`.
 */
let parserVersion: string | undefined;
const sqlParserVersion = () =>
  (parserVersion ??= (JSON.parse(readFileSync(require.resolve('node-sql-parser/package.json'), 'utf8')) as { version: string }).version);
let parser: { astify(sql: string, o: { database: string }): unknown } | undefined;
const sqlParser = () => (parser ??= new (require('node-sql-parser/build/bigquery.js') as typeof import('node-sql-parser/build/bigquery.js')).Parser());

/** A SQL rule that cannot be compiled; the message names the construct. */
export class SqlRuleError extends Error {
  override name = 'SqlRuleError';
}

type Val = string | number | boolean | null | Val[];

/** What a compiled SQL predicate sees. */
export interface SqlContext {
  event: ChatEvent;
  /** The event's text, unescaped. */
  text: string;
  /** Where in `text` the deciding match was, when a text function found it. */
  evidence?: [number, number];
}

type Fn = (c: SqlContext) => Val;

export interface CompiledSql {
  predicate: (c: SqlContext) => boolean;
  /** Literals of which at least one must occur in the text for the predicate to hold (lowercase); empty when unknown. */
  anchors: string[];
  actions?: Action[];
  /** Template: {user}, {channel}, {ts}, {team} and {rule} are filled in per finding. */
  message?: string;
}

const ACTIONS: Action[] = ['delete', 'redact', 'tombstone', 'quarantine', 'notify', 'revoke_kms', 'revoke_credential', 'escalate', 'none'];

type Node = Record<string, unknown> & { type?: string };

/** The name of a column_ref, whatever shape the dialect gives it. */
function columnName(n: Node): { table: string | null; column: string } {
  const c = n.column as unknown;
  const column = typeof c === 'string' ? c : String(((c as Node)?.expr as Node)?.value ?? '');
  return { table: (n.table as string | null) ?? null, column };
}

function functionName(n: Node): string {
  const name = n.name as { name?: { value: string }[]; schema?: { value: string } } | string;
  if (typeof name === 'string') return name.toLowerCase();
  const parts = name?.name ?? [];
  return String(parts.length ? parts[parts.length - 1]!.value : (name?.schema?.value ?? '')).toLowerCase();
}

function args(n: Node): Node[] {
  const a = n.args as { value?: Node[] } | undefined;
  return a?.value ?? [];
}

const isTextColumn = (n: Node) => n.type === 'column_ref' && columnName(n).table === null && columnName(n).column.toLowerCase() === 'text';
const isTextLike = (n: Node): boolean => isTextColumn(n) || (n.type === 'function' && ['lower', 'upper'].includes(functionName(n)) && isTextColumn(args(n)[0] ?? {}));

/** Field aliases of the tutorial's slack_events stream, mapped to the normalized event. */
const eventFields: Record<string, (e: ChatEvent) => string> = {
  user: (e) => e.user,
  user_id: (e) => e.user,
  channel: (e) => e.channel,
  channel_id: (e) => e.channel,
  ts: (e) => e.ts,
  team: (e) => e.team,
  team_id: (e) => e.team,
  type: (e) => e.eventType,
  event_type: (e) => e.eventType,
  source: (e) => e.source,
};

function rawPath(raw: unknown, path: (string | number)[]): Val {
  let v: unknown = raw;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[p as string];
  }
  if (v === undefined) return null;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) return JSON.stringify(v);
  return v as Val;
}

/** `$.files[0].name` → ['files', 0, 'name']. */
function jsonPath(path: string, where: string): (string | number)[] {
  if (!path.startsWith('$')) throw new SqlRuleError(`${where}: JSON path must start with "$", got ${JSON.stringify(path)}`);
  const out: (string | number)[] = [];
  const re = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/gy;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const m = re.exec(path);
    if (!m) throw new SqlRuleError(`${where}: cannot read JSON path ${JSON.stringify(path)} (use $.a.b[0].c)`);
    out.push(m[1] !== undefined ? m[1] : Number(m[2]));
  }
  return out;
}

/** LIKE pattern → RE2 regex (anchored); `\` escapes % and _. */
function likeRegex(pattern: string, caseInsensitive: boolean): RE2 {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (ch === '%') re += '.*';
    else if (ch === '_') re += '.';
    else re += escapeRe(ch);
  }
  return new RE2(`^${re}$`, caseInsensitive ? 'is' : 's');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The literal chunks of a LIKE pattern, longest first. */
function likeLiterals(pattern: string): string[] {
  return pattern
    .split(/(?<!\\)[%_]/)
    .map((s) => s.replace(/\\(.)/g, '$1'))
    .filter((s) => s.length > 0)
    .sort((a, b) => b.length - a.length);
}

/** The literal a regex must start with (before any metacharacter), if it has no top-level alternation. */
function regexPrefix(re: string): string {
  if (/(^|[^\\])\|/.test(re)) return '';
  const body = re.replace(/^\(\?[a-z]+\)/, '');
  let lit = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if ('.^$*+?()[]{}|'.includes(ch)) {
      // A quantifier makes the previous character optional.
      if ('*?{'.includes(ch)) lit = lit.slice(0, -1);
      break;
    }
    if (ch === '\\') {
      const nx = body[i + 1];
      if (nx && /[^A-Za-z0-9]/.test(nx)) {
        lit += nx;
        i++;
        continue;
      }
      break;
    }
    lit += ch;
  }
  return lit;
}

function compileRegex(pattern: string, where: string): RE2 {
  try {
    return new RE2(pattern, 'u');
  } catch (err) {
    throw new SqlRuleError(`${where}: RE2 cannot compile ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

/** Compiles an expression; `where` names the rule for error messages. */
function compile(n: Node, where: string): Fn {
  switch (n.type) {
    case 'single_quote_string':
    case 'double_quote_string':
    case 'string':
    case 'natural_string':
    case 'number':
    case 'bool':
    case 'boolean': {
      const v = n.value as Val;
      return () => v;
    }
    case 'null':
      return () => null;
    case 'array': {
      const items = ((n.array_path as { expr: Node }[]) ?? []).map((i) => compile(i.expr, where));
      return (c) => items.map((f) => f(c));
    }
    case 'expr_list': {
      const items = ((n.value as Node[]) ?? []).map((i) => compile(i, where));
      return (c) => items.map((f) => f(c));
    }
    case 'column_ref': {
      const { table, column } = columnName(n);
      if (column === '*') throw new SqlRuleError(`${where}: "*" is only allowed as a selected column`);
      if (table && table.toLowerCase() !== 'event' && table.toLowerCase() !== 'slack_events') {
        throw new SqlRuleError(`${where}: unknown table "${table}" in ${table}.${column} (use event.<field> for raw Slack fields)`);
      }
      const name = column.toLowerCase();
      if (table?.toLowerCase() === 'event') return (c) => rawPath(c.event.raw, [column]);
      if (name === 'text') return (c) => c.text;
      const field = eventFields[name];
      if (field) return (c) => field(c.event);
      return (c) => rawPath(c.event.raw, [column]);
    }
    case 'unary_expr': {
      if (String(n.operator).toUpperCase() !== 'NOT') throw new SqlRuleError(`${where}: unsupported operator ${String(n.operator)}`);
      const e = compile(n.expr as Node, where);
      return (c) => !truthy(e(c));
    }
    case 'binary_expr':
      return compileBinary(n, where);
    case 'function':
      return compileFunction(n, where);
    case 'case':
      throw new SqlRuleError(`${where}: CASE expressions are not supported`);
    default:
      if (n.ast || n.type === 'select') throw new SqlRuleError(`${where}: subqueries are not supported`);
      throw new SqlRuleError(`${where}: unsupported expression ${n.type ?? JSON.stringify(n).slice(0, 60)}`);
  }
}

const truthy = (v: Val) => v !== null && v !== false && v !== 0 && v !== '';
const str = (v: Val) => (v === null ? null : Array.isArray(v) ? null : String(v));

function compileBinary(n: Node, where: string): Fn {
  const op = String(n.operator).toUpperCase();
  const leftNode = n.left as Node;
  const rightNode = n.right as Node;
  if (op === 'AND' || op === 'OR') {
    const l = compile(leftNode, where);
    const r = compile(rightNode, where);
    return op === 'AND' ? (c) => truthy(l(c)) && truthy(r(c)) : (c) => truthy(l(c)) || truthy(r(c));
  }
  const l = compile(leftNode, where);
  const onText = isTextLike(leftNode);
  switch (op) {
    case '=':
    case '!=':
    case '<>': {
      const r = compile(rightNode, where);
      const eq = (c: SqlContext) => {
        const a = l(c);
        const b = r(c);
        if (a === null || b === null) return false;
        const same = String(a) === String(b);
        if (same && onText && op === '=') c.evidence = [0, c.text.length];
        return same;
      };
      return op === '=' ? eq : (c) => !eq(c) && l(c) !== null && r(c) !== null;
    }
    case 'LIKE':
    case 'NOT LIKE':
    case 'ILIKE':
    case 'NOT ILIKE': {
      const ci = op.includes('ILIKE') || isIlikeMarker(rightNode);
      const patNode = isIlikeMarker(rightNode) ? args(rightNode)[0]! : rightNode;
      if (!['single_quote_string', 'string', 'double_quote_string'].includes(patNode.type ?? '')) {
        throw new SqlRuleError(`${where}: ${op} needs a string literal pattern`);
      }
      const pattern = String(patNode.value);
      const re = likeRegex(pattern, ci);
      const lit = likeLiterals(pattern)[0];
      const negate = op.startsWith('NOT');
      return (c) => {
        const s = str(l(c));
        if (s === null) return false;
        const hit = re.test(s);
        if (hit && !negate && onText) {
          const at = lit ? (ci ? c.text.toLowerCase().indexOf(lit.toLowerCase()) : c.text.indexOf(lit)) : -1;
          c.evidence = at >= 0 ? [at, at + lit!.length] : [0, c.text.length];
        }
        return negate ? !hit : hit;
      };
    }
    case 'IN':
    case 'NOT IN': {
      const r = compile(rightNode, where);
      return (c) => {
        const a = str(l(c));
        const list = r(c);
        if (a === null || !Array.isArray(list)) return false;
        const hit = list.some((v) => String(v) === a);
        return op === 'IN' ? hit : !hit;
      };
    }
    case 'IS':
    case 'IS NOT': {
      if (rightNode.type !== 'null') throw new SqlRuleError(`${where}: only IS [NOT] NULL is supported`);
      return op === 'IS' ? (c) => l(c) === null : (c) => l(c) !== null;
    }
    default:
      throw new SqlRuleError(`${where}: unsupported operator ${op}`);
  }
}

/** ILIKE reaches the BigQuery grammar as LIKE sentinel_ilike('pattern'); see parseSql. */
const ILIKE_MARKER = 'sentinel_ilike';
const isIlikeMarker = (n: Node) => n?.type === 'function' && functionName(n) === ILIKE_MARKER;

function compileFunction(n: Node, where: string): Fn {
  const name = functionName(n);
  const a = args(n);
  const need = (count: number) => {
    if (a.length !== count) throw new SqlRuleError(`${where}: ${name}() takes ${count} argument${count === 1 ? '' : 's'}, got ${a.length}`);
  };
  switch (name) {
    case 'lower':
    case 'upper': {
      need(1);
      const x = compile(a[0]!, where);
      return (c) => {
        const s = str(x(c));
        return s === null ? null : name === 'lower' ? s.toLowerCase() : s.toUpperCase();
      };
    }
    case 'concat': {
      const parts = a.map((p) => compile(p, where));
      return (c) => parts.map((p) => str(p(c)) ?? '').join('');
    }
    case 'length': {
      need(1);
      const x = compile(a[0]!, where);
      return (c) => str(x(c))?.length ?? null;
    }
    case 'match': {
      need(2);
      const pattern = a[1]!;
      if (!['single_quote_string', 'string'].includes(pattern.type ?? '')) throw new SqlRuleError(`${where}: match() needs a string literal pattern`);
      const re = compileRegex(String(pattern.value), where);
      const x = compile(a[0]!, where);
      const onText = isTextLike(a[0]!);
      return (c) => {
        const s = str(x(c));
        if (s === null) return false;
        re.lastIndex = 0;
        const m = re.exec(s);
        if (m && onText) c.evidence = [m.index, m.index + m[0].length];
        return m !== null;
      };
    }
    case 'multi_search_any': {
      need(2);
      const x = compile(a[0]!, where);
      const needles = compile(a[1]!, where);
      const onText = isTextLike(a[0]!);
      return (c) => {
        const s = str(x(c));
        const list = needles(c);
        if (s === null || !Array.isArray(list)) return false;
        for (const needle of list) {
          const at = s.indexOf(String(needle));
          if (at >= 0) {
            if (onText) c.evidence = [at, at + String(needle).length];
            return true;
          }
        }
        return false;
      };
    }
    case 'json_value':
    case 'json_extract_scalar':
    case 'json_extract_string': {
      need(2);
      const root = a[0]!;
      if (root.type !== 'column_ref' || !['raw', 'event'].includes(columnName(root).column.toLowerCase())) {
        throw new SqlRuleError(`${where}: ${name}() reads the raw event: its first argument must be raw or event`);
      }
      if (!['single_quote_string', 'string'].includes(a[1]!.type ?? '')) throw new SqlRuleError(`${where}: ${name}() needs a literal JSON path`);
      const path = jsonPath(String(a[1]!.value), where);
      return (c) => rawPath(c.event.raw, path);
    }
    default:
      throw new SqlRuleError(`${where}: unsupported function ${name}() (supported: lower, upper, concat, length, match, multi_search_any, json_value)`);
  }
}

/** Literals at least one of which must be in the text for the expression to hold; undefined when not known. */
function requiredAnchors(n: Node): string[] | undefined {
  if (n.type === 'binary_expr') {
    const op = String(n.operator).toUpperCase();
    const l = n.left as Node;
    const r = n.right as Node;
    if (op === 'AND') {
      const a = requiredAnchors(l);
      const b = requiredAnchors(r);
      if (a && b) return a.length <= b.length ? a : b;
      return a ?? b;
    }
    if (op === 'OR') {
      const a = requiredAnchors(l);
      const b = requiredAnchors(r);
      return a && b ? [...a, ...b] : undefined;
    }
    if (!isTextLike(l)) return undefined;
    if (op === '=' && ['single_quote_string', 'string'].includes(r.type ?? '')) return String(r.value) ? [String(r.value)] : undefined;
    if (op === 'LIKE' || op === 'ILIKE') {
      const pat = isIlikeMarker(r) ? args(r)[0] : r;
      const lit = likeLiterals(String(pat?.value ?? ''))[0];
      return lit && lit.length >= 3 ? [lit] : undefined;
    }
    return undefined;
  }
  if (n.type === 'function' && isTextLike(args(n)[0] ?? {})) {
    const name = functionName(n);
    const a = args(n);
    if (name === 'multi_search_any') {
      const items = ((a[1]?.array_path as { expr: Node }[]) ?? (a[1]?.value as Node[]) ?? []).map((i) => String((i as { expr?: Node }).expr?.value ?? (i as Node).value));
      return items.every((s) => s.length >= 2) && items.length ? items : undefined;
    }
    if (name === 'match') {
      const prefix = regexPrefix(String(a[1]?.value ?? ''));
      return prefix.length >= 3 ? [prefix] : undefined;
    }
  }
  return undefined;
}

/** Parses the SQL; ILIKE (absent from the BigQuery grammar) is rewritten to a marker the compiler knows. */
function parseSql(sql: string, where: string, cache: boolean): Node {
  // Rewrite `ILIKE '<pattern>'` outside string literals; the pattern must be a literal anyway.
  let rewritten = '';
  for (let i = 0; i < sql.length; ) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === ch && sql[j - 1] !== '\\')) j++;
      rewritten += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const m = /^ILIKE\s*('(?:[^'\\]|\\.)*')/i.exec(sql.slice(i));
    if (m && /[\s)]/.test(sql[i - 1] ?? ' ')) {
      rewritten += `LIKE ${ILIKE_MARKER}(${m[1]})`;
      i += m[0].length;
      continue;
    }
    rewritten += ch;
    i++;
  }
  let ast = cache ? cachedParse('sql', rewritten, sqlParserVersion()) : undefined;
  if (ast === undefined) {
    try {
      ast = sqlParser().astify(rewritten, { database: 'bigquery' });
    } catch (err) {
      const msg = (err as Error).message.replace(/^Expected .* but (.*) found\.?$/s, 'unexpected $1');
      throw new SqlRuleError(`${where}: SQL does not parse: ${msg}`);
    }
    if (cache) rememberParse('sql', rewritten, ast, sqlParserVersion());
  }
  const list = Array.isArray(ast) ? ast : [ast];
  if (list.length !== 1) throw new SqlRuleError(`${where}: one SELECT statement per rule`);
  return list[0] as Node;
}

/**
 * Compiles one `SELECT … FROM slack_events WHERE …` rule. With `cache`, for statements from rule
 * files (already on disk), the parse is kept in the parse cache; an operator's ad hoc condition,
 * which may quote a secret to look for, is not written anywhere.
 */
export function compileSql(sql: string, where: string, o: { cache?: boolean } = {}): CompiledSql {
  const ast = parseSql(sql, where, o.cache === true);
  if (ast.type !== 'select') throw new SqlRuleError(`${where}: only SELECT is supported, got ${String(ast.type).toUpperCase()}`);
  for (const [key, label] of [
    ['with', 'WITH'],
    ['groupby', 'GROUP BY'],
    ['having', 'HAVING'],
    ['orderby', 'ORDER BY'],
    ['limit', 'LIMIT'],
    ['window', 'WINDOW'],
    ['distinct', 'DISTINCT'],
    ['qualify', 'QUALIFY'],
  ] as const) {
    const v = ast[key] as unknown;
    const present = key === 'groupby' ? Boolean((v as { columns?: unknown[] } | null)?.columns?.length ?? v) : Boolean(v && (!Array.isArray(v) || v.length));
    if (present && !(key === 'limit' && !(v as { value?: unknown[] }).value?.length)) throw new SqlRuleError(`${where}: unsupported construct ${label}`);
  }
  const from = (ast.from as Node[] | null) ?? [];
  if (from.length !== 1 || (from[0] as Node).join || typeof from[0]!.table !== 'string') {
    throw new SqlRuleError(`${where}: FROM must name the one stream slack_events (no joins or subqueries)`);
  }
  if (String(from[0]!.table).toLowerCase() !== 'slack_events') throw new SqlRuleError(`${where}: unknown stream "${String(from[0]!.table)}" (rules read slack_events)`);

  const out: CompiledSql = { predicate: () => true, anchors: [] };
  for (const col of (ast.columns as { expr: Node; as: string | null }[]) ?? []) {
    const { expr, as } = col;
    if (expr.type === 'column_ref' && columnName(expr).column === '*') continue;
    const alias = (as ?? '').toLowerCase();
    if (alias === 'tp_action') out.actions = parseActions(constantString(expr, where, 'tp_action'), where);
    else if (alias === 'tp_message') out.message = messageTemplate(expr, where);
    else throw new SqlRuleError(`${where}: unsupported selected column${as ? ` "${as}"` : ''} (select *, a constant AS tp_action, a message AS tp_message)`);
  }
  if (ast.where) {
    const fn = compile(ast.where as Node, where);
    out.predicate = (c) => truthy(fn(c));
    out.anchors = (requiredAnchors(ast.where as Node) ?? []).map((a) => a.toLowerCase());
  }
  return out;
}

function constantString(n: Node, where: string, column: string): string {
  if (!['single_quote_string', 'string', 'double_quote_string'].includes(n.type ?? '')) throw new SqlRuleError(`${where}: ${column} must be a string constant`);
  return String(n.value);
}

function parseActions(value: string, where: string): Action[] {
  const actions = value.split(/[,\s]+/).filter(Boolean);
  for (const a of actions) {
    if (!ACTIONS.includes(a as Action)) throw new SqlRuleError(`${where}: tp_action "${a}" is not one of ${ACTIONS.join(', ')}`);
  }
  return actions as Action[];
}

/** tp_message: a string, or concat() of strings and the columns user_id/user, channel, ts, team. */
function messageTemplate(n: Node, where: string): string {
  const placeholder: Record<string, string> = { user: '{user}', user_id: '{user}', channel: '{channel}', channel_id: '{channel}', ts: '{ts}', team: '{team}', team_id: '{team}' };
  const part = (p: Node): string => {
    if (['single_quote_string', 'string', 'double_quote_string'].includes(p.type ?? '')) return String(p.value);
    if (p.type === 'column_ref') {
      const ph = placeholder[columnName(p).column.toLowerCase()];
      if (ph) return ph;
      throw new SqlRuleError(`${where}: tp_message may use user_id, channel, ts and team, not ${columnName(p).column}`);
    }
    throw new SqlRuleError(`${where}: tp_message must be a string or concat() of strings and columns`);
  };
  if (n.type === 'function' && functionName(n) === 'concat') return args(n).map(part).join('');
  return part(n);
}
