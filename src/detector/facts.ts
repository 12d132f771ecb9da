/**
 * The detector's side of stateful rules: the fact of an event (when it satisfies some step) and its
 * publication on FACTS, once per partition among its keys. Publication is idempotent: the msgID is
 * `${fact.id}#${partition}`, so a redelivered event's fact is dropped by JetStream's duplicate window,
 * and the correlator ignores a fact id it has seen anyway.
 */
import type { JetStreamClient } from 'nats';
import type { IncidentInput } from '../../contract';
import type { Fact } from '../correlate/fact';
import type { StatefulSet } from '../correlate/model';
import { factOf, factPartitions } from '../correlate/steps';
import type { ChatEvent } from '../engine/types';
import { factSubject } from '../nats/streams';

export interface FactSettings {
  /** FACTS partitions (SENTINEL_FACT_PARTITIONS); every detector and correlator must agree. */
  partitions: number;
  /** Channels with a customer-managed KMS key (SENTINEL_CHANNEL_KEYS). */
  kmsChannels: ReadonlySet<string>;
}

const NO_FINDINGS: readonly { ruleId: string; category: IncidentInput['rule']['category'] }[] = [];

/** A fact to publish and the partitions it goes to. */
export interface PendingFact {
  fact: Fact;
  partitions: number[];
}

/** The event's fact, or undefined (nearly always, and cheaply) when it satisfies no stateful step. */
export function pendingFact(event: ChatEvent, incidents: readonly IncidentInput[], stateful: StatefulSet | undefined, s: FactSettings): PendingFact | undefined {
  if (!stateful || stateful.active.length === 0) return undefined;
  const fact = factOf(event, incidents.length ? incidents.map((i) => ({ ruleId: i.rule.id, category: i.rule.category })) : NO_FINDINGS, { stateful, kmsChannels: s.kmsChannels });
  if (!fact) return undefined;
  const partitions = factPartitions(fact, stateful, s.partitions);
  return partitions.length ? { fact, partitions } : undefined;
}

/** Publishes the fact to each of its partitions and waits for JetStream to store them all. */
export async function publishFact(js: JetStreamClient, p: PendingFact): Promise<void> {
  const data = JSON.stringify(p.fact);
  await Promise.all(p.partitions.map((n) => js.publish(factSubject(n), data, { msgID: `${p.fact.id}#${n}` })));
}
