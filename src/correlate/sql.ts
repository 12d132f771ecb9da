/**
 * The SQL form of threshold rules, in the Proton style the source tutorial uses:
 *
 *   SELECT user_id, count() AS n FROM hop(slack_events, 1m, 10m)
 *   WHERE … GROUP BY user_id, window_start HAVING n >= 3
 *
 * `tumble(slack_events, 10m)` for a tumbling window; `count(DISTINCT channel)` to count distinct
 * values. Proton's hop(stream, hop_interval, window_size) and tumble(stream, window_size) window
 * functions, with window_start among the GROUP BY keys, are described at
 * https://docs.timeplus.com/functions_for_streaming (hop, tumble). The WHERE clause is a per-event
 * predicate compiled by the engine's SQL compiler (src/engine/sql.ts); this module reads the clauses
 * around it and lowers the whole onto the same model as the YAML form.
 */
import { compileSql, SqlRuleError, type SqlContext } from '../engine/sql';
import type { KeyKind } from './fact';

export interface ThresholdSql {
  by: KeyKind;
  windowMs: number;
  hopMs: number;
  count: number;
  distinct?: 'channel' | 'user' | 'file' | 'event_type' | 'team';
  where?: (c: SqlContext) => boolean;
}

/** GROUP BY / count(DISTINCT …) columns of slack_events, and the fact field each names. */
const KEY_COLUMNS: Record<string, KeyKind> = { user: 'user', user_id: 'user', channel: 'channel', channel_id: 'channel', team: 'team', team_id: 'team', file: 'file', file_id: 'file' };
const DISTINCT_COLUMNS: Record<string, NonNullable<ThresholdSql['distinct']>> = { ...KEY_COLUMNS, type: 'event_type', event_type: 'event_type' };

/** Splits `sql` at its top-level clause keywords (outside quotes and parentheses). */
function clauses(sql: string, where: string): Record<'select' | 'from' | 'where' | 'group' | 'having', string | undefined> {
  const marks: { name: 'select' | 'from' | 'where' | 'group' | 'having'; at: number; len: number }[] = [];
  let depth = 0;
  for (let i = 0; i < sql.length; i++) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === ch && sql[j - 1] !== '\\')) j++;
      i = j;
      continue;
    }
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    if (depth !== 0 || (i > 0 && /[A-Za-z0-9_]/.test(sql[i - 1]!))) continue;
    const m = /^(SELECT|FROM|WHERE|GROUP\s+BY|HAVING)\b/i.exec(sql.slice(i));
    if (m) {
      const name = m[1]!.toLowerCase().startsWith('group') ? 'group' : (m[1]!.toLowerCase() as 'select' | 'from' | 'where' | 'having');
      if (marks.some((k) => k.name === name)) throw new SqlRuleError(`${where}: ${m[1]!.toUpperCase()} appears twice (subqueries are not supported)`);
      marks.push({ name, at: i, len: m[0].length });
    }
  }
  const out: Record<string, string | undefined> = {};
  marks.forEach((k, n) => {
    out[k.name] = sql.slice(k.at + k.len, marks[n + 1]?.at ?? sql.length).trim().replace(/;\s*$/, '');
  });
  if (marks[0]?.name !== 'select' || marks[0].at !== sql.search(/\S/)) throw new SqlRuleError(`${where}: a threshold rule's SQL starts with SELECT`);
  const order = ['select', 'from', 'where', 'group', 'having'];
  const seen = marks.map((k) => order.indexOf(k.name));
  if (seen.some((v, i) => i > 0 && v < seen[i - 1]!)) throw new SqlRuleError(`${where}: clauses must come in the order SELECT, FROM, WHERE, GROUP BY, HAVING`);
  return out as ReturnType<typeof clauses>;
}

/** Proton's interval shorthand (10s, 1m, 2h, 1d) or INTERVAL n UNIT. */
function intervalMs(text: string, where: string): number {
  const t = text.trim();
  let m = /^(\d+)\s*(ms|s|m|h|d)$/i.exec(t);
  if (m) return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2]!.toLowerCase() as 'ms']!;
  m = /^INTERVAL\s+'?(\d+)'?\s+(SECOND|MINUTE|HOUR|DAY)S?$/i.exec(t);
  if (m) return Number(m[1]) * { SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 }[m[2]!.toUpperCase() as 'SECOND']!;
  throw new SqlRuleError(`${where}: cannot read the interval ${JSON.stringify(t)} (use 30s, 10m, 2h, 1d or INTERVAL 10 MINUTE)`);
}

/** count() / count(*) → undefined; count(DISTINCT col) → the column; anything else → null. */
function countOf(expr: string, where: string): { distinct?: ThresholdSql['distinct'] } | null {
  const m = /^count\s*\(\s*(\*|DISTINCT\s+([A-Za-z_][A-Za-z0-9_]*))?\s*\)$/i.exec(expr.trim());
  if (!m) return null;
  if (!m[2]) return {};
  const distinct = DISTINCT_COLUMNS[m[2].toLowerCase()];
  if (!distinct) throw new SqlRuleError(`${where}: count(DISTINCT ${m[2]}): can count distinct ${Object.keys(DISTINCT_COLUMNS).join(', ')}`);
  return { distinct };
}

/** Compiles a threshold rule's SQL. Errors name the construct and say what is supported. */
export function compileThresholdSql(sql: string, where: string): ThresholdSql {
  const c = clauses(sql, where);
  if (!c.from) throw new SqlRuleError(`${where}: FROM hop(slack_events, <hop>, <window>) or tumble(slack_events, <window>) is required`);
  const from = /^(hop|tumble)\s*\(\s*slack_events\s*,(.*)\)$/is.exec(c.from);
  if (!from) throw new SqlRuleError(`${where}: FROM must be hop(slack_events, <hop>, <window>) or tumble(slack_events, <window>), got ${JSON.stringify(c.from)}`);
  // An optional time column first (Proton's hop(stream, ts_col, hop, window)): only event time exists here.
  const params = from[2]!.split(',').map((s) => s.trim()).filter((s, i, all) => !(i === 0 && all.length === (from[1]!.toLowerCase() === 'hop' ? 3 : 2) && /^(_tp_time|event_time|ts)$/i.test(s)));
  const isHop = from[1]!.toLowerCase() === 'hop';
  if (params.length !== (isHop ? 2 : 1)) throw new SqlRuleError(`${where}: ${isHop ? 'hop(slack_events, <hop>, <window>)' : 'tumble(slack_events, <window>)'} takes ${isHop ? 'two intervals' : 'one interval'}`);
  const windowMs = intervalMs(params[isHop ? 1 : 0]!, where);
  const hopMs = isHop ? intervalMs(params[0]!, where) : windowMs;
  if (hopMs > windowMs) throw new SqlRuleError(`${where}: the hop (${params[0]}) is longer than the window (${params[1]})`);

  if (!c.group) throw new SqlRuleError(`${where}: GROUP BY <key>, window_start is required`);
  const groups = c.group.split(',').map((s) => s.trim().toLowerCase());
  if (!groups.includes('window_start')) throw new SqlRuleError(`${where}: GROUP BY must include window_start (one count per window)`);
  const keys = groups.filter((g) => g !== 'window_start');
  if (keys.length !== 1 || !KEY_COLUMNS[keys[0]!]) throw new SqlRuleError(`${where}: GROUP BY one key among ${Object.keys(KEY_COLUMNS).join(', ')}, and window_start`);
  const by = KEY_COLUMNS[keys[0]!]!;

  // SELECT <key>, count() AS n — the aliases HAVING may name.
  const aliases = new Map<string, string>();
  for (const col of (c.select ?? '').split(/,(?![^(]*\))/)) {
    const m = /^(.*?)(?:\s+AS\s+([A-Za-z_][A-Za-z0-9_]*))?$/is.exec(col.trim());
    if (m?.[2]) aliases.set(m[2].toLowerCase(), m[1]!.trim());
  }
  if (!c.having) throw new SqlRuleError(`${where}: HAVING count() >= <n> (or n >= <n> with count() AS n) is required`);
  const having = /^(.+?)\s*(>=|>)\s*(\d+)$/s.exec(c.having);
  if (!having) throw new SqlRuleError(`${where}: HAVING must compare the count with a number: HAVING n >= 3`);
  const counted = aliases.get(having[1]!.trim().toLowerCase()) ?? having[1]!;
  const count = countOf(counted, where);
  if (!count) throw new SqlRuleError(`${where}: HAVING must test count(), count(*) or count(DISTINCT <column>), got ${JSON.stringify(having[1])}`);
  const n = Number(having[3]) + (having[2] === '>' ? 1 : 0);

  const out: ThresholdSql = { by, windowMs, hopMs, count: n, ...(count.distinct ? { distinct: count.distinct } : {}) };
  if (c.where) out.where = compileSql(`SELECT * FROM slack_events WHERE ${c.where}`, where, { cache: true }).predicate;
  return out;
}
