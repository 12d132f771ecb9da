/**
 * The detector: consume CHAT through the shared durable consumer, match each event against the
 * rules, start one incident per finding, then ack. Stateless per process; run as many as needed.
 */
import { headers, type JetStreamClient, type JsMsg, type NatsConnection } from 'nats';
import type { Client } from '@temporalio/client';
import { evaluate, type CompiledRules } from '../engine/engine';
import type { Finding } from '../engine/types';
import { MalformedEventError, normalize } from '../events/normalize';
import { incidentInput, startIncident } from '../incidents/start';
import type { Logger } from '../log';
import { CHAT_STREAM, DETECTOR_CONSUMER, deadletterSubject } from '../nats/streams';

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
}

export interface DetectorStats {
  handled: number;
  ignored: number;
  findings: number;
  started: number;
  alreadyStarted: number;
  deadlettered: number;
  retried: number;
}

/** How long before a message that failed for a transient reason comes back: 1 s doubling to 30 s. */
export function retryDelayMs(redeliveries: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, redeliveries - 1));
}

export class Detector {
  readonly stats: DetectorStats = { handled: 0, ignored: 0, findings: 0, started: 0, alreadyStarted: 0, deadlettered: 0, retried: 0 };
  private readonly js: JetStreamClient;
  private stopping = false;
  private stopConsuming: (() => Promise<void>) | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly o: DetectorOptions) {
    this.js = o.nc.jetstream();
  }

  /** Consumes until stop() is called. Streams and the consumer must exist (ensureChatStreams). */
  async run(): Promise<void> {
    const limit = this.o.concurrency ?? 16;
    const consumer = await this.js.consumers.get(CHAT_STREAM, DETECTOR_CONSUMER);
    const messages = await consumer.consume({ max_messages: limit * 2 });
    this.stopConsuming = () => messages.close().then(() => undefined);
    void messages.status().then((s) => this.watchStatus(s));
    this.o.log.info('detector consuming', { stream: CHAT_STREAM, consumer: DETECTOR_CONSUMER, concurrency: limit });
    for await (const m of messages) {
      if (this.stopping) {
        m.nak();
        continue;
      }
      const task = this.handle(m)
        .catch((err: unknown) => {
          // A bug, not bad input: keep the event and say so loudly.
          this.o.log.error('unexpected failure handling an event; will retry', { subject: m.subject, seq: m.seq, error: err });
          m.nak(retryDelayMs(m.info.deliveryCount));
        })
        .finally(() => this.inFlight.delete(task));
      this.inFlight.add(task);
      if (this.inFlight.size >= limit) await Promise.race(this.inFlight);
    }
    await Promise.all(this.inFlight);
  }

  /** Stops taking messages and waits for those in hand. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.stopConsuming?.();
    await Promise.all(this.inFlight);
  }

  private async watchStatus(status: AsyncIterable<{ type: string; data?: unknown }>): Promise<void> {
    for await (const s of status) this.o.log.debug('consumer status', { type: s.type, data: s.data });
  }

  private async handle(m: JsMsg): Promise<void> {
    const where = { subject: m.subject, seq: m.seq, deliveries: m.info.deliveryCount };
    const log = this.o.log;
    let normalized;
    try {
      normalized = normalize(m.subject, m.data);
    } catch (err) {
      if (err instanceof MalformedEventError) return this.deadletter(m, err.message);
      throw err;
    }
    if (normalized.kind === 'ignored') {
      this.stats.ignored += 1;
      this.stats.handled += 1;
      log.debug('event ignored', { ...where, reason: normalized.reason });
      m.ack();
      return;
    }
    const { event } = normalized;
    // One incident per rule per message: its id is per rule, and the first match is the one to show.
    const firstPerRule = new Map<string, Finding>();
    for (const f of evaluate(event, this.o.rules(), { fingerprint: this.o.fingerprint, ...(this.o.decodeDepth !== undefined ? { maxDecodeDepth: this.o.decodeDepth } : {}) })) if (!firstPerRule.has(f.ruleId)) firstPerRule.set(f.ruleId, f);
    const findings = [...firstPerRule.values()];
    try {
      for (const finding of findings) {
        const input = incidentInput(event, finding);
        const outcome = await startIncident(this.o.temporal, this.o.taskQueue, input);
        if (outcome === 'started') this.stats.started += 1;
        else this.stats.alreadyStarted += 1;
        log.info(outcome === 'started' ? 'incident started' : 'incident already exists', { ...where, incidentId: input.incidentId, rule: finding.ruleId });
        this.o.onIncident?.({ incidentId: input.incidentId, ruleId: finding.ruleId, outcome });
      }
    } catch (err) {
      // Temporal unreachable or overloaded: the event comes back later; starts are idempotent.
      const delay = retryDelayMs(m.info.deliveryCount);
      this.stats.retried += 1;
      log.warn('could not start incident; will retry', { ...where, retryInMs: delay, error: err });
      m.nak(delay);
      return;
    }
    this.stats.findings += findings.length;
    this.stats.handled += 1;
    m.ack();
  }

  /** Sets a poison message aside with its reason, then terminates it; if that fails, it comes back. */
  private async deadletter(m: JsMsg, reason: string): Promise<void> {
    const h = headers();
    h.set('Sentinel-Reason', reason);
    h.set('Sentinel-Subject', m.subject);
    h.set('Sentinel-Stream-Seq', String(m.seq));
    try {
      await this.js.publish(deadletterSubject(m.subject), m.data, { headers: h, msgID: `deadletter-${CHAT_STREAM}-${m.seq}` });
    } catch (err) {
      this.o.log.warn('could not dead-letter a malformed event; will retry', { subject: m.subject, seq: m.seq, error: err });
      m.nak(retryDelayMs(m.info.deliveryCount));
      return;
    }
    this.stats.deadlettered += 1;
    this.stats.handled += 1;
    this.o.log.warn('malformed event dead-lettered', { subject: m.subject, seq: m.seq, reason });
    // No reason on term(): servers before 2.10.4 ignore "+TERM <reason>" and would redeliver.
    m.term();
  }
}
