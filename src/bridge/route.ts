/**
 * Where the bridge stores an event. Most go straight to CHAT. Slack's file events carry only ids,
 * so they go to ENRICH first: the bridge's enricher looks each file up (files.info) and then
 * publishes the event, enriched, to CHAT under the same subject and Nats-Msg-Id it would have had.
 */
import { AckPolicy, DeliverPolicy, nanos, RetentionPolicy, type JetStreamManager } from 'nats';
import { FILE_EVENT_TYPES } from '../events/normalize';
import { CHAT_DUPLICATE_WINDOW_MS, chatSubject } from '../nats/streams';

export const ENRICH_STREAM = 'ENRICH';
/** The durable consumer every bridge's enricher shares. */
export const ENRICHER_CONSUMER = 'enricher';
/** An event is handed to another enricher if none acks it (or says it is still working) within this. */
export const ENRICHER_ACK_WAIT_MS = 30_000;

/** The subject an event of `eventType` is stored under on arrival. */
export function ingestSubject(source: string, team: string, eventType: string): string {
  return FILE_EVENT_TYPES.has(eventType) ? `enrich.${source}.${team}.${eventType}` : chatSubject(source, team, eventType);
}

/** The CHAT subject of an event that waited in ENRICH (enrich.<source>.<team>.<type> → chat.…). */
export function chatSubjectOf(enrichSubject: string): string {
  return `chat.${enrichSubject.slice('enrich.'.length)}`;
}

/**
 * ENRICH: file events waiting for their files.info lookup. A work queue like CHAT (an event is gone
 * once enriched or dead-lettered) with CHAT's duplicate window, so Slack's retries of one event_id
 * are one message here too; and the enrichers' shared durable consumer.
 */
export async function ensureEnrichStream(jsm: JetStreamManager): Promise<void> {
  const config = { name: ENRICH_STREAM, subjects: ['enrich.>'], retention: RetentionPolicy.Workqueue, duplicate_window: nanos(CHAT_DUPLICATE_WINDOW_MS) };
  const exists = await jsm.streams.info(ENRICH_STREAM).then(
    () => true,
    () => false,
  );
  if (exists) await jsm.streams.update(ENRICH_STREAM, config);
  else await jsm.streams.add(config);
  const consumer = { ack_wait: nanos(ENRICHER_ACK_WAIT_MS), max_deliver: -1, max_ack_pending: 256 };
  const has = await jsm.consumers.info(ENRICH_STREAM, ENRICHER_CONSUMER).then(
    () => true,
    () => false,
  );
  if (has) await jsm.consumers.update(ENRICH_STREAM, ENRICHER_CONSUMER, consumer);
  else await jsm.consumers.add(ENRICH_STREAM, { durable_name: ENRICHER_CONSUMER, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ...consumer });
}
