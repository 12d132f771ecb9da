/**
 * A Fact: what the correlator learns of one chat event — ids, kinds, matched rule ids and event
 * time, never text. The detector publishes it on facts.<partition>; the correlator feeds it to
 * the evaluator. Shared by both sides, so it lives here with the rule model.
 */
import type { ChannelKind } from '../engine/types';

/** What a stateful rule groups its events by. */
export type KeyKind = 'user' | 'file' | 'channel' | 'team';
export const KEY_KINDS: readonly KeyKind[] = ['user', 'file', 'channel', 'team'];

export interface Fact {
  v: 1;
  /** `${source}/${team}/${channel}/${ts}/${eventType}`: unique per event, the same on redelivery. */
  id: string;
  source: string;
  team: string;
  channel: string;
  user: string;
  ts: string;
  eventType: string;
  /** Milliseconds since the epoch, from the Slack ts (or event_time). */
  eventTime: number;
  channelKinds: ChannelKind[];
  /** File ids the event carries. */
  files: string[];
  /** Ids of the per-event rules that matched the event. */
  findings: string[];
  /** `${ruleId}#${index}` of the stateful steps the event satisfies; index -1 is the rule's `until`. */
  steps: string[];
}

/** The step reference of a rule's step (index -1: its `until`). */
export const stepRef = (ruleId: string, index: number): string => `${ruleId}#${index}`;

/**
 * The values of a key kind in a fact (a fact with two files has two file keys; one that does not say,
 * such as file_deleted's empty user and channel, has none).
 */
export function keyValues(fact: Pick<Fact, 'user' | 'channel' | 'team' | 'files'>, by: KeyKind): string[] {
  switch (by) {
    case 'user':
      return fact.user ? [fact.user] : [];
    case 'channel':
      return fact.channel ? [fact.channel] : [];
    case 'team':
      return fact.team ? [fact.team] : [];
    case 'file':
      return fact.files;
  }
}

/**
 * Whether a fact that satisfies a rule's `until` cancels by file rather than by the rule's key: it
 * names files but no value of the key (file_deleted names a file only). The correlator then cancels
 * the sequences in progress of that file under every key.
 */
export function cancelsByFile(fact: Pick<Fact, 'user' | 'channel' | 'team' | 'files'>, by: KeyKind): boolean {
  return by !== 'file' && fact.files.length > 0 && keyValues(fact, by).length === 0;
}

/** FNV-1a, 32 bits: a stable, dependency-free hash so every detector puts a key in the same partition. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The partition of a key: fnv1a(`${kind}:${value}`) mod the partition count. */
export function partitionOf(kind: KeyKind, value: string, partitions: number): number {
  return fnv1a(`${kind}:${value}`) % partitions;
}

/** Event time of a Slack ts ("1712345678.000200"): its seconds and microseconds, as milliseconds. */
export function eventTimeOf(ts: string): number | undefined {
  const m = /^(\d{1,12})(?:\.(\d{1,6}))?$/.exec(ts);
  if (!m) return undefined;
  return Number(m[1]) * 1000 + Math.floor(Number((m[2] ?? '0').padEnd(6, '0')) / 1000);
}

/** The fact's id: an event's coordinates and type. */
export function factId(e: { source: string; team: string; channel: string; ts: string; eventType: string }): string {
  return `${e.source}/${e.team}/${e.channel}/${e.ts}/${e.eventType}`;
}
