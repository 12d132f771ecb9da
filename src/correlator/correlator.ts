/**
 * The correlator: reads its FACTS partitions with an ordered consumer — first replaying them from
 * now minus (the longest span + lateness), which rebuilds every window and partial sequence that can
 * still complete, then following live — feeds the facts to the evaluator, and starts an incident
 * for each match. Its state is a cache of the stream: a restarted or second correlator rebuilds the
 * same state and finds the same matches, and each match's incident id is derived from the match, so
 * Temporal refuses a second start (`exists`), which is what makes firing idempotent.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DeliverPolicy, type ConsumerMessages, type JsMsg, type NatsConnection } from 'nats';
import type { Client } from '@temporalio/client';
import type { IncidentInput } from '../../contract';
import type { Fact } from '../correlate/fact';
import { Evaluator, type EvaluatorOptions, type EvaluatorStats } from '../correlate/evaluator';
import { matchIncident } from '../correlate/incident';
import type { StatefulSet } from '../correlate/model';
import { startIncident, TransientStartError } from '../incidents/start';
import type { Logger } from '../log';
import { factSubject, FACTS_STREAM } from '../nats/streams';

export interface CorrelatorOptions {
  nc: NatsConnection;
  temporal: Client;
  taskQueue: string;
  /** The stateful rules in force; a function so that hot reload can swap them. */
  rules: () => StatefulSet;
  log: Logger;
  /** FACTS partitions (SENTINEL_FACT_PARTITIONS). */
  partitions: number;
  /** The partitions this correlator owns; default all. */
  owned?: number[];
  /** SENTINEL_LATENESS in ms; default 5 minutes. */
  latenessMs?: number;
  /** Memory bounds of the evaluator. */
  limits?: Pick<EvaluatorOptions, 'maxFactsPerKey' | 'maxKeys' | 'maxSeen'>;
  /** Told about every incident start. */
  onIncident?: (e: { incidentId: string; ruleId: string; outcome: 'started' | 'exists' }) => void;
  /** Wall clock, for the replay's start; default Date.now. */
  now?: () => number;
}

export interface CorrelatorStats extends EvaluatorStats {
  /** Facts that could not be read (not JSON, not a fact): skipped and logged. */
  malformed: number;
  started: number;
  alreadyStarted: number;
  /** Starts Temporal refused for good (logged with the reason). */
  failedStarts: number;
  /** Times a start was retried after a transient failure. */
  retried: number;
  /** Times the ordered consumer was re-created. */
  restarts: number;
}

/** A start that failed for now is retried after this, doubling up to 30 s. */
const retryDelayMs = (attempt: number) => Math.min(30_000, 500 * 2 ** attempt);

export class Correlator {
  private readonly evaluator: Evaluator;
  private readonly extra = { malformed: 0, started: 0, alreadyStarted: 0, failedStarts: 0, retried: 0, restarts: 0 };
  private messages: ConsumerMessages | undefined;
  private stopping = false;
  private readonly stopped = new AbortController();
  /** Incident starts waiting their turn (starts are few; one at a time keeps Temporal's load flat). */
  private readonly queue: IncidentInput[] = [];
  private starting: Promise<void> | undefined;
  private rules: StatefulSet;
  private caughtUp = false;
  /** The stream sequence of the last fact read: a re-created consumer resumes after it. */
  private lastSeq = 0;

  constructor(private readonly o: CorrelatorOptions) {
    this.rules = o.rules();
    this.evaluator = new Evaluator(this.rules, { latenessMs: o.latenessMs ?? 5 * 60_000, partitions: o.partitions, ...o.limits });
  }

  get stats(): CorrelatorStats {
    return { ...this.evaluator.stats, ...this.extra };
  }

  /** The FACTS stream sequence of the last fact read (0 before the first). */
  get lastSequence(): number {
    return this.lastSeq;
  }

  /** Resolves once every match found so far has had its incident start (or failed for good). */
  async startsSettled(): Promise<void> {
    while (this.starting) await this.starting;
  }

  /** Whether the replay has reached the end of the stream as it was at start-up. */
  get live(): boolean {
    return this.caughtUp;
  }

  /** Replays, then follows live until stop(). FACTS must exist (ensureFactsStream). */
  async run(): Promise<void> {
    const owned = this.o.owned ?? [...Array(this.o.partitions).keys()];
    const lateness = this.o.latenessMs ?? 5 * 60_000;
    const from = new Date((this.o.now ?? Date.now)() - this.rules.spanMs - lateness);
    this.o.log.info('correlator replaying', { stream: FACTS_STREAM, partitions: owned, from: from.toISOString(), rules: this.rules.active.map((r) => r.id) });
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.consume(owned, from);
        failures = 0;
      } catch (err) {
        failures += 1;
        this.o.log.error('correlator consume loop failed; re-creating it', { attempt: failures, error: err });
      }
      if (this.stopping) break;
      this.extra.restarts += 1;
      await sleep(retryDelayMs(failures), undefined, { signal: this.stopped.signal }).catch(() => undefined);
    }
    await this.starting;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopped.abort();
    await this.messages?.close();
    await this.starting;
  }

  /** One ordered consumer over the owned partitions: from `from` at first, after the last fact read when re-created. */
  private async consume(owned: number[], from: Date): Promise<void> {
    const js = this.o.nc.jetstream();
    const subjects = owned.length === this.o.partitions ? ['facts.>'] : owned.map(factSubject);
    const start = this.lastSeq > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 } : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: from.toISOString() };
    const consumer = await js.consumers.get(FACTS_STREAM, { filterSubjects: subjects, ...start });
    const info = await consumer.info();
    if (info.num_pending === 0) this.markLive();
    const messages = await consumer.consume();
    this.messages = messages;
    // stop() may have come while the consumer was being made: it had nothing to close then.
    if (this.stopping) await messages.close();
    for await (const m of messages) {
      this.onMessage(m);
      if (this.stopping) break;
    }
  }

  private markLive(): void {
    if (this.caughtUp) return;
    this.caughtUp = true;
    this.o.log.info('correlator following live', { ...this.stats, keys: this.evaluator.keys });
  }

  private onMessage(m: JsMsg): void {
    this.lastSeq = m.seq;
    const next = this.o.rules();
    if (next !== this.rules) {
      this.rules = next;
      this.evaluator.setRules(next);
    }
    const partition = Number(m.subject.slice(m.subject.lastIndexOf('.') + 1));
    let fact: Fact;
    try {
      fact = JSON.parse(new TextDecoder().decode(m.data)) as Fact;
      if (fact?.v !== 1 || typeof fact.id !== 'string' || !Array.isArray(fact.steps) || typeof fact.eventTime !== 'number') throw new Error('not a version 1 fact');
    } catch (err) {
      this.extra.malformed += 1;
      this.o.log.warn('unreadable fact skipped', { subject: m.subject, seq: m.seq, error: err });
      return;
    }
    const late = this.evaluator.stats.late;
    const matches = this.evaluator.offer(fact, partition);
    if (this.evaluator.stats.late > late) {
      this.o.log.warn('fact later than the lateness bound: counted, not used', { fact: fact.id, partition, eventTime: new Date(fact.eventTime).toISOString(), watermark: new Date(this.evaluator.watermark(partition) ?? 0).toISOString() });
    }
    for (const match of matches) {
      const input = matchIncident(match);
      this.o.log.info('stateful rule matched', { rule: match.rule.id, key: `${match.keyKind}:${match.key}`, incidentId: input.incidentId, events: match.facts.length });
      this.queue.push(input);
    }
    if (this.queue.length && !this.starting) this.starting = this.startQueued().finally(() => (this.starting = undefined));
    if (!this.caughtUp && m.info.pending === 0) this.markLive();
  }

  /** Starts queued incidents in order; a transient failure waits and tries again, so none is dropped while running. */
  private async startQueued(): Promise<void> {
    for (let input = this.queue.shift(); input; input = this.queue.shift()) {
      for (let attempt = 0; ; attempt++) {
        try {
          const r = await startIncident(this.o.temporal, this.o.taskQueue, input);
          if (r.outcome === 'permanent') {
            this.extra.failedStarts += 1;
            this.o.log.error('stateful incident cannot start', { incidentId: input.incidentId, reason: r.reason });
          } else {
            if (r.outcome === 'started') this.extra.started += 1;
            else this.extra.alreadyStarted += 1;
            this.o.log.info(r.outcome === 'started' ? 'incident started' : 'incident already exists', { incidentId: input.incidentId, rule: input.rule.id });
            this.o.onIncident?.({ incidentId: input.incidentId, ruleId: input.rule.id, outcome: r.outcome });
          }
          break;
        } catch (err) {
          if (!(err instanceof TransientStartError)) throw err;
          // When stopping, the match is found again by the next correlator's replay.
          if (this.stopping) return;
          this.extra.retried += 1;
          this.o.log.warn('could not start a stateful incident for now; will retry', { incidentId: input.incidentId, attempt, error: err.message });
          await sleep(retryDelayMs(attempt), undefined, { signal: this.stopped.signal }).catch(() => undefined);
        }
      }
    }
  }
}
