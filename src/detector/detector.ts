/**
 * The detector: consume CHAT through the shared durable consumer, decide which incidents each event
 * opens, start them, then ack. Stateless per process; run as many as needed.
 *
 * Every message ends one of four ways, and only here: ack (handled), nak with backoff (a transient
 * failure: Temporal unreachable or overloaded), dead-letter then term (malformed input, an engine
 * error, a start that can never succeed — each with its reason, logged), or redelivery after
 * ack_wait if this process dies. A slow start keeps its message with working().
 *
 * Two lanes. The consume loop is a synchronous callback: it normalizes and decides each event and
 * acks the ones that open no incident (nearly all of them), with no promise, timer or log record
 * per message; their acks leave together at the end of the event loop's turn (ackSoon). An event
 * that opens incidents, or has to be dead-lettered, goes to the start pool: at most `concurrency`
 * of them in flight at once, each started, then acked, nak'd or dead-lettered there. While the pool
 * is full the loop waits: messages that arrive meanwhile are held, in order, and handled as slots
 * free up. What a detector holds is bounded by the consumer's max_ack_pending (JetStream delivers
 * no more unacked messages than that) and, whatever that is set to, by HELD_PER_PULL pulls' worth:
 * past it, arrivals go straight back to JetStream.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { headers, type ConsumerMessages, type ConsumerStatus, type JetStreamClient, type JsMsg, type NatsConnection } from 'nats';
import type { Client } from '@temporalio/client';
import type { IncidentInput } from '../../contract';
import { QuarantineError, quarantineVault, type QuarantinedMessage, type QuarantineVault } from '../../activities/quarantine-vault';
import type { CompiledRules } from '../engine/engine';
import type { ChatEvent } from '../engine/types';
import { MalformedEventError } from '../events/normalize';
import { startIncident, TransientStartError } from '../incidents/start';
import type { Logger } from '../log';
import { CHAT_STREAM, DETECTOR_ACK_WAIT_MS, DETECTOR_CONSUMER, deadletterSubject, ensureChatStreams } from '../nats/streams';
import { missingSearchAttributes, NamespaceSetupError, setupHint } from '../temporal/search-attributes';
import { decide, type DecideOptions } from './decide';
import { EventParser } from './parse';
import { pendingFact, publishFact, type FactSettings, type PendingFact } from './facts';
import { DetectorTail } from './tail';

export interface DetectorOptions {
  nc: NatsConnection;
  temporal: Client;
  taskQueue: string;
  /** The current rules; a function so that hot reload can swap them between messages. */
  rules: () => CompiledRules;
  /** The HMAC fingerprint of a matched value; incidents carry it instead of the value. */
  fingerprint: (value: string) => string;
  log: Logger;
  /**
   * Events with findings (incident starts) and dead-letters in flight at once; default 16. Events
   * that open no incident are handled in the consume loop and do not count.
   */
  concurrency?: number;
  /** Layers of encoding the rules look inside; default the engine's (2). */
  decodeDepth?: number;
  /** Pull settings of the consume loop; the defaults suit one or several detectors on one consumer. */
  pull?: PullSettings;
  /** Told about every incident start, for progress displays. */
  onIncident?: (e: { incidentId: string; ruleId: string; outcome: 'started' | 'exists' }) => void;
  /** Skip the start-up check of the namespace's search attributes (tests of what happens without it). */
  skipPreflight?: boolean;
  /** Publish the facts of events that satisfy stateful rules' steps to FACTS (facts.ts); off when absent. */
  facts?: FactSettings;
  /**
   * The quarantine retention (SENTINEL_QUARANTINE_RETENTION) for a QUARANTINE stream this detector
   * has to create itself (no worker has yet); default 30 days.
   */
  quarantineRetentionMs?: number;
}

export interface PullSettings {
  /** Messages asked for and not yet received, at most; default PULL_MAX_MESSAGES. */
  maxMessages?: number;
  /** Ask for more once no more than this many are still to come; default a quarter of maxMessages. */
  thresholdMessages?: number;
  /** How long one pull request waits at the server; default PULL_EXPIRES_MS (heartbeats at half of it). */
  expiresMs?: number;
}

export interface DetectorStats {
  handled: number;
  ignored: number;
  findings: number;
  started: number;
  alreadyStarted: number;
  deadlettered: number;
  retried: number;
  /** Times the consume loop was re-created after the consumer went away or stopped answering. */
  restarts: number;
  /** Most events in the start pool at once (never more than the concurrency). */
  peakInFlight: number;
  /** Most events held, waiting for room in the start pool, at once. */
  peakHeld: number;
  /** Events sent back to JetStream because the held queue was full; they come back after a second. */
  sentBack: number;
  /** Facts published to FACTS (events that satisfy a stateful rule's step). */
  facts?: number;
}

/** How long before a message that failed for a transient reason comes back: 1 s doubling to 30 s. */
export function retryDelayMs(redeliveries: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, redeliveries - 1));
}

/** The pause before pulling again from a consumer's new leader. */
const LEADER_CHANGE_PAUSE_MS = 100;

/** Consecutive missed heartbeats after which the pull is given up and re-created. */
const HEARTBEATS_BEFORE_RESTART = 3;

/**
 * Messages one detector asks for ahead; it asks for more when a quarter is left. Large enough that
 * the server streams while the loop works and the next pull goes out long before the last message
 * arrives; small enough that two detectors together ask for about the consumer's max_ack_pending
 * (1000) and share a backlog. 128 to 1024 measured alike within noise; 512 was a little ahead.
 */
export const PULL_MAX_MESSAGES = 512;
/** A pull request lives this long at the server when there is nothing to deliver; heartbeats come every half of it. */
export const PULL_EXPIRES_MS = 30_000;
/** The held queue's bound, in pulls' worth (maxMessages): past it, arrivals are nak'd back to JetStream. */
const HELD_PER_PULL = 4;
/** A message sent back because the held queue is full comes back after this. */
const OVERFLOW_DELAY_MS = 1000;

/** What the start pool does with one event. */
type Job = { kind: 'start'; incidents: IncidentInput[]; fact?: PendingFact | undefined; copies?: QuarantinedMessage[] } | { kind: 'deadletter'; reason: string; level: 'warn' | 'error' };

/** The text of the message itself (an edit's new text), without the file names rules also match. */
function messageText(event: ChatEvent): string {
  const raw = event.raw as { text?: unknown; subtype?: unknown; message?: { text?: unknown } } | undefined;
  const text = raw?.subtype === 'message_changed' ? raw.message?.text : raw?.text;
  return typeof text === 'string' ? text : event.text;
}

/**
 * The sealed copies an event's incidents need before they start: one per incident whose rule
 * quarantines a Slack message. Nothing for the others (no text leaves the detector for them).
 */
function quarantineCopies(event: ChatEvent, incidents: IncidentInput[]): QuarantinedMessage[] | undefined {
  const held = incidents.filter((i) => i.source === 'slack' && i.rule.actions.includes('quarantine'));
  if (held.length === 0) return undefined;
  const text = messageText(event);
  return held.map((i) => ({ v: 1, incidentId: i.incidentId, team: i.team, channel: i.channel, user: i.user, ts: i.ts, text }));
}

export class Detector {
  readonly stats: DetectorStats = { handled: 0, ignored: 0, findings: 0, started: 0, alreadyStarted: 0, deadlettered: 0, retried: 0, restarts: 0, peakInFlight: 0, peakHeld: 0, sentBack: 0 };
  private readonly js: JetStreamClient;
  private stopping = false;
  private messages: ConsumerMessages | undefined;
  private live = false;
  /** Set when the consume loop was ended because the consumer changed leader (no back-off then). */
  private leaderChanged = false;
  /** Incidents started (or found started) per rule, for metrics. */
  readonly findingsByRule = new Map<string, number>();
  private readonly stopped = new AbortController();
  private readonly limit: number;
  private readonly maxMessages: number;
  private readonly thresholdMessages: number;
  private readonly expiresMs: number;
  private readonly maxHeld: number;
  private readonly parser = new EventParser();
  /** Operators' `sentinel tail` / `rules try` listeners (tail.ts): one boolean check per event while none listens. */
  private readonly tail: DetectorTail;
  private readonly decideOptions: DecideOptions;
  /** Where quarantined messages' sealed copies are kept for review. */
  private readonly vault: QuarantineVault;
  /** Whether the logger writes debug lines: per-event debug records are built only then. */
  private readonly debug: boolean;
  /** The start pool: its tasks, and the messages they hold (kept alive with working()). */
  private readonly inFlight = new Set<Promise<void>>();
  private readonly inPool = new Set<JsMsg>();
  /** Messages that arrived while the pool was full, oldest first, from `heldHead` on. */
  private held: (JsMsg | undefined)[] = [];
  private heldHead = 0;
  private keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Acks of the fast path, sent together once per turn of the event loop (see ackSoon). */
  private acks: JsMsg[] = [];
  private acksScheduled = false;

  constructor(private readonly o: DetectorOptions) {
    this.js = o.nc.jetstream();
    this.limit = Math.max(1, o.concurrency ?? 16);
    this.maxMessages = Math.max(1, o.pull?.maxMessages ?? PULL_MAX_MESSAGES);
    this.thresholdMessages = Math.max(0, Math.min(this.maxMessages - 1, o.pull?.thresholdMessages ?? Math.floor(this.maxMessages / 4)));
    this.expiresMs = o.pull?.expiresMs ?? PULL_EXPIRES_MS;
    this.maxHeld = HELD_PER_PULL * this.maxMessages;
    this.decideOptions = { fingerprint: o.fingerprint, ...(o.decodeDepth !== undefined ? { decodeDepth: o.decodeDepth } : {}) };
    this.debug = writesDebug(o.log);
    this.tail = new DetectorTail(o.nc, o.log);
    // Sealed with the codecs of the Temporal client's data converter: the payload codec of every workflow payload.
    this.vault = quarantineVault(o.nc, o.temporal.options.loadedDataConverter.payloadCodecs, o.quarantineRetentionMs !== undefined ? { retentionMs: o.quarantineRetentionMs } : {});
  }

  /**
   * Refuses to start against a namespace whose incidents could never start: every start would fail
   * with INVALID_ARGUMENT and every leak would be dead-lettered. Says what to run instead.
   */
  async preflight(): Promise<void> {
    const namespace = this.o.temporal.options.namespace;
    let missing: string[];
    try {
      missing = await missingSearchAttributes(this.o.temporal.connection, namespace);
    } catch (err) {
      if (err instanceof NamespaceSetupError) throw err;
      // The operator API may be closed to these credentials (a cloud namespace): starts will tell.
      this.o.log.warn('could not check the namespace for search attributes; incident starts will report it if they are missing', { namespace, error: err });
      return;
    }
    if (missing.length > 0) {
      throw new NamespaceSetupError(`Temporal namespace "${namespace}" lacks Sentinel's search attributes ${missing.join(', ')}, so no incident could start; ${setupHint(namespace)}`);
    }
  }

  /** Consumes until stop() is called. Streams and the consumer must exist (ensureChatStreams). */
  async run(): Promise<void> {
    if (!this.o.skipPreflight) await this.preflight();
    this.o.log.info('detector consuming', { stream: CHAT_STREAM, consumer: DETECTOR_CONSUMER, concurrency: this.limit, maxMessages: this.maxMessages, thresholdMessages: this.thresholdMessages });
    // Messages in the pool or held for it are kept from redelivery: every third of ack_wait, one working() each.
    this.keepAlive = setInterval(() => this.stillWorking(), Math.floor(DETECTOR_ACK_WAIT_MS / 3));
    this.keepAlive.unref();
    this.tail.start();
    let failures = 0;
    try {
      while (!this.stopping) {
        try {
          await this.consume();
          failures = 0;
        } catch (err) {
          failures += 1;
          this.o.log.error('consume loop failed; re-creating it', { attempt: failures, error: err });
        }
        if (this.stopping) break;
        this.stats.restarts += 1;
        // Back off (up to 30 s) and make sure the consumer exists again: it may have been deleted.
        // After a leadership change the consumer is fine and its new leader is there: a short pause only.
        const leaderChanged = this.leaderChanged;
        this.leaderChanged = false;
        await sleep(leaderChanged ? LEADER_CHANGE_PAUSE_MS : retryDelayMs(failures), undefined, { signal: this.stopped.signal }).catch(() => undefined);
        if (this.stopping) break;
        if (!leaderChanged) await ensureChatStreams(await this.o.nc.jetstreamManager()).catch((err: unknown) => this.o.log.error('could not re-create the detector consumer', { error: err }));
      }
      await this.settle();
    } finally {
      clearInterval(this.keepAlive);
      this.tail.stop();
    }
  }

  /** One consume loop: returns when it ends (stop(), or the status watcher gave up on it). */
  private async consume(): Promise<void> {
    const consumer = await this.js.consumers.get(CHAT_STREAM, DETECTOR_CONSUMER);
    const messages = await consumer.consume({
      max_messages: this.maxMessages,
      threshold_messages: this.thresholdMessages,
      expires: this.expiresMs,
      callback: this.onMessage,
    });
    this.messages = messages;
    this.live = true;
    void this.watchStatus(messages);
    const elected = this.watchLeadership(messages);
    try {
      const err = await messages.closed();
      if (err) throw err;
    } finally {
      this.live = false;
      elected.unsubscribe();
    }
  }

  /**
   * On a cluster, the consumer's pull requests live on its leader only. When the leader's node dies
   * they die with it and the new leader knows nothing of them: nats.js would wait for missed
   * heartbeats (a minute or more) before asking again. The new leader announces itself with a
   * JetStream advisory (https://docs.nats.io/running-a-nats-service/nats_admin/monitoring/monitoring_jetstream#advisories);
   * on it, this consume loop ends and run() re-creates it, pulling from the new leader at once.
   */
  private watchLeadership(messages: ConsumerMessages): { unsubscribe(): void } {
    const restart = (why: string) => {
      if (this.stopping || this.leaderChanged) return;
      this.o.log.warn(why, { stream: CHAT_STREAM, consumer: DETECTOR_CONSUMER });
      this.leaderChanged = true;
      messages.stop();
    };
    const sub = this.o.nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.${CHAT_STREAM}.${DETECTOR_CONSUMER}`, {
      callback: (err) => {
        if (!err) restart('detector consumer has a new leader; pulling from it');
      },
    });
    // The node this process was connected to died: the advisory may have gone out while it was
    // reconnecting, and nats.js would retry its pull only after a back-off as long as the pull's expiry.
    const statuses = this.o.nc.status();
    void (async () => {
      for await (const st of statuses) if (st.type === 'reconnect') restart('reconnected to NATS; pulling again');
    })().catch(() => undefined);
    return {
      unsubscribe: () => {
        sub.unsubscribe();
        (statuses as { stop?: () => void }).stop?.();
      },
    };
  }

  /** Events in the start pool now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Events held for the start pool now. */
  get heldCount(): number {
    return this.held.length - this.heldHead;
  }

  /** Whether a consume loop is running now (readiness: not while it is being re-created, nor once stopping). */
  get consuming(): boolean {
    return this.live && !this.stopping;
  }

  /** Stops taking messages, hands back those held for the pool, and waits for the pool. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.messages?.close();
    await this.settle();
  }

  /** Sends the held messages back to JetStream (stopping) and waits until the pool is empty. */
  private async settle(): Promise<void> {
    this.flushAcks();
    for (let m = this.takeHeld(); m; m = this.takeHeld()) m.nak();
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /**
   * The consume loop, called by nats.js for each message as it is read from the socket. Must not
   * throw (nats.js would end the consume loop): whatever goes wrong is dealt with per message.
   */
  private readonly onMessage = (m: JsMsg): void => {
    if (this.stopping) {
      m.nak();
      return;
    }
    if (this.heldHead < this.held.length || this.inFlight.size >= this.limit) {
      this.hold(m);
      return;
    }
    try {
      this.handle(m);
    } catch (err) {
      this.toPool(m, { kind: 'deadletter', reason: `unexpected detector error: ${describe(err)}`, level: 'error' });
    }
  };

  /** Normalizes and decides; acks what opens no incident, passes the rest to the start pool. */
  private handle(m: JsMsg): void {
    let normalized;
    try {
      normalized = this.parser.parse(m.subject, m.data);
    } catch (err) {
      if (err instanceof MalformedEventError) return this.toPool(m, { kind: 'deadletter', reason: err.message, level: 'warn' });
      throw err;
    }
    if (normalized.kind === 'ignored') {
      this.stats.ignored += 1;
      this.stats.handled += 1;
      if (this.debug) this.o.log.debug('event ignored', { subject: m.subject, seq: m.seq, deliveries: m.info.deliveryCount, reason: normalized.reason });
      this.ackSoon(m);
      return;
    }
    let incidents: IncidentInput[];
    try {
      incidents = decide(normalized.event, this.o.rules(), this.decideOptions);
    } catch (err) {
      // An engine bug: the same event would fail the same way forever. Keep it aside, say so loudly.
      return this.toPool(m, { kind: 'deadletter', reason: `rule engine failed on this event: ${describe(err)}`, level: 'error' });
    }
    if (this.tail.listening) this.tail.offer(normalized.event, incidents);
    // Stateful rules: an event that satisfies a step takes the pool lane, and is acked only once its fact is stored.
    const fact = this.o.facts ? pendingFact(normalized.event, incidents, this.o.rules().stateful, this.o.facts) : undefined;
    if (incidents.length === 0 && !fact) {
      this.stats.handled += 1;
      this.ackSoon(m);
      return;
    }
    const copies = incidents.length ? quarantineCopies(normalized.event, incidents) : undefined;
    this.toPool(m, { kind: 'start', incidents, fact, ...(copies ? { copies } : {}) });
  }

  /**
   * Acks at the end of this turn of the event loop, with every other ack of the turn. nats.js writes
   * whatever is queued once per microtask checkpoint, which comes after every socket read: acking
   * each message at once costs one write (a syscall) per read, often per message or two. Queued
   * until setImmediate, the acks of all the reads of a turn go out in one write (or a few of 32 KB).
   * Still one explicit ack per message: the only kind a work-queue stream accepts (AckAll is refused),
   * and the only kind that is right on a consumer shared by several detectors.
   */
  private ackSoon(m: JsMsg): void {
    this.acks.push(m);
    if (!this.acksScheduled) {
      this.acksScheduled = true;
      setImmediate(this.flushAcks);
    }
  }

  private readonly flushAcks = (): void => {
    this.acksScheduled = false;
    const acks = this.acks;
    this.acks = [];
    for (const m of acks) m.ack();
  };

  /** Holds a message until the pool has room; past maxHeld, sends it back to JetStream instead. */
  private hold(m: JsMsg): void {
    const waiting = this.held.length - this.heldHead;
    if (waiting >= this.maxHeld) {
      this.stats.sentBack += 1;
      m.nak(OVERFLOW_DELAY_MS);
      return;
    }
    this.held.push(m);
    if (waiting + 1 > this.stats.peakHeld) this.stats.peakHeld = waiting + 1;
  }

  private takeHeld(): JsMsg | undefined {
    if (this.heldHead >= this.held.length) return undefined;
    const m = this.held[this.heldHead];
    this.held[this.heldHead++] = undefined;
    if (this.heldHead === this.held.length) {
      this.held = [];
      this.heldHead = 0;
    } else if (this.heldHead >= 1024 && this.heldHead * 2 >= this.held.length) {
      // A queue that never quite empties must not grow at its front forever.
      this.held = this.held.slice(this.heldHead);
      this.heldHead = 0;
    }
    return m;
  }

  /** Handles held messages, oldest first, while the pool has room. */
  private drainHeld(): void {
    while (!this.stopping && this.inFlight.size < this.limit) {
      const m = this.takeHeld();
      if (!m) return;
      try {
        this.handle(m);
      } catch (err) {
        this.toPool(m, { kind: 'deadletter', reason: `unexpected detector error: ${describe(err)}`, level: 'error' });
      }
    }
  }

  private toPool(m: JsMsg, job: Job): void {
    this.inPool.add(m);
    const task: Promise<void> = (job.kind === 'start' ? this.start(m, job.incidents, job.fact, job.copies) : this.deadletter(m, job.reason, job.level))
      .catch((err: unknown) => this.deadletter(m, `unexpected detector error: ${describe(err)}`, 'error'))
      .catch((err: unknown) => {
        // Dead-lettering itself failed unexpectedly: the message comes back after a while.
        this.o.log.error('could not handle an event; it will come back', { subject: m.subject, error: err });
        m.nak(retryDelayMs(m.info.deliveryCount));
      })
      .finally(() => {
        this.inFlight.delete(task);
        this.inPool.delete(m);
        this.drainHeld();
      });
    this.inFlight.add(task);
    if (this.inFlight.size > this.stats.peakInFlight) this.stats.peakInFlight = this.inFlight.size;
  }

  /** Keeps every message in the pool or held for it from being redelivered to another detector. */
  private stillWorking(): void {
    for (const m of this.inPool) m.working();
    for (let i = this.heldHead; i < this.held.length; i++) this.held[i]?.working();
  }

  /**
   * Consumer trouble is loud: a deleted consumer or stream, or heartbeats missed in a row, ends this
   * consume loop so that run() re-creates it; the rest is logged at a level an operator sees.
   */
  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    const log = this.o.log;
    const status: AsyncIterable<ConsumerStatus> = await messages.status();
    for await (const s of status) {
      switch (s.type) {
        case 'heartbeats_missed': {
          const missed = Number(s.data);
          log.warn('detector consumer missed heartbeats', { missed });
          if (missed >= HEARTBEATS_BEFORE_RESTART) {
            log.error('detector consumer stopped answering; re-creating the consume loop', { missed });
            messages.stop();
          }
          break;
        }
        case 'consumer_deleted':
        case 'consumer_not_found':
        case 'stream_not_found':
          log.error('detector consumer is gone; re-creating it', { status: s.type, data: s.data });
          messages.stop();
          break;
        case 'no_responders':
          log.warn('JetStream is not answering the detector (server restarting or stream leader changing)', { data: s.data });
          break;
        case 'reset':
          log.info('detector consumer reset its pull', { data: s.data });
          break;
        case 'debug':
          // A leader that steps down tells its waiting pulls "409 Leadership Change": pull from the new one.
          if (/leadership change/i.test(String(s.data))) {
            log.warn('detector consumer leader stepped down; pulling from the new leader', { data: s.data });
            this.leaderChanged = true;
            messages.stop();
          } else log.debug('consumer status', { type: s.type, data: s.data });
          break;
        default:
          log.debug('consumer status', { type: s.type, data: s.data });
      }
    }
  }

  /** Starts the event's incidents one after the other, then acks; nak with backoff when Temporal cannot take them now. */
  private async start(m: JsMsg, incidents: IncidentInput[], fact?: PendingFact, copies?: QuarantinedMessage[]): Promise<void> {
    const log = this.o.log;
    const where = { subject: m.subject, seq: m.seq, deliveries: m.info.deliveryCount };
    // A quarantined message's sealed copy is stored before its incident starts, hence before the
    // message is deleted: the incident never has to carry the text, and never deletes what it has not kept.
    for (const copy of copies ?? []) {
      try {
        await this.vault.hold(copy);
      } catch (err) {
        if (err instanceof QuarantineError) return await this.deadletter(m, `incident ${copy.incidentId} cannot quarantine the message: ${err.message}`, 'error');
        const delay = retryDelayMs(where.deliveries);
        this.stats.retried += 1;
        log.warn('could not store a quarantined copy in QUARANTINE for now; will retry', { ...where, incidentId: copy.incidentId, retryInMs: delay, error: describe(err) });
        m.nak(delay);
        return;
      }
    }
    if (fact) {
      try {
        await publishFact(this.js, fact);
        this.stats.facts = (this.stats.facts ?? 0) + 1;
      } catch (err) {
        // Not stored: the event comes back and its fact is published again (same msgID, so at most once).
        const delay = retryDelayMs(where.deliveries);
        this.stats.retried += 1;
        log.warn('could not publish a fact to FACTS for now; will retry', { ...where, retryInMs: delay, error: err });
        m.nak(delay);
        return;
      }
    }
    try {
      for (const input of incidents) {
        const r = await startIncident(this.o.temporal, this.o.taskQueue, input);
        if (r.outcome === 'permanent') {
          return await this.deadletter(m, `incident ${input.incidentId} cannot start: ${r.reason}`, 'error');
        }
        if (r.outcome === 'started') this.stats.started += 1;
        else this.stats.alreadyStarted += 1;
        log.info(r.outcome === 'started' ? 'incident started' : 'incident already exists', { ...where, incidentId: input.incidentId, rule: input.rule.id });
        this.o.onIncident?.({ incidentId: input.incidentId, ruleId: input.rule.id, outcome: r.outcome });
      }
    } catch (err) {
      if (!(err instanceof TransientStartError)) throw err;
      // Temporal unreachable or overloaded: the event comes back later; starts are idempotent.
      const delay = retryDelayMs(where.deliveries);
      this.stats.retried += 1;
      log.warn('could not start incident for now; will retry', { ...where, retryInMs: delay, error: err.message });
      m.nak(delay);
      return;
    }
    this.stats.findings += incidents.length;
    for (const input of incidents) this.findingsByRule.set(input.rule.id, (this.findingsByRule.get(input.rule.id) ?? 0) + 1);
    this.stats.handled += 1;
    m.ack();
  }

  /** Sets a message aside with its reason, then terminates it; if that fails, it comes back. */
  private async deadletter(m: JsMsg, reason: string, level: 'warn' | 'error'): Promise<void> {
    const h = headers();
    h.set('Sentinel-Reason', reason);
    h.set('Sentinel-Subject', m.subject);
    h.set('Sentinel-Stream-Seq', String(m.seq));
    try {
      await this.js.publish(deadletterSubject(m.subject), m.data, { headers: h, msgID: `deadletter-${CHAT_STREAM}-${m.seq}` });
    } catch (err) {
      this.o.log.warn('could not dead-letter an event; will retry', { subject: m.subject, seq: m.seq, error: err });
      m.nak(retryDelayMs(m.info.deliveryCount));
      return;
    }
    this.stats.deadlettered += 1;
    this.stats.handled += 1;
    this.o.log[level](level === 'warn' ? 'malformed event dead-lettered' : 'event dead-lettered', { subject: m.subject, seq: m.seq, reason });
    // No reason on term(): servers before 2.10.4 ignore "+TERM <reason>" and would redeliver.
    m.term();
  }
}

/** An error's name and message, for a dead-letter reason. */
function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Whether `log` writes debug lines. The Logger interface does not say, so it is asked to write one
 * whose fields it reads only when it writes it (a logger that writes debug lines says so once).
 */
function writesDebug(log: Logger): boolean {
  let read = false;
  log.debug('detector debug logging on: one line per ignored event', {
    get perEvent() {
      read = true;
      return true;
    },
  });
  return read;
}
