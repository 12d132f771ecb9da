/**
 * `sentinel backfill --since 7d [--channels C1,C2] [--dry-run] [--team T] [--restart]`: reads the
 * history still in Slack through the detector's own path. Sentinel keeps no chat of its own, so
 * Slack is where history comes from: conversations.list (https://api.slack.com/methods/conversations.list),
 * conversations.history (https://api.slack.com/methods/conversations.history) and, for threads,
 * conversations.replies (https://api.slack.com/methods/conversations.replies), each within its
 * budget (SlackBudgets) and honouring Retry-After.
 *
 * Without --dry-run each message is published to CHAT as the bridge would publish it (an
 * event_callback envelope on chat.slack.<team>.message, with a Nats-Msg-Id per message), and the
 * detectors take it from there. With --dry-run the same normalize() and decide() run here and what
 * would become an incident is printed (rule, channel, ts, redacted excerpt), starting nothing.
 *
 * Progress is kept per channel in .sentinel/backfill/<team>.json after every page: a rerun continues
 * each channel from its cursor, within the window of the first run, and skips finished channels
 * (--restart forgets all of it). A dry run neither reads nor writes that file.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Writable } from 'node:stream';
import { ErrorCode, WebClient } from '@slack/web-api';
import type { NatsConnection } from 'nats';
import { BudgetExceeded, SlackBudgets } from '../../activities/slack-budget';
import { classifyHttpStatus, classifySlackError } from '../../activities/slack-failure';
import { ConfigError, loadConfig } from '../config';
import { fingerprinter } from '../crypto/fingerprint';
import { decide } from '../detector/decide';
import { formatProblem, loadRules } from '../engine/load';
import { MalformedEventError, normalize } from '../events/normalize';
import { connectNats } from '../nats/connect';
import { chatSubject, ensureChatStreams } from '../nats/streams';
import { sentinelHome } from '../paths';

export interface BackfillOptions {
  /** How far back: 30m, 12h, 7d, 2w, or a date (2024-05-01, ISO 8601). */
  since: string;
  /** Only these conversations (ids); default every public, private, group DM and DM the token sees. */
  channels?: string[];
  dryRun?: boolean;
  /** The workspace (Enterprise Grid: which one); default the token's own. */
  team?: string;
  /** Forget saved progress and start again. */
  restart?: boolean;
  rulesDir?: string;
  /** Environment to configure from; default process.env. */
  env?: NodeJS.ProcessEnv;
  stdout?: Writable;
  stderr?: Writable;
  /** Where progress files go; default .sentinel/backfill. */
  stateDir?: string;
  /** Stops after the page being read; progress is saved. */
  signal?: AbortSignal;
  /** Told after every message, for tests and embedding. */
  onProgress?: (p: BackfillProgress) => void;
  /** An open NATS connection to publish on (default: one from NATS_URL). */
  nc?: NatsConnection;
}

export interface BackfillProgress {
  channelsDone: number;
  channels: number;
  messages: number;
  findings: number;
  published: number;
  rateLimited: number;
}

/** A problem with what the user asked for (exit 2) or with Slack (exit 1), said so that they can act. */
export class BackfillError extends Error {
  override name = 'BackfillError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** A Slack refusal that retrying cannot fix: `code` is Slack's error. */
class SlackRefusal extends Error {
  override name = 'SlackRefusal';
  constructor(
    readonly method: string,
    readonly code: string,
  ) {
    super(`${method} answered ${code}`);
  }
}

/** Transient Slack failures in a row on one call before the backfill gives up (its progress is kept). */
const MAX_TRANSIENT_ATTEMPTS = 6;
/** 429s in a row on one call before giving up: Slack keeps saying wait. */
const MAX_RATE_LIMITED = 30;
const HISTORY_PAGE = 200;
/** Slack's published tiers for the methods backfill calls (conversations.list is Tier 2). */
const BACKFILL_BUDGETS = { 'conversations.list': 20 / 60, 'conversations.history': 50 / 60, 'conversations.replies': 50 / 60 };
const CONVERSATION_TYPES = 'public_channel,private_channel,mpim,im';

interface ChannelState {
  cursor?: string;
  done: boolean;
  messages: number;
  findings: number;
}

interface BackfillState {
  v: 1;
  team: string;
  /** The window every channel is read in, Slack ts seconds: fixed by the first run so that cursors stay valid. */
  oldest: string;
  latest: string;
  startedAt: string;
  channels: Record<string, ChannelState>;
}

interface Conversation {
  id: string;
  name: string;
  channelType: 'channel' | 'group' | 'im' | 'mpim';
  external: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Milliseconds since epoch of `--since`: a duration back from `now`, or a date. */
export function parseSince(since: string, now = Date.now()): number {
  const d = /^(\d+)(m|h|d|w)$/.exec(since.trim());
  if (d) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 }[d[2] as 'm' | 'h' | 'd' | 'w'];
    const n = Number(d[1]);
    if (n <= 0) throw new BackfillError(`--since ${since}: the duration must be more than zero`, 2);
    return now - n * unit;
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(since.trim())) {
    const at = Date.parse(since.trim());
    if (Number.isFinite(at)) {
      if (at >= now) throw new BackfillError(`--since ${since} is in the future: give a date in the past, or a duration such as 7d`, 2);
      return at;
    }
  }
  throw new BackfillError(`--since takes a duration back from now (30m, 12h, 7d, 2w) or a date (2024-05-01, 2024-05-01T09:00:00Z), not ${JSON.stringify(since)}`, 2);
}

const tsOf = (ms: number) => (ms / 1000).toFixed(6);

/** Runs the backfill; resolves to the exit code. */
export async function backfill(o: BackfillOptions): Promise<number> {
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const config = loadConfig(o.env ?? process.env);
  const startedAt = Date.now();
  const since = parseSince(o.since, startedAt);
  if (o.team !== undefined && !/^[TE][A-Z0-9]{2,}$/.test(o.team)) throw new BackfillError(`--team takes a Slack team id such as T0123ABCD, not ${JSON.stringify(o.team)}`, 2);
  for (const c of o.channels ?? []) {
    if (!/^[CGD][A-Z0-9]{2,}$/.test(c)) throw new BackfillError(`--channels takes conversation ids such as C0123ABCD, comma separated; ${JSON.stringify(c)} is not one`, 2);
  }
  const token = config.slack.adminToken ?? config.slack.botToken;
  if (!token) {
    throw new ConfigError(
      'SLACK_ADMIN_TOKEN (or SLACK_BOT_TOKEN) is not set: backfill reads history through conversations.list, conversations.history and conversations.replies, ' +
        'which need a token with channels:history, groups:history, im:history and mpim:history (and the matching :read scopes)',
    );
  }
  const rulesDir = o.rulesDir ?? config.rulesDir;
  const rules = loadRules(rulesDir);
  if (rules.problems.length || rules.active.length === 0) {
    for (const p of rules.problems) err.write(`rules: ${formatProblem(p)}\n`);
    if (rules.active.length === 0) err.write(`rules: no enabled rules in ${rulesDir}\n`);
    return 2;
  }
  const fingerprint = fingerprinter(config.fingerprintKey ?? randomBytes(32));
  const budgets = new SlackBudgets({ ...BACKFILL_BUDGETS, ...config.slack.budgets });
  const slack = new WebClient(token, { slackApiUrl: config.slack.apiUrl, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true, timeout: 30_000 });
  const progress: BackfillProgress = { channelsDone: 0, channels: 0, messages: 0, findings: 0, published: 0, rateLimited: 0 };

  /** One Web API call within its budget: 429s wait Retry-After, transient failures back off, refusals throw SlackRefusal. */
  const call = async <T>(method: string, fn: () => Promise<T>): Promise<T> => {
    let transient = 0;
    let limited = 0;
    for (;;) {
      try {
        await budgets.acquire(method);
      } catch (e) {
        if (!(e instanceof BudgetExceeded)) throw e;
        await sleep(e.waitMs);
        continue;
      }
      try {
        return await fn();
      } catch (e) {
        const x = e as { code?: unknown; retryAfter?: number; statusCode?: number; data?: { error?: string }; original?: Error; message?: string };
        if (x.code === ErrorCode.RateLimitedError) {
          progress.rateLimited += 1;
          budgets.rateLimited(method, x.retryAfter ?? 1);
          if (++limited >= MAX_RATE_LIMITED) throw new BackfillError(`${method} is still rate limited after ${limited} tries; progress is saved, run the same command again later`);
          continue;
        }
        let reason: string;
        if (x.code === ErrorCode.PlatformError) {
          const code = x.data?.error ?? 'unknown_error';
          if (classifySlackError(code) === 'permanent') throw new SlackRefusal(method, code);
          reason = code;
        } else if (x.code === ErrorCode.HTTPError) {
          if (classifyHttpStatus(x.statusCode ?? 500) === 'permanent') throw new SlackRefusal(method, `HTTP ${x.statusCode}`);
          reason = `HTTP ${x.statusCode}`;
        } else {
          reason = x.original?.message ?? x.message ?? String(e);
        }
        if (++transient >= MAX_TRANSIENT_ATTEMPTS) throw new BackfillError(`${method} keeps failing (${reason}) after ${transient} tries; progress is saved, run the same command again to continue`);
        await sleep(Math.min(10_000, 500 * 2 ** transient));
      }
    }
  };

  let team: string;
  try {
    const me = await call('auth.test', () => slack.auth.test());
    team = o.team ?? String(me.team_id);
  } catch (e) {
    if (e instanceof SlackRefusal) throw new BackfillError(`Slack refused the token (${e.code}) at ${config.slack.apiUrl}: check SLACK_ADMIN_TOKEN / SLACK_BOT_TOKEN`, 2);
    throw e;
  }

  // Every conversation the token can see, then the ones asked for.
  const all: Conversation[] = [];
  try {
    let cursor: string | undefined;
    do {
      const page = await call('conversations.list', () =>
        slack.conversations.list({ types: CONVERSATION_TYPES, limit: 200, exclude_archived: false, ...(cursor ? { cursor } : {}), ...(o.team ? { team_id: o.team } : {}) }),
      );
      for (const c of page.channels ?? []) {
        if (!c.id) continue;
        const channelType = c.is_im ? 'im' : c.is_mpim ? 'mpim' : c.is_private || c.is_group ? 'group' : 'channel';
        all.push({ id: c.id, name: c.name ?? (c as { user?: string }).user ?? c.id, channelType, external: c.is_ext_shared === true });
      }
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
  } catch (e) {
    if (e instanceof SlackRefusal) throw new BackfillError(`cannot list conversations: ${e.message} (the token needs channels:read, groups:read, im:read and mpim:read)`);
    throw e;
  }
  let conversations = all;
  if (o.channels?.length) {
    const byId = new Map(all.map((c) => [c.id, c]));
    const unknown = o.channels.filter((c) => !byId.has(c));
    if (unknown.length) {
      throw new BackfillError(`unknown channel${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}: not among the ${all.length} conversations this token can see in ${team} (is the app a member?)`, 2);
    }
    conversations = o.channels.map((c) => byId.get(c)!);
  }

  // Saved progress (publishing runs only): the first run's window, each channel's cursor.
  const statePath = join(o.stateDir ?? join(sentinelHome, 'backfill'), `${team}.json`);
  let state: BackfillState = { v: 1, team, oldest: tsOf(since), latest: tsOf(startedAt), startedAt: new Date(startedAt).toISOString(), channels: {} };
  if (!o.dryRun && !o.restart) {
    const saved = readState(statePath);
    if (saved) {
      state = saved;
      err.write(`backfill: continuing the backfill of ${saved.startedAt} (messages from ${isoOf(saved.oldest)} to ${isoOf(saved.latest)}); --restart to begin again\n`);
    }
  }
  const save = () => {
    if (!o.dryRun) writeState(statePath, state);
  };

  let nc = o.nc;
  const ownNc = !o.dryRun && !nc;
  if (!o.dryRun) {
    nc ??= await connectNats(config.nats, 'sentinel-backfill');
    await ensureChatStreams(await nc.jetstreamManager());
  }
  const js = nc?.jetstream();
  const subject = chatSubject('slack', team, 'message');
  const tty = (err as { isTTY?: boolean }).isTTY === true;
  let current = '';
  const show = (final = false) => {
    const line = `backfill: ${progress.channelsDone}/${progress.channels} channels · ${progress.messages.toLocaleString('en-US')} messages · ${progress.findings} findings${progress.rateLimited ? ` · ${progress.rateLimited} rate-limited calls waited out` : ''}${current && !final ? ` · ${current}` : ''}`;
    if (tty) err.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
    else if (final) err.write(`${line}\n`);
  };
  let lastShown = 0;

  /** One message through the detector's path: normalize, decide; then publish it, or print what it would open. */
  const handle = async (conv: Conversation, message: Json, cs: ChannelState): Promise<void> => {
    const ts = typeof message.ts === 'string' ? message.ts : '';
    const eventId = `backfill.${conv.id}.${ts}`;
    const envelope = {
      type: 'event_callback',
      team_id: team,
      api_app_id: 'sentinel-backfill',
      event_id: eventId,
      event_time: Math.floor(Number(ts)) || Math.floor(Date.now() / 1000),
      ...(conv.external ? { is_ext_shared_channel: true } : {}),
      event: { ...message, type: 'message', channel: conv.id, channel_type: conv.channelType, team },
    };
    const data = new TextEncoder().encode(JSON.stringify(envelope));
    progress.messages += 1;
    cs.messages += 1;
    let found = 0;
    try {
      const n = normalize(subject, data);
      if (n.kind === 'event') {
        const incidents = decide(n.event, rules, { fingerprint });
        found = incidents.length;
        if (o.dryRun) {
          for (const i of incidents) out.write(`${i.rule.id}\t#${conv.name} (${conv.id})\t${i.ts}\t${i.user}\t${i.rule.severity}\t${i.match.excerpt}\n`);
        }
      }
    } catch (e) {
      if (!(e instanceof MalformedEventError)) throw e;
      // The detector would dead-letter it; published, it goes the same way.
    }
    progress.findings += found;
    cs.findings += found;
    if (!o.dryRun && js) {
      // The Nats-Msg-Id makes a message published twice (a rerun within CHAT's duplicate window) one event.
      await js.publish(subject, data, { msgID: eventId, timeout: 10_000 });
      progress.published += 1;
    }
    o.onProgress?.({ ...progress });
    if (tty && Date.now() - lastShown > 200) {
      lastShown = Date.now();
      show();
    }
  };

  progress.channels = conversations.length;
  progress.channelsDone = conversations.filter((c) => state.channels[c.id]?.done).length;
  const skipped: string[] = [];
  try {
    for (const conv of conversations) {
      const cs = (state.channels[conv.id] ??= { done: false, messages: 0, findings: 0 });
      if (cs.done) continue;
      current = `#${conv.name}`;
      show();
      try {
        for (;;) {
          if (o.signal?.aborted) break;
          const page = await call('conversations.history', () =>
            slack.conversations.history({ channel: conv.id, oldest: state.oldest, latest: state.latest, limit: HISTORY_PAGE, ...(cs.cursor ? { cursor: cs.cursor } : {}) }),
          );
          for (const m of (page.messages ?? []) as Json[]) {
            await handle(conv, m, cs);
            if (typeof m.reply_count === 'number' && m.reply_count > 0 && typeof m.ts === 'string') await readThread(conv, m.ts, cs);
          }
          const next = page.response_metadata?.next_cursor || undefined;
          if (next) cs.cursor = next;
          else {
            delete cs.cursor;
            cs.done = true;
            progress.channelsDone += 1;
          }
          save();
          if (cs.done) break;
        }
      } catch (e) {
        if (!(e instanceof SlackRefusal)) throw e;
        // This conversation only (not_in_channel, channel_not_found…): say so and go on with the others.
        skipped.push(`#${conv.name} (${conv.id}): ${e.code}`);
        save();
      }
      if (o.signal?.aborted) break;
    }
  } finally {
    current = '';
    show(true);
    if (ownNc) await nc?.drain();
  }

  async function readThread(conv: Conversation, ts: string, cs: ChannelState): Promise<void> {
    let cursor: string | undefined;
    do {
      const page = await call('conversations.replies', () =>
        slack.conversations.replies({ channel: conv.id, ts, oldest: state.oldest, latest: state.latest, limit: HISTORY_PAGE, ...(cursor ? { cursor } : {}) }),
      );
      // The parent comes first on every thread read; history has already handled it.
      for (const r of (page.messages ?? []) as Json[]) if (r.ts !== ts) await handle(conv, r, cs);
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
  }

  for (const s of skipped) err.write(`backfill: skipped ${s}\n`);
  if (o.signal?.aborted) {
    err.write(`backfill: stopped; ${o.dryRun ? 'a dry run keeps no progress' : `progress saved in ${statePath}: run the same command again to continue`}\n`);
    return 130;
  }
  const tail = o.dryRun ? 'dry run: nothing was published and no incident started' : `${progress.published.toLocaleString('en-US')} messages published to CHAT for the detectors`;
  err.write(`backfill: done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s; ${tail}\n`);
  return skipped.length ? 1 : 0;
}

function isoOf(ts: string): string {
  return new Date(Number(ts) * 1000).toISOString();
}

function readState(path: string): BackfillState | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as BackfillState;
    if (s.v !== 1 || typeof s.oldest !== 'string' || typeof s.latest !== 'string' || !isObject(s.channels)) throw new Error('unknown format');
    return s;
  } catch (e) {
    throw new BackfillError(`cannot read the saved backfill progress ${path} (${(e as Error).message}): delete it or pass --restart`, 2);
  }
}

/** Written whole to a temporary file, then renamed: an interrupted write never leaves half a file. */
function writeState(path: string, state: BackfillState): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, path);
}
