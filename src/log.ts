/** Structured logging: one JSON object per line on stderr, so stdout stays free for command output. */

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  /** A logger that adds `fields` to every line it writes. */
  child(fields: Fields): Logger;
}

export interface LoggerOptions {
  level?: Level;
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
  fields?: Fields;
}

/** Errors become {name, message, type} so that a line never carries a stack of unknown content. */
function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const out: Fields = { name: value.name, message: value.message };
    const type = (value as { type?: unknown }).type;
    if (typeof type === 'string') out.type = type;
    if (value.cause !== undefined) out.cause = plain(value.cause);
    return out;
  }
  return value;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const min = order[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const base = options.fields ?? {};
  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (order[level] < min) return;
    const record: Fields = { time: new Date().toISOString(), level, msg, ...base };
    for (const [k, v] of Object.entries(fields ?? {})) record[k] = plain(v);
    write(JSON.stringify(record));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...options, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything; for tests that assert on behaviour, not on log lines. */
export const silentLogger: Logger = createLogger({ write: () => {} , level: 'error' });
