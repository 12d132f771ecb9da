/**
 * The correlator's state machine: fed facts in arrival order, it returns the matches they complete.
 * Pure and deterministic — no clock, no IO, no randomness — so replaying a partition of FACTS from
 * the same point gives the same matches in the same order, which is how a restarted correlator
 * rebuilds its state.
 *
 * Time is event time. Each partition has a watermark (the latest event time seen in it); a fact
 * older than the watermark minus the lateness bound is late: counted, logged by the caller, and not
 * used. Within the bound, facts may arrive in any order: each (rule, key) keeps its facts sorted by
 * event time and is re-examined when one arrives, so a late first step still completes a sequence.
 *
 * Sequences follow EQL's `sequence by <key> with maxspan=… [step]… until [step]`
 * (https://www.elastic.co/guide/en/elasticsearch/reference/current/eql-syntax.html#eql-sequences):
 * steps in event-time order on one key, first to last within maxspan; a newer event for a step
 * replaces the pending sequence at that stage; an `until` event drops every sequence in progress.
 * An `until` event that names a file but no value of the rule's key (file_deleted: a file id only)
 * drops, under every key of the rule, the sequences in progress that hold that file.
 * Thresholds count (or count distinct values of) a key's facts in hop windows aligned to multiples
 * of the hop, as Proton's hop()/tumble() do (https://docs.timeplus.com/functions_for_streaming).
 * A fact takes part in at most one match of a rule and key; after a match, `suppress` turns later
 * matches of the key into suppressed ones (counted, no incident) for that long in event time.
 *
 * Memory is bounded: at most maxFactsPerKey facts per (rule, key) and maxKeys (rule, key) states
 * overall (least recently used first out), plus the ids seen for de-duplication; evictions are counted.
 */
import { cancelsByFile, keyValues, partitionOf, type Fact, type KeyKind } from './fact';
import type { StatefulRule, StatefulSet } from './model';

export interface EvaluatorOptions {
  /** How far behind its partition's watermark a fact may be and still count; default 5 minutes. */
  latenessMs?: number;
  /** Facts kept per (rule, key); the oldest go first; default 256. */
  maxFactsPerKey?: number;
  /** (rule, key) states kept overall; the least recently used go first; default 100 000. */
  maxKeys?: number;
  /** Fact ids kept for de-duplication (beyond those aged out by the watermark); default 200 000. */
  maxSeen?: number;
  /** The FACTS partition count: when given, offer(fact, p) only handles the fact's keys that live in p. */
  partitions?: number;
}

/** A completed sequence or threshold: the rule, the key, and its facts in event-time order. */
export interface Match {
  rule: StatefulRule;
  keyKind: KeyKind;
  key: string;
  facts: Fact[];
}

export interface EvaluatorStats {
  /** Facts offered. */
  facts: number;
  /** Offered again (same fact id and partition): ignored. */
  duplicates: number;
  /** Older than watermark − lateness: counted, not used. */
  late: number;
  /** Facts dropped from a full (rule, key). */
  evictedFacts: number;
  /** (rule, key) states dropped because too many were held. */
  evictedKeys: number;
  matches: number;
  /** Matches inside a key's suppress interval: no incident. */
  suppressed: number;
  /** Partial sequences dropped by an until event. */
  cancelled: number;
}

interface Entry {
  fact: Fact;
  /** The rule's step indexes the fact satisfies (-1: until). */
  steps: number[];
  /** An until that cancels by file: only the sequences in progress holding one of these files. */
  files?: ReadonlySet<string>;
}

interface KeyState {
  rule: StatefulRule;
  key: string;
  /** Sorted by event time, then fact id. */
  entries: Entry[];
  /** Ids of facts already part of a match (or a suppressed one). */
  used: Set<string>;
  /** Event time of the last match that opened an incident. */
  firedAt?: number;
}

const before = (a: Fact, b: Fact) => a.eventTime - b.eventTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class Evaluator {
  readonly stats: EvaluatorStats = { facts: 0, duplicates: 0, late: 0, evictedFacts: 0, evictedKeys: 0, matches: 0, suppressed: 0, cancelled: 0 };
  private readonly latenessMs: number;
  private readonly maxFactsPerKey: number;
  private readonly maxKeys: number;
  private readonly maxSeen: number;
  private readonly states = new Map<string, KeyState>();
  /** Seen `${fact.id}#${partition}` → event time (insertion order ≈ arrival order). */
  private readonly seen = new Map<string, number>();
  private readonly watermarks = new Map<number, number>();
  private rulesById: Map<string, StatefulRule>;

  constructor(
    private set: StatefulSet,
    private readonly o: EvaluatorOptions = {},
  ) {
    this.latenessMs = o.latenessMs ?? 5 * 60_000;
    this.maxFactsPerKey = Math.max(2, o.maxFactsPerKey ?? 256);
    this.maxKeys = Math.max(1, o.maxKeys ?? 100_000);
    this.maxSeen = Math.max(1, o.maxSeen ?? 200_000);
    this.rulesById = new Map(set.active.map((r) => [r.id, r]));
  }

  /** Swaps the rules (hot reload): state of rules that remain is kept; that of removed rules is dropped. */
  setRules(set: StatefulSet): void {
    this.set = set;
    this.rulesById = new Map(set.active.map((r) => [r.id, r]));
    for (const [k, s] of this.states) {
      const now = this.rulesById.get(s.rule.id);
      if (!now) this.states.delete(k);
      else s.rule = now;
    }
  }

  /** (rule, key) states held now. */
  get keys(): number {
    return this.states.size;
  }

  /** The partition's watermark: the latest event time seen in it. */
  watermark(partition = 0): number | undefined {
    return this.watermarks.get(partition);
  }

  /** Takes one fact (as read from `partition`); returns the matches it completes, in a stable order. */
  offer(fact: Fact, partition = 0): Match[] {
    this.stats.facts += 1;
    const seenId = `${fact.id}#${partition}`;
    if (this.seen.has(seenId)) {
      this.stats.duplicates += 1;
      return [];
    }
    const mark = this.watermarks.get(partition);
    if (mark !== undefined && fact.eventTime < mark - this.latenessMs) {
      this.stats.late += 1;
      return [];
    }
    this.remember(seenId, fact.eventTime, partition);
    if (mark === undefined || fact.eventTime > mark) this.watermarks.set(partition, fact.eventTime);

    const byRule = new Map<string, number[]>();
    for (const ref of fact.steps) {
      const at = ref.lastIndexOf('#');
      const id = ref.slice(0, at);
      if (!this.rulesById.has(id)) continue;
      let list = byRule.get(id);
      if (!list) byRule.set(id, (list = []));
      list.push(Number(ref.slice(at + 1)));
    }
    const matches: Match[] = [];
    for (const rule of this.set.active) {
      const steps = byRule.get(rule.id);
      if (!steps) continue;
      const byFile = rule.kind === 'sequence' && steps.includes(-1) && cancelsByFile(fact, rule.by);
      for (const state of byFile ? this.statesHolding(rule, fact.files, partition) : this.statesOf(rule, fact, partition)) {
        this.insert(state, byFile ? { fact, steps: [-1], files: new Set(fact.files) } : { fact, steps });
        this.expire(state, partition);
        const found = rule.kind === 'sequence' ? this.sequences(state, fact) : this.threshold(state, fact);
        for (const m of found) {
          for (const f of m.facts) state.used.add(f.id);
          const last = m.facts[m.facts.length - 1]!.eventTime;
          if (state.firedAt !== undefined && rule.suppressMs > 0 && Math.abs(last - state.firedAt) < rule.suppressMs) {
            this.stats.suppressed += 1;
            continue;
          }
          state.firedAt = last;
          this.stats.matches += 1;
          matches.push(m);
        }
      }
    }
    return matches;
  }

  /** The states of the fact's keys of the rule (those in `partition` when partitioned). */
  private statesOf(rule: StatefulRule, fact: Fact, partition: number): KeyState[] {
    const out: KeyState[] = [];
    for (const key of keyValues(fact, rule.by)) {
      if (this.o.partitions && partitionOf(rule.by, key, this.o.partitions) !== partition) continue;
      out.push(this.stateOf(rule, key));
    }
    return out;
  }

  /** The rule's states (in `partition` when partitioned) holding a fact about one of `files`. */
  private statesHolding(rule: StatefulRule, files: readonly string[], partition: number): KeyState[] {
    const out: KeyState[] = [];
    for (const s of this.states.values()) {
      if (s.rule !== rule || (this.o.partitions && partitionOf(rule.by, s.key, this.o.partitions) !== partition)) continue;
      if (s.entries.some((e) => e.fact.files.some((f) => files.includes(f)))) out.push(s);
    }
    return out;
  }

  private remember(seenId: string, eventTime: number, partition: number): void {
    this.seen.set(seenId, eventTime);
    // Ids of facts that would now be late anyway need not be remembered: age them out from the front.
    const horizon = (this.watermarks.get(partition) ?? eventTime) - this.latenessMs;
    for (const [id, t] of this.seen) {
      if (this.seen.size <= this.maxSeen && t >= horizon) break;
      this.seen.delete(id);
    }
  }

  private stateOf(rule: StatefulRule, key: string): KeyState {
    const k = `${rule.id}\u0000${key}`;
    let s = this.states.get(k);
    if (s) {
      // Least recently used first: a touched key moves to the back.
      this.states.delete(k);
      this.states.set(k, s);
      return s;
    }
    s = { rule, key, entries: [], used: new Set() };
    this.states.set(k, s);
    while (this.states.size > this.maxKeys) {
      const oldest = this.states.keys().next().value as string;
      this.states.delete(oldest);
      this.stats.evictedKeys += 1;
    }
    return s;
  }

  private insert(s: KeyState, e: Entry): void {
    let i = s.entries.length;
    while (i > 0 && before(e.fact, s.entries[i - 1]!.fact) < 0) i--;
    s.entries.splice(i, 0, e);
    while (s.entries.length > this.maxFactsPerKey) {
      const gone = s.entries.shift()!;
      s.used.delete(gone.fact.id);
      this.stats.evictedFacts += 1;
    }
  }

  /** Drops facts no acceptable future fact can share a window or span with. */
  private expire(s: KeyState, partition: number): void {
    const mark = this.watermarks.get(partition);
    if (mark === undefined) return;
    const span = s.rule.kind === 'sequence' ? s.rule.maxspanMs : s.rule.windowMs;
    const horizon = mark - this.latenessMs - span;
    let n = 0;
    while (n < s.entries.length && s.entries[n]!.fact.eventTime < horizon) s.used.delete(s.entries[n++]!.fact.id);
    if (n) s.entries.splice(0, n);
  }

  /** Sequences completed among the key's facts (the new one among them), oldest first. */
  private sequences(s: KeyState, offered: Fact): Match[] {
    const rule = s.rule;
    const n = rule.steps.length;
    const partial: (Fact[] | undefined)[] = new Array(n).fill(undefined);
    const out: Match[] = [];
    const taken = new Set<string>();
    for (const e of s.entries) {
      const f = e.fact;
      if (s.used.has(f.id) || taken.has(f.id)) continue;
      if (e.steps.includes(-1)) {
        let cancelled = 0;
        for (let k = 0; k < n; k++) {
          const p = partial[k];
          if (!p || (e.files && !p.some((x) => x.files.some((id) => e.files!.has(id))))) continue;
          partial[k] = undefined;
          cancelled += 1;
        }
        if (f === offered) this.stats.cancelled += cancelled;
        continue;
      }
      let used = false;
      // Furthest stage first, so one event does not fill two steps of one sequence.
      for (let k = n - 1; k >= 1 && !used; k--) {
        const p = partial[k - 1];
        if (!p || !e.steps.includes(k) || f.eventTime - p[0]!.eventTime > rule.maxspanMs) continue;
        partial[k - 1] = undefined;
        used = true;
        const seq = [...p, f];
        if (k === n - 1) {
          for (const x of seq) taken.add(x.id);
          out.push({ rule, keyKind: rule.by, key: s.key, facts: seq });
        } else {
          partial[k] = seq;
        }
      }
      if (!used && e.steps.includes(0)) partial[0] = [f];
    }
    return out;
  }

  /** The first window (earliest start) holding the new fact whose count reaches the rule's. */
  private threshold(s: KeyState, offered: Fact): Match[] {
    const rule = s.rule;
    const t = offered.eventTime;
    const first = Math.floor((t - rule.windowMs) / rule.hopMs + 1) * rule.hopMs;
    for (let start = first; start <= t; start += rule.hopMs) {
      const inWindow = s.entries.filter((e) => !s.used.has(e.fact.id) && e.fact.eventTime >= start && e.fact.eventTime < start + rule.windowMs);
      const count = rule.distinct ? new Set(inWindow.flatMap((e) => distinctValues(e.fact, rule.distinct!))).size : inWindow.length;
      if (count >= rule.count) return [{ rule, keyKind: rule.by, key: s.key, facts: inWindow.map((e) => e.fact) }];
    }
    return [];
  }
}

function distinctValues(f: Fact, field: NonNullable<StatefulRule['distinct']>): string[] {
  switch (field) {
    case 'channel':
      return [f.channel];
    case 'user':
      return [f.user];
    case 'team':
      return [f.team];
    case 'event_type':
      return [f.eventType];
    case 'file':
      return f.files;
  }
}
