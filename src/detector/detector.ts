/**
 * The detector: consume CHAT through the shared durable consumer, decide which incidents each event
 * opens, start them, then ack. Stateless per process; run as many as needed.
 *
 * Every message ends one of four ways, and only here: ack (handled), nak with backoff (a transient
 * failure: Temporal unreachable or overloaded), dead-letter then term (malformed input, an engine
 * error, a start that can never succeed — each with its reason, logged), or redelivery after
 * ack_wait if this process dies. A slow start keeps its message with working().
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { headers, type ConsumerMessages, type ConsumerStatus, type JetStreamClient, type JsMsg, type NatsConnection } from 'nats';
import type { Client } from '@temporalio/client';
import type { IncidentInput } from '../../contract';
import type { CompiledRules } from '../engine/engine';
import { MalformedEventError, normalize } from '../events/normalize';
import { startIncident, TransientStartError } from '../incidents/start';
import type { Logger } from '../log';
import { CHAT_STREAM, DETECTOR_ACK_WAIT_MS, DETECTOR_CONSUMER, deadletterSubject, ensureChatStreams } from '../nats/streams';
import { missingSearchAttributes, NamespaceSetupError, setupHint } from '../temporal/search-attributes';
import { decide } from './decide';

export interface DetectorOptions {
  nc: NatsConnection;
  temporal: Client;
  taskQueue: string;
  /** The current rules; a function so that hot reload can swap them between messages. */
  rules: () => CompiledRules;
  /** The HMAC fingerprint of a matched value; incidents carry it instead of the value. */
  fingerprint: (value: string) => string;
  log: Logger;
  /** Messages handled at once; default 16. */
  concurrency?: number;
  /** Layers of encoding the rules look inside; default the engine's (2). */
  decodeDepth?: number;
  /** Told about every incident start, for progress displays. */
  onIncident?: (e: { incidentId: string; ruleId: string; outcome: 'started' | 'exists' }) => void;
  /** Skip the start-up check of the namespace's search attributes (tests of what happens without it). */
  skipPreflight?: boolean;
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
}

/** How long before a message that failed for a transient reason comes back: 1 s doubling to 30 s. */
export function retryDelayMs(redeliveries: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, redeliveries - 1));
}

/** Consecutive missed heartbeats after which the pull is given up and re-created. */
const HEARTBEATS_BEFORE_RESTART = 3;

export class Detector {
  readonly stats: DetectorStats = { handled: 0, ignored: 0, findings: 0, started: 0, alreadyStarted: 0, deadlettered: 0, retried: 0, restarts: 0 };
  private readonly js: JetStreamClient;
  private stopping = false;
  private messages: ConsumerMessages | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopped = new AbortController();

  constructor(private readonly o: DetectorOptions) {
    this.js = o.nc.jetstream();
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
    const limit = this.o.concurrency ?? 16;
    this.o.log.info('detector consuming', { stream: CHAT_STREAM, consumer: DETECTOR_CONSUMER, concurrency: limit });
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.consume(limit);
        failures = 0;
      } catch (err) {
        failures += 1;
        this.o.log.error('consume loop failed; re-creating it', { attempt: failures, error: err });
      }
      if (this.stopping) break;
      this.stats.restarts += 1;
      // Back off (up to 30 s) and make sure the consumer exists again: it may have been deleted.
      await sleep(retryDelayMs(failures), undefined, { signal: this.stopped.signal }).catch(() => undefined);
      if (this.stopping) break;
      await ensureChatStreams(await this.o.nc.jetstreamManager()).catch((err: unknown) => this.o.log.error('could not re-create the detector consumer', { error: err }));
    }
    await Promise.all(this.inFlight);
  }

  /** One consume loop: returns when it ends (stop(), or the status watcher gave up on it). */
  private async consume(limit: number): Promise<void> {
    const consumer = await this.js.consumers.get(CHAT_STREAM, DETECTOR_CONSUMER);
    const messages = await consumer.consume({ max_messages: limit * 2 });
    this.messages = messages;
    void this.watchStatus(messages);
    for await (const m of messages) {
      if (this.stopping) {
        m.nak();
        continue;
      }
      const task = this.handle(m)
        .catch((err: unknown) => this.deadletter(m, `unexpected detector error: ${describe(err)}`, 'error'))
        .finally(() => this.inFlight.delete(task));
      this.inFlight.add(task);
      if (this.inFlight.size >= limit) await Promise.race(this.inFlight);
    }
  }

  /** Stops taking messages and waits for those in hand. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.messages?.close();
    await Promise.all(this.inFlight);
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
        default:
          log.debug('consumer status', { type: s.type, data: s.data });
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    const where = { subject: m.subject, seq: m.seq, deliveries: m.info.deliveryCount };
    const log = this.o.log;
    let normalized;
    try {
      normalized = normalize(m.subject, m.data);
    } catch (err) {
      if (err instanceof MalformedEventError) return this.deadletter(m, err.message, 'warn');
      throw err;
    }
    if (normalized.kind === 'ignored') {
      this.stats.ignored += 1;
      this.stats.handled += 1;
      log.debug('event ignored', { ...where, reason: normalized.reason });
      m.ack();
      return;
    }
    let incidents: IncidentInput[];
    try {
      incidents = decide(normalized.event, this.o.rules(), { fingerprint: this.o.fingerprint, ...(this.o.decodeDepth !== undefined ? { decodeDepth: this.o.decodeDepth } : {}) });
    } catch (err) {
      // An engine bug: the same event would fail the same way forever. Keep it aside, say so loudly.
      return this.deadletter(m, `rule engine failed on this event: ${describe(err)}`, 'error');
    }
    const keepAlive = workingWhile(m);
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
      const delay = retryDelayMs(m.info.deliveryCount);
      this.stats.retried += 1;
      log.warn('could not start incident for now; will retry', { ...where, retryInMs: delay, error: err.message });
      m.nak(delay);
      return;
    } finally {
      keepAlive();
    }
    this.stats.findings += incidents.length;
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

/** Tells JetStream the message is still being worked on every third of ack_wait until the returned function is called. */
function workingWhile(m: JsMsg, ackWaitMs = DETECTOR_ACK_WAIT_MS): () => void {
  const timer = setInterval(() => m.working(), Math.floor(ackWaitMs / 3));
  timer.unref();
  return () => clearInterval(timer);
}
