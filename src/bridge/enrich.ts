/**
 * The file enricher: Slack's file events (file_shared, file_public, file_change, file_comment_added)
 * name a file by id only, so each is looked up with files.info (and its conversations with
 * conversations.info) before it reaches CHAT, where the detectors match its name, title and preview.
 *
 * Why in the bridge, after the event is stored, rather than in the detector: the detector is a
 * synchronous, pure, fast lane (one decide() per event, no IO until an incident starts), and any
 * number of detectors would each need a Slack token, a cache and Slack's budget for files.info.
 * Looking up inside the HTTP request would risk Slack's 3-second answer. So the bridge stores the
 * raw event in ENRICH (answering Slack at once), and this loop, in every bridge process, shares one
 * durable consumer on it: the lookup's retries are JetStream redeliveries (bounded, with backoff,
 * honouring Retry-After), a restart loses nothing, and the detectors see only complete events.
 *
 * Every event ends one way: published enriched to CHAT (same subject and Nats-Msg-Id as the bridge
 * would have used) and acked; or dead-lettered with its reason (file_not_found, a token without
 * files:read, still failing after maxAttempts) and terminated. Never dropped.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, type WebClient } from '@slack/web-api';
import { headers, type ConsumerMessages, type JetStreamClient, type JsMsg, type NatsConnection } from 'nats';
import { BudgetExceeded, SlackBudgets } from '../../activities/slack-budget';
import { classifyHttpStatus, classifySlackError } from '../../activities/slack-failure';
import type { ChannelKind } from '../engine/types';
import { parseJson } from '../events/json';
import type { FileEnrichment } from '../events/normalize';
import type { Logger } from '../log';
import { deadletterSubject } from '../nats/streams';
import { chatSubjectOf, ENRICH_STREAM, ENRICHER_CONSUMER, ensureEnrichStream } from './route';

export interface FileEnricherOptions {
  nc: NatsConnection;
  /** A Web API client with files:read and channels/groups/im/mpim:read (Slack's own retries off). */
  slack: WebClient;
  log: Logger;
  /** Per-method budgets (files.info is Tier 4, conversations.info Tier 3); default Slack's published tiers. */
  budgets?: SlackBudgets;
  /** Deliveries of one event before a lookup that keeps failing for now is dead-lettered; default 8. */
  maxAttempts?: number;
  /** Wait before the next attempt after a transient failure; default 1 s doubling to 30 s. */
  retryDelayMs?: (attempt: number) => number;
  /** Lookups in flight at once; default 8. */
  concurrency?: number;
}

export interface FileEnricherStats {
  enriched: number;
  deadlettered: number;
  retried: number;
}

/** How a lookup failed: `transient` comes back after `delayMs`, `permanent` is dead-lettered. */
class LookupError extends Error {
  override name = 'LookupError';
  constructor(
    message: string,
    readonly kind: 'transient' | 'permanent',
    readonly delayMs?: number,
    /** Slack's Retry-After or our budget: wait and call again, not a failed attempt. */
    readonly wait = false,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const ID = /^[A-Za-z0-9._-]{1,64}$/;

/** How long a conversation's kind is remembered, and how many are: kinds change rarely (a channel made private, or shared out). */
const KIND_TTL_MS = 10 * 60_000;
const KINDS_KEPT = 5000;
/** Conversations whose kinds are looked up for one event, at most (a file shared everywhere would cost a call each). */
const MAX_CHANNELS_PER_EVENT = 20;
/** 429s (or budget waits) sat out within one delivery before it counts as a failed attempt. */
const MAX_WAITS_PER_ATTEMPT = 5;

export function defaultEnrichRetryDelayMs(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, attempt - 1));
}

export class FileEnricher {
  readonly stats: FileEnricherStats = { enriched: 0, deadlettered: 0, retried: 0 };
  private readonly js: JetStreamClient;
  private readonly budgets: SlackBudgets;
  private readonly maxAttempts: number;
  private readonly retryDelay: (attempt: number) => number;
  private readonly limit: number;
  private readonly kinds = new Map<string, { kinds: ChannelKind[]; at: number }>();
  private readonly inFlight = new Set<Promise<void>>();
  private messages: ConsumerMessages | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly stopped = new AbortController();

  constructor(private readonly o: FileEnricherOptions) {
    this.js = o.nc.jetstream();
    this.budgets = o.budgets ?? new SlackBudgets({});
    this.maxAttempts = Math.max(1, o.maxAttempts ?? 8);
    this.retryDelay = o.retryDelayMs ?? defaultEnrichRetryDelayMs;
    this.limit = Math.max(1, o.concurrency ?? 8);
  }

  /** Makes sure ENRICH and its consumer exist, then consumes in the background until stop(). */
  async start(): Promise<this> {
    await ensureEnrichStream(await this.o.nc.jetstreamManager());
    this.running = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.messages?.close();
    await this.running;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        const consumer = await this.js.consumers.get(ENRICH_STREAM, ENRICHER_CONSUMER);
        const messages = await consumer.consume({ max_messages: 64 });
        this.messages = messages;
        if (this.stopping) await messages.close();
        for await (const m of messages) {
          while (this.inFlight.size >= this.limit) await Promise.race(this.inFlight);
          const task: Promise<void> = this.handle(m)
            .catch((err: unknown) => {
              this.o.log.error('file event could not be handled; it will come back', { subject: m.subject, seq: m.seq, error: err });
              m.nak(this.retryDelay(m.info.deliveryCount));
            })
            .finally(() => this.inFlight.delete(task));
          this.inFlight.add(task);
        }
        failures = 0;
      } catch (err) {
        failures += 1;
        this.o.log.error('enricher consume loop failed; re-creating it', { attempt: failures, error: err });
      }
      if (this.stopping) break;
      await sleep(defaultEnrichRetryDelayMs(failures), undefined, { signal: this.stopped.signal }).catch(() => undefined);
      if (!this.stopping) await ensureEnrichStream(await this.o.nc.jetstreamManager()).catch(() => undefined);
    }
  }

  /** One file event: look it up, publish it enriched to CHAT, ack; or retry later; or dead-letter. */
  private async handle(m: JsMsg): Promise<void> {
    const attempt = m.info.deliveryCount;
    let doc: Json;
    try {
      const parsed = parseJson(new TextDecoder().decode(m.data));
      if (!isObject(parsed) || !isObject(parsed.event)) throw new Error('not an event_callback with an "event" object');
      doc = parsed;
    } catch (err) {
      return this.deadletter(m, `file event is not usable: ${(err as Error).message}`);
    }
    const event = doc.event as Json;
    const fileId = str(event.file_id) ?? (isObject(event.file) ? str(event.file.id) : undefined);
    if (!fileId || !ID.test(fileId)) return this.deadletter(m, `${String(event.type)} names no file id (file_id)`);

    let enriched: Json | undefined;
    let waits = 0;
    while (!enriched) {
      try {
        enriched = await this.enrich(doc, event, fileId);
        continue;
      } catch (err) {
        const e = err instanceof LookupError ? err : new LookupError(`lookup failed: ${(err as Error)?.message ?? String(err)}`, 'transient');
        // Slack said "not now" (429) or our own budget is spent: wait it out here, holding the
        // message (working()), so that waiting does not use up the event's attempts.
        if (e.wait && waits < MAX_WAITS_PER_ATTEMPT && !this.stopping) {
          waits += 1;
          m.working();
          await sleep(e.delayMs ?? 1000, undefined, { signal: this.stopped.signal }).catch(() => undefined);
          continue;
        }
        return this.retryOrGiveUp(m, e, fileId, attempt);
      }
    }
    const eventId = str(doc.event_id);
    try {
      await this.js.publish(chatSubjectOf(m.subject), JSON.stringify(enriched), { ...(eventId ? { msgID: eventId } : {}), timeout: 5000 });
    } catch (err) {
      this.o.log.warn('could not store an enriched file event; will retry', { fileId, error: err });
      m.nak(this.retryDelay(attempt));
      return;
    }
    this.stats.enriched += 1;
    this.o.log.debug('file event enriched', { fileId, type: event.type, eventId });
    m.ack();
  }

  /** A lookup that failed: dead-lettered when it never can succeed or has had its attempts, else tried again later. */
  private async retryOrGiveUp(m: JsMsg, e: LookupError, fileId: string, attempt: number): Promise<void> {
    if (e.kind === 'permanent') return this.deadletter(m, e.message);
    if (attempt >= this.maxAttempts) return this.deadletter(m, `${e.message}; still failing after ${attempt} attempts`);
    const delay = e.delayMs ?? this.retryDelay(attempt);
    this.stats.retried += 1;
    this.o.log.warn('file lookup failed for now; will retry', { fileId, attempt, retryInMs: delay, reason: e.message });
    m.nak(delay);
  }

  /** The event with Slack's file object in `event.file`, and where it belongs in `sentinel_enrichment`. */
  private async enrich(doc: Json, event: Json, fileId: string): Promise<Json> {
    const answer = await this.call('files.info', () => this.o.slack.files.info({ file: fileId }));
    const file = answer.file;
    if (!isObject(file)) throw new LookupError(`files.info answered no file object for ${fileId}`, 'permanent');
    const place = placeEvent(event, file, doc);
    const channels = place.channel === undefined ? [] : event.type === 'file_shared' ? [place.channel] : conversationsOf(file, place.channel);
    const kinds = new Set<ChannelKind>();
    for (const c of channels.slice(0, MAX_CHANNELS_PER_EVENT)) for (const k of await this.kindsOf(c)) kinds.add(k);
    // The envelope tells for the event's own channel too (is_ext_shared_channel): Slack Connect either way.
    if (doc.is_ext_shared_channel === true && event.type === 'file_shared') kinds.add('external');
    const enrichment: FileEnrichment = {
      v: 1,
      ...(place.channel !== undefined ? { channel: place.channel } : {}),
      ...(place.ts !== undefined ? { ts: place.ts } : {}),
      user: place.user,
      channel_kinds: [...kinds],
    };
    return { ...doc, event: { ...event, file }, sentinel_enrichment: enrichment };
  }

  /** The kinds of a conversation (conversations.info, remembered for a while). */
  private async kindsOf(channel: string): Promise<ChannelKind[]> {
    const now = Date.now();
    const known = this.kinds.get(channel);
    if (known && now - known.at < KIND_TTL_MS) return known.kinds;
    const answer = await this.call('conversations.info', () => this.o.slack.conversations.info({ channel }));
    const c = isObject(answer.channel) ? answer.channel : {};
    const kinds: ChannelKind[] = [c.is_im === true ? 'im' : c.is_mpim === true ? 'mpim' : c.is_private === true || c.is_group === true ? 'private' : 'public'];
    if (c.is_ext_shared === true) kinds.push('external');
    if (this.kinds.size >= KINDS_KEPT) this.kinds.clear();
    this.kinds.set(channel, { kinds, at: now });
    return kinds;
  }

  /**
   * One Web API call within the method's budget, its failure classified: Slack's error table
   * (activities/slack-failure.ts) decides transient or permanent; a 429 comes back after Retry-After.
   */
  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      await this.budgets.acquire(method);
    } catch (err) {
      if (err instanceof BudgetExceeded) throw new LookupError(err.message, 'transient', err.waitMs, true);
      throw err;
    }
    try {
      return await fn();
    } catch (err) {
      throw classify(err, method, this.budgets);
    }
  }

  /** Sets the event aside with its reason (DEADLETTER, under its CHAT subject), then terminates it. */
  private async deadletter(m: JsMsg, reason: string): Promise<void> {
    const h = headers();
    h.set('Sentinel-Reason', reason);
    h.set('Sentinel-Subject', chatSubjectOf(m.subject));
    h.set('Sentinel-Stream-Seq', String(m.seq));
    try {
      await this.js.publish(deadletterSubject(chatSubjectOf(m.subject)), m.data, { headers: h, msgID: `deadletter-${ENRICH_STREAM}-${m.seq}` });
    } catch (err) {
      this.o.log.warn('could not dead-letter a file event; will retry', { subject: m.subject, seq: m.seq, error: err });
      m.nak(this.retryDelay(m.info.deliveryCount));
      return;
    }
    this.stats.deadlettered += 1;
    this.o.log.warn('file event dead-lettered', { subject: m.subject, seq: m.seq, reason });
    m.term();
  }
}

/** A Web API error as a LookupError that says whether to retry (and when, for a 429). */
function classify(err: unknown, method: string, budgets: SlackBudgets): LookupError {
  const e = err as { code?: unknown; retryAfter?: number; statusCode?: number; data?: { error?: string }; original?: Error; message?: string };
  switch (e?.code) {
    case ErrorCode.RateLimitedError: {
      const seconds = Math.max(1, e.retryAfter ?? 1);
      budgets.rateLimited(method, seconds);
      return new LookupError(`${method} was rate limited (Retry-After ${seconds}s)`, 'transient', seconds * 1000, true);
    }
    case ErrorCode.PlatformError: {
      const code = e.data?.error ?? 'unknown_error';
      return new LookupError(`${method} answered ${code}`, classifySlackError(code));
    }
    case ErrorCode.HTTPError:
      return new LookupError(`${method} answered HTTP ${e.statusCode}`, classifyHttpStatus(e.statusCode ?? 500));
    case ErrorCode.RequestError:
      return new LookupError(`${method} request failed: ${e.original?.message ?? 'network error'}`, 'transient');
    default:
      return new LookupError(`${method} failed: ${e?.message ?? String(err)}`, 'transient');
  }
}

interface Share {
  channel: string;
  ts: string;
  user: string | undefined;
  public: boolean;
}

/** The shares of a file as files.info lists them (shares.public / shares.private, per channel). */
function sharesOf(file: Json): Share[] {
  const out: Share[] = [];
  const shares = isObject(file.shares) ? file.shares : {};
  for (const [bucket, isPublic] of [
    ['public', true],
    ['private', false],
  ] as const) {
    const per = shares[bucket];
    if (!isObject(per)) continue;
    for (const [channel, list] of Object.entries(per)) {
      if (!Array.isArray(list)) continue;
      for (const s of list) if (isObject(s) && str(s.ts)) out.push({ channel, ts: s.ts as string, user: str(s.share_user_id), public: isPublic });
    }
  }
  return out.sort((a, b) => Number(b.ts) - Number(a.ts));
}

/** Every conversation the file is in: the one the event is placed in first. */
function conversationsOf(file: Json, first: string): string[] {
  const ids = new Set<string>([first]);
  for (const field of ['channels', 'groups', 'ims']) {
    const list = file[field];
    if (Array.isArray(list)) for (const c of list) if (typeof c === 'string' && ID.test(c)) ids.add(c);
  }
  for (const s of sharesOf(file)) if (ID.test(s.channel)) ids.add(s.channel);
  return [...ids];
}

/**
 * Where a file event belongs. A share (file_shared, file_public) is placed on its file_share
 * message: the same channel and ts the message event has, so both name one incident and deleting
 * it removes the share. A change or a comment has no message of its own: it is placed in the
 * file's latest share's channel, at the event's own ts.
 */
function placeEvent(event: Json, file: Json, doc: Json): { channel?: string; ts?: string; user: string } {
  const eventTs = str(event.event_ts) ?? (typeof doc.event_time === 'number' ? `${doc.event_time}.000000` : undefined);
  const comment = isObject(event.comment) ? event.comment : {};
  const user = str(event.user_id) ?? str(comment.user) ?? str(file.user) ?? 'unknown';
  const shares = sharesOf(file);
  switch (event.type) {
    case 'file_shared': {
      const channel = str(event.channel_id);
      const here = shares.filter((s) => s.channel === channel);
      const share = here.find((s) => s.user === user) ?? here[0];
      return { ...(channel ? { channel } : {}), ...(share?.ts ?? eventTs ? { ts: share?.ts ?? eventTs } : {}), user };
    }
    case 'file_public': {
      const share = shares.find((s) => s.public) ?? shares[0];
      return share ? { channel: share.channel, ts: share.ts, user } : { user };
    }
    default: {
      const share = shares[0];
      return share ? { channel: share.channel, ...(eventTs ? { ts: eventTs } : {}), user } : { user };
    }
  }
}
