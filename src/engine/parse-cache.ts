/**
 * YAML rule files and SQL rules, parsed once per content. The shipped pack is about 500 KB of
 * YAML, its inline examples most of it: parsing it took 0.4-0.5 s at every start of every process
 * (most of a `sentinel scan` of a small file), where JSON.parse of the same data takes a few
 * milliseconds. Its SQL rules need the SQL parser, which takes about 70 ms to load.
 *
 * The data of a file that parsed without a YAML error, or the syntax tree of a SQL statement, is
 * kept as JSON, named by the SHA-256 of the kind and the text, in `<SENTINEL_HOME>/cache/rules/`
 * (SENTINEL_RULE_CACHE to put it elsewhere, `off` for none). Only the parse is cached: every load
 * still validates and compiles every rule, and a file with any problem is read again from its
 * YAML, so that the problems name their lines. One thing more follows from an entry: a YAML file is
 * kept only when all of its rules compiled, under a name that holds the RE2 version (load.ts), so
 * the regexes of a file found here are built on first use rather than at load. A cache that cannot
 * be read or written (a read-only image) is no error: the text is parsed as before.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sentinelHome } from '../paths';

/**
 * What is stored, per kind of text; bumped when that changes (the yaml library's toJS() output,
 * say). The SQL parser's version is part of its entries' names (sql.ts): a new one parses afresh.
 */
const FORMAT = { yaml: 'rules-yaml-v1', sql: 'rules-sql-v1' } as const;
export type ParseKind = keyof typeof FORMAT;

function cacheDir(): string | undefined {
  const setting = process.env.SENTINEL_RULE_CACHE;
  if (setting === 'off') return undefined;
  return setting || join(sentinelHome, 'cache', 'rules');
}

function entryOf(kind: ParseKind, text: string, version: string): string | undefined {
  const dir = cacheDir();
  if (!dir) return undefined;
  return join(dir, `${createHash('sha256').update(FORMAT[kind]).update('\0').update(version).update('\0').update(text).digest('hex')}.json`);
}

/** The parsed data of a text of this kind, exactly this text, if `version` of its parser parsed it before. */
export function cachedParse(kind: ParseKind, text: string, version = ''): unknown {
  const entry = entryOf(kind, text, version);
  if (!entry) return undefined;
  try {
    return JSON.parse(readFileSync(entry, 'utf8')) as unknown;
  } catch {
    return undefined; // not there yet, or unreadable: parse the YAML
  }
}

/**
 * Whether JSON keeps `value` as it is: strings, finite numbers, booleans, null, arrays and plain
 * objects. The data of a file with anything else (`.inf`, a timestamp read as a Date) is not cached.
 * A property whose value is undefined (the SQL parser leaves some) comes back missing, which reads
 * the same.
 */
function plain(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(plain);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) return Object.values(value).every((v) => v === undefined || plain(v));
  return false;
}

/** Keeps the parsed data of a text that parsed without errors. */
export function rememberParse(kind: ParseKind, text: string, data: unknown, version = ''): void {
  const entry = entryOf(kind, text, version);
  if (!entry || !plain(data)) return;
  try {
    mkdirSync(join(entry, '..'), { recursive: true });
    // Written whole, then renamed: a reader never sees half an entry.
    const tmp = `${entry}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(data));
    renameSync(tmp, entry);
  } catch {
    // A cache is an optimisation: a folder that cannot be written costs the parse next time, nothing else.
  }
}
