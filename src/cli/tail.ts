/**
 * `sentinel tail [--where '<sql>'] [--json] [--limit N]`: events as they reach the detectors,
 * normalized, with what every rule said about each, redacted. The detectors send the records (see
 * src/detector/tail.ts for why the tail does not read CHAT itself); this command announces itself,
 * prints them, and counts them on Ctrl-C.
 */
import type { Writable } from 'node:stream';
import { loadConfig } from '../config';
import { compileTailWhere, TailWhereError, type TailRecord, type TailVerdict } from '../detector/tail';
import { connectNats } from '../nats/connect';
import { TailListener } from './tail-listen';

export interface TailOptions {
  where?: string;
  json?: boolean;
  /** Stop after this many events. */
  limit?: number;
  stdout?: Writable;
  stderr?: Writable;
  /** Stops the tail (the command wires SIGINT and SIGTERM to it). */
  signal?: AbortSignal;
}

/** How long before the tail says that no detector has answered. */
const NO_DETECTOR_WARNING_MS = 12_000;

/** `HH:MM:SS` (UTC) of a Slack ts. */
export function timeOf(ts: string): string {
  const seconds = Number(ts);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000).toISOString().slice(11, 19) : '--:--:--';
}

/** One verdict on a line: rule, severity, redacted value and redacted excerpt. */
export function formatVerdict(v: TailVerdict): string {
  return `${v.rule} [${v.severity}] ${v.redacted}${v.excerpt ? ` «${v.excerpt}»` : ''}`;
}

/** The columns every tail and try line starts with. */
export const LINE_HEADER = `${'TIME'.padEnd(8)}  ${'TEAM/CHANNEL (KIND)'.padEnd(34)}  ${'USER'.padEnd(11)}  ${'EVENT'.padEnd(15)}  RULES`;

/** One event on one line: time, team/channel (kind), user, event type, then the verdicts or `clean`. */
export function formatLine(r: Pick<TailRecord, 'ts' | 'team' | 'channel' | 'channelKinds' | 'user' | 'eventType'>, verdicts: TailVerdict[]): string {
  const where = `${r.team || '-'}/${r.channel} (${r.channelKinds.length ? r.channelKinds.join(',') : '?'})`;
  const said = verdicts.length ? verdicts.map(formatVerdict).join('; ') : 'clean';
  return `${timeOf(r.ts)}  ${where.padEnd(34)}  ${r.user.padEnd(11)}  ${r.eventType.padEnd(15)}  ${said}`;
}

/** Exit code: 0 when stopped (Ctrl-C, --limit), 2 for a bad --where or --limit. */
export async function tail(o: TailOptions): Promise<number> {
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  if (o.where !== undefined) {
    try {
      compileTailWhere(o.where);
    } catch (e) {
      if (!(e instanceof TailWhereError)) throw e;
      err.write(`sentinel tail: ${e.message}\n`);
      return 2;
    }
  }
  const config = loadConfig();
  const nc = await connectNats(config.nats, 'sentinel-tail');
  // Summary lines go where they do not spoil JSON Lines.
  const info = o.json ? err : out;
  const started = Date.now();
  let events = 0;
  let flagged = 0;
  let dropped = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  o.signal?.addEventListener('abort', () => done(), { once: true });
  if (o.signal?.aborted) done();

  const listener = new TailListener({
    nc,
    ...(o.where !== undefined ? { where: o.where } : {}),
    onJoined: (j) => {
      err.write(`detector ${j.detector} is sending events${j.problems.length ? `, with problems: ${j.problems.join('; ')}` : ''}\n`);
    },
    onRecord: (r) => {
      if (o.limit !== undefined && events >= o.limit) return;
      events += 1;
      if (r.findings.length) flagged += 1;
      dropped += r.dropped ?? 0;
      out.write(o.json ? JSON.stringify(r) + '\n' : formatLine(r, r.findings) + '\n');
      if (o.limit !== undefined && events >= o.limit) done();
    },
  });
  info.write(`tailing events as the detectors decide them${o.where !== undefined ? `, where ${o.where}` : ''} (times UTC; Ctrl-C to stop)\n`);
  if (!o.json) out.write(LINE_HEADER + '\n');
  await listener.start();
  const quiet = setTimeout(() => {
    if (listener.detectors.size === 0) err.write(`no detector has answered in ${NO_DETECTOR_WARNING_MS / 1000} s: is one running against NATS_URL=${config.nats.servers.join(',')}?\n`);
  }, NO_DETECTOR_WARNING_MS);
  try {
    await finished;
  } finally {
    clearTimeout(quiet);
    await listener.stop();
    await nc.drain().catch(() => undefined);
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  info.write(
    `${events} events in ${seconds} s: ${flagged} with findings, ${events - flagged} clean; ${listener.detectors.size} detector${listener.detectors.size === 1 ? '' : 's'}` +
      (dropped ? `; ${dropped} more not sent (over the detectors' bound of records per second)` : '') +
      '\n',
  );
  return 0;
}

/** Runs `fn` with an AbortSignal that SIGINT or SIGTERM fires (the first one; a second ends the process as usual). */
export async function untilInterrupted<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
