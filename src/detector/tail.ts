/**
 * The detector's side of `sentinel tail` and `sentinel rules try`: redacted records of the events it
 * decides, sent to operators who asked for them, without a second reader of CHAT.
 *
 * Why it asks the detectors rather than reading the stream: CHAT is a work queue. A message goes to
 * one detector and is gone once acked, so a tail consuming from it would take work away (and leave
 * leaks undetected), and a second consumer is refused on a work-queue stream anyway. Instead a tail
 * announces itself on the core NATS subject `sentinel.tail.hello` every TAIL_ANNOUNCE_EVERY_MS, with
 * its id, its WHERE clause and (for `rules try`) a candidate rule file. Every detector keeps the
 * listeners it heard from in the last TAIL_LISTENER_TTL_MS, compiles their WHERE through the rules'
 * own SQL front end and their rule file through the normal loader, and for each event it decides
 * whose WHERE holds, publishes one record on `sentinel.tail.<id>`: the event's coordinates and what
 * every rule said, redacted (rule, severity, redacted value, redacted excerpt; never the text).
 * Core NATS, not JetStream: a record nobody reads is dropped, nothing is stored.
 *
 * With no listener the consume loop pays one boolean check per event (`listening`). A listener that
 * stops announcing (killed, network gone) is forgotten after the TTL; one that exits says `bye`.
 */
import { hostname } from 'node:os';
import type { NatsConnection, Subscription } from 'nats';
import type { IncidentInput } from '../../contract';
import type { Fact } from '../correlate/fact';
import { statefulSet, type StatefulSet } from '../correlate/model';
import { factOf } from '../correlate/steps';
import { evaluate, ruleSet, type CompiledRules } from '../engine/engine';
import { assemble, compileRuleFile, formatProblem } from '../engine/load';
import { compileSql, SqlRuleError, type CompiledSql } from '../engine/sql';
import { matchText } from '../engine/text';
import type { ChannelKind, ChatEvent, Finding } from '../engine/types';
import type { Logger } from '../log';

/** Where tails announce themselves (and say goodbye). */
export const TAIL_HELLO_SUBJECT = 'sentinel.tail.hello';
/** Where the detectors send one listener its records. */
export const tailSubject = (id: string): string => `sentinel.tail.${id}`;
/** How often a tail announces itself. */
export const TAIL_ANNOUNCE_EVERY_MS = 5_000;
/** How long a detector keeps a listener it has not heard from: three announcements missed. */
export const TAIL_LISTENER_TTL_MS = 15_000;
/** The longest WHERE clause a detector compiles. */
export const TAIL_MAX_WHERE_CHARS = 4_096;
/** The largest rule file `rules try` sends along (NATS' default message limit is 1 MB). */
export const TAIL_MAX_RULE_FILE_BYTES = 64 * 1024;
/** Records one detector sends one listener per second, at most; the rest are counted as `dropped`. */
export const TAIL_MAX_RECORDS_PER_SECOND = 500;
/** A listener id: also a subject token, so letters and digits only. */
const TAIL_ID = /^[a-z0-9]{8,40}$/;

/** A tail's announcement. */
export interface TailHello {
  v: 1;
  id: string;
  /** A SQL WHERE clause over slack_events (as in SQL rules); absent: every event. */
  where?: string;
  /** A candidate rule file (`rules try`) each detector evaluates too; its name decides YAML or TOML. */
  rules?: { name: string; text: string };
  /** The tail is leaving: forget it now. */
  bye?: true;
}

/** What one rule said about an event, redacted. */
export interface TailVerdict {
  rule: string;
  severity: string;
  category: string;
  redacted: string;
  excerpt: string;
}

/** One event as a detector decided it. Coordinates and redacted verdicts only: never the text. */
export interface TailRecord {
  v: 1;
  kind: 'event';
  detector: string;
  /** When the detector decided it (ms since epoch). */
  at: number;
  source: string;
  team: string;
  channel: string;
  channelKinds: ChannelKind[];
  user: string;
  ts: string;
  eventType: string;
  /** The detector's own rules: one verdict per rule that matched (the incident it opens). */
  findings: TailVerdict[];
  /** The candidate rules of `rules try`, when the listener sent some: every match. */
  tried?: TailVerdict[];
  /**
   * The event's fact for the candidate's stateful rules (ids and kinds only, as on FACTS), when it
   * satisfies one of their steps: `rules try` runs the correlator's evaluator over them.
   */
  fact?: Fact;
  /** Records this detector did not send this listener since its last one (over TAIL_MAX_RECORDS_PER_SECOND). */
  dropped?: number;
}

/** A detector's answer to a new or changed announcement: it listens, and what it could not compile. */
export interface TailJoined {
  v: 1;
  kind: 'joined';
  detector: string;
  /** Candidate rules it will evaluate, per-event and stateful (0 without a rule file). */
  rules: number;
  /** Problems with the WHERE clause or the rule file, as `sentinel rules test` words them. */
  problems: string[];
}

export type TailMessage = TailRecord | TailJoined;

/** A bad WHERE clause; the message says where (`--where`) and what. */
export class TailWhereError extends Error {
  override name = 'TailWhereError';
}

/** Compiles a tail's WHERE clause with the SQL rules' front end; the CLI calls it first to refuse a bad one at once. */
export function compileTailWhere(where: string): CompiledSql {
  if (where.length > TAIL_MAX_WHERE_CHARS) throw new TailWhereError(`--where: ${where.length} characters, the limit is ${TAIL_MAX_WHERE_CHARS}`);
  try {
    return compileSql(`SELECT * FROM slack_events WHERE ${where}`, '--where');
  } catch (err) {
    if (err instanceof SqlRuleError) throw new TailWhereError(err.message);
    throw err;
  }
}

/** A rule file to try, compiled: its per-event and its stateful rules. */
export interface Candidate {
  rules: CompiledRules;
  stateful: StatefulSet;
  problems: string[];
}

/** A candidate rule file compiled as the detector would load it: every rule enabled (trying a disabled one is the point). */
export function compileCandidate(name: string, text: string): Candidate {
  const loaded = assemble([{ file: name, ...compileRuleFile(name, text) }]);
  const enabled = loaded.rules.map((r) => ({ ...r, spec: { ...r.spec, enabled: true } }));
  return { rules: ruleSet(enabled), stateful: statefulSet(loaded.stateful.rules.map((r) => ({ ...r, enabled: true }))), problems: loaded.problems.map(formatProblem) };
}

/** Channels with a KMS key are not known to the tail: a candidate step on channel_has_kms_key never holds live. */
const NO_KMS_CHANNELS: ReadonlySet<string> = new Set();

/** Verdicts of the detector's own rules, from the incidents it opens. */
const verdictsOf = (incidents: IncidentInput[]): TailVerdict[] =>
  incidents.map((i) => ({ rule: i.rule.id, severity: i.rule.severity, category: i.rule.category, redacted: i.match.redacted, excerpt: i.match.excerpt ?? '' }));

/** Verdicts of candidate rules, from their findings. */
export const verdictsOfFindings = (findings: Finding[]): TailVerdict[] =>
  findings.map((f) => ({ rule: f.ruleId, severity: f.severity, category: f.category, redacted: f.redacted, excerpt: f.excerpt }));

interface Listener {
  id: string;
  subject: string;
  /** The announcement's WHERE and rule text, to recompile only when they change. */
  key: string;
  where: CompiledSql | undefined;
  tried: CompiledRules | undefined;
  /** The candidate's stateful rules, when it has any. */
  stateful: StatefulSet | undefined;
  heardAt: number;
  /** Rate bound: the current second and records sent in it; records dropped since the last sent. */
  second: number;
  sent: number;
  dropped: number;
}

let instances = 0;

/** The listeners one detector serves. */
export class DetectorTail {
  /** Whether anyone listens: the one check the detector makes per event. */
  listening = false;
  private readonly listeners = new Map<string, Listener>();
  private subscription: Subscription | undefined;
  private readonly encoder = new TextEncoder();
  readonly name: string;

  constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    instances += 1;
    this.name = `${hostname()}:${process.pid}${instances > 1 ? `#${instances}` : ''}`;
  }

  /** Listens for announcements. */
  start(): void {
    if (this.subscription) return;
    this.subscription = this.nc.subscribe(TAIL_HELLO_SUBJECT, {
      callback: (err, m) => {
        if (err) return this.log.warn('tail announcements subscription failed', { error: err });
        this.hear(m.data);
      },
    });
  }

  /** Stops listening and forgets every listener. */
  stop(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.listeners.clear();
    this.listening = false;
  }

  /** Takes one announcement; anything malformed is logged and ignored (it comes from the network). */
  private hear(data: Uint8Array): void {
    let hello: TailHello;
    try {
      hello = JSON.parse(new TextDecoder().decode(data)) as TailHello;
    } catch {
      return this.log.warn('ignored a tail announcement that is not JSON', { subject: TAIL_HELLO_SUBJECT, bytes: data.length });
    }
    if (hello?.v !== 1 || typeof hello.id !== 'string' || !TAIL_ID.test(hello.id)) {
      return this.log.warn('ignored a tail announcement without a valid id', { subject: TAIL_HELLO_SUBJECT });
    }
    if (hello.bye) {
      this.listeners.delete(hello.id);
      this.listening = this.listeners.size > 0;
      return;
    }
    const where = typeof hello.where === 'string' && hello.where.trim() ? hello.where : undefined;
    const rules = hello.rules && typeof hello.rules.name === 'string' && typeof hello.rules.text === 'string' ? hello.rules : undefined;
    const key = JSON.stringify([where ?? null, rules?.name ?? null, rules?.text ?? null]);
    const now = this.now();
    const known = this.listeners.get(hello.id);
    if (known && known.key === key) {
      known.heardAt = now;
      return;
    }
    const problems: string[] = [];
    let compiledWhere: CompiledSql | undefined;
    if (where !== undefined) {
      try {
        compiledWhere = compileTailWhere(where);
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    let tried: CompiledRules | undefined;
    let stateful: StatefulSet | undefined;
    if (rules) {
      if (Buffer.byteLength(rules.text) > TAIL_MAX_RULE_FILE_BYTES) {
        problems.push(`${rules.name}: ${Buffer.byteLength(rules.text)} bytes, the limit is ${TAIL_MAX_RULE_FILE_BYTES}`);
      } else {
        const c = compileCandidate(rules.name, rules.text);
        problems.push(...c.problems);
        tried = c.rules;
        if (c.stateful.active.length) stateful = c.stateful;
      }
    }
    const count = (tried?.rules.length ?? 0) + (stateful?.rules.length ?? 0);
    const joined: TailJoined = { v: 1, kind: 'joined', detector: this.name, rules: count, problems };
    const subject = tailSubject(hello.id);
    this.nc.publish(subject, this.encoder.encode(JSON.stringify(joined)));
    // A WHERE the detector cannot compile would show events the operator did not ask for: none then.
    if (where !== undefined && !compiledWhere) {
      this.listeners.delete(hello.id);
    } else {
      this.listeners.set(hello.id, { id: hello.id, subject, key, where: compiledWhere, tried, stateful, heardAt: now, second: 0, sent: 0, dropped: 0 });
      this.log.info(known ? 'tail listener changed' : 'tail listener joined', { listener: hello.id, where: where !== undefined, tried: count });
    }
    this.listening = this.listeners.size > 0;
  }

  /**
   * Sends the event's record to every live listener whose WHERE holds. Called from the consume loop
   * only while `listening`; never throws (a tail must not cost an event its handling).
   */
  offer(event: ChatEvent, incidents: IncidentInput[]): void {
    const now = this.now();
    let findings: TailVerdict[] | undefined;
    let text: string | undefined;
    for (const l of this.listeners.values()) {
      if (now - l.heardAt > TAIL_LISTENER_TTL_MS) {
        this.listeners.delete(l.id);
        this.log.info('tail listener gone quiet; forgotten', { listener: l.id });
        continue;
      }
      try {
        if (l.where) {
          text ??= matchText(event.text).text;
          if (!l.where.predicate({ event, text })) continue;
        }
        const second = Math.floor(now / 1000);
        if (second !== l.second) {
          l.second = second;
          l.sent = 0;
        }
        if (l.sent >= TAIL_MAX_RECORDS_PER_SECOND) {
          l.dropped += 1;
          continue;
        }
        l.sent += 1;
        findings ??= verdictsOf(incidents);
        const triedFindings = l.tried ? evaluate(event, l.tried) : undefined;
        const fact = l.stateful ? candidateFact(event, incidents, triedFindings ?? [], l.stateful) : undefined;
        const record: TailRecord = {
          v: 1,
          kind: 'event',
          detector: this.name,
          at: now,
          source: event.source,
          team: event.team,
          channel: event.channel,
          channelKinds: event.channelKinds ?? [],
          user: event.user,
          ts: event.ts,
          eventType: event.eventType,
          findings,
          ...(triedFindings ? { tried: verdictsOfFindings(triedFindings) } : {}),
          ...(fact ? { fact } : {}),
          ...(l.dropped ? { dropped: l.dropped } : {}),
        };
        l.dropped = 0;
        this.nc.publish(l.subject, this.encoder.encode(JSON.stringify(record)));
      } catch (err) {
        this.log.warn('could not send a tail record', { listener: l.id, error: err });
      }
    }
    this.listening = this.listeners.size > 0;
  }
}

/** The fact of an event for candidate stateful rules: the steps see the detector's findings and the candidate's own. */
function candidateFact(event: ChatEvent, incidents: IncidentInput[], tried: Finding[], stateful: StatefulSet): Fact | undefined {
  const found = [...incidents.map((i) => ({ ruleId: i.rule.id, category: i.rule.category })), ...tried.map((f) => ({ ruleId: f.ruleId, category: f.category }))];
  return factOf(event, found, { stateful, kmsChannels: NO_KMS_CHANNELS });
}
