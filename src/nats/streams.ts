/**
 * The JetStream layout of ARCHITECTURE.md, created or brought up to date idempotently by whichever
 * component starts first.
 */
import { AckPolicy, DeliverPolicy, nanos, RetentionPolicy, type JetStreamManager, type StreamConfig } from 'nats';

export const CHAT_STREAM = 'CHAT';
export const DEADLETTER_STREAM = 'DEADLETTER';
export const DETECTOR_CONSUMER = 'detector';
export const AUDIT_STREAM = 'AUDIT';
export const FACTS_STREAM = 'FACTS';

/**
 * Facts are kept 48 hours: longer than the longest stateful window or maxspan (24 h) plus the
 * lateness bound, so a correlator that restarts can rebuild every state still open.
 */
export const FACTS_MAX_AGE_MS = 48 * 3600_000;
/** A detector republishes a fact only when its event is redelivered (ack_wait 30 s, backoff): 2 minutes covers it. */
export const FACTS_DUPLICATE_WINDOW_MS = 2 * 60_000;

/** The subject of a FACTS partition: facts.<n>. */
export function factSubject(partition: number): string {
  return `facts.${partition}`;
}

/**
 * Slack retries a delivery right away, after about 1 and about 5 minutes; a 10-minute window keeps
 * every retry of one event_id from becoming a second stream message.
 */
export const CHAT_DUPLICATE_WINDOW_MS = 10 * 60_000;

/** A message is redelivered if no detector acks it (or says it is still working) within this. */
export const DETECTOR_ACK_WAIT_MS = 30_000;

/** How long a malformed event stays set aside for an operator to look at: 30 days. */
export const DEADLETTER_MAX_AGE_MS = 30 * 24 * 3600_000;

/** The subject of a chat event: chat.<source>.<team>.<event_type>. */
export function chatSubject(source: string, team: string, eventType: string): string {
  return `chat.${source}.${team}.${eventType}`;
}

/** Where a poison message goes: its subject under deadletter. */
export function deadletterSubject(subject: string): string {
  return `deadletter.${subject}`;
}

/**
 * How streams are laid out on a cluster. `replicas`: copies of each stream (3 on a 3-node cluster,
 * so one node can be lost); when absent, a new stream gets 1 and an existing one keeps what it has
 * (an update merges into the stream's current config), so components that only make sure the
 * streams exist never scale down what `sentinel setup` or `stack up --nats-cluster` laid out.
 */
export interface StreamLayout {
  replicas?: number;
}

async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }, layout: StreamLayout = {}): Promise<void> {
  if (layout.replicas !== undefined) config = { ...config, num_replicas: layout.replicas };
  const exists = await jsm.streams.info(config.name).then(
    () => true,
    () => false,
  );
  if (exists) await jsm.streams.update(config.name, config);
  else await jsm.streams.add(config);
}

/**
 * CHAT (with its dedup window), DEADLETTER, and the shared durable consumer of the detectors.
 * CHAT holds raw chat, leaked secrets included, so it is a work queue: an event is gone once a
 * detector has handled it, and kept for as long as none has. DEADLETTER keeps raw events too, for
 * DEADLETTER_MAX_AGE_MS.
 */
export async function ensureChatStreams(jsm: JetStreamManager, layout: StreamLayout = {}): Promise<void> {
  const existing = await jsm.streams.info(CHAT_STREAM).then(
    (i) => i.config.retention,
    () => undefined,
  );
  if (existing !== undefined && existing !== RetentionPolicy.Workqueue) {
    throw new Error(
      `stream ${CHAT_STREAM} keeps chat events after they are handled (retention "${existing}"), and with them every leaked secret. ` +
        'JetStream cannot change a stream\'s retention: once the detectors have caught up, delete it ("nats stream rm CHAT") and start again; it is recreated as a work queue.',
    );
  }
  await ensureStream(jsm, { name: CHAT_STREAM, subjects: ['chat.>'], retention: RetentionPolicy.Workqueue, duplicate_window: nanos(CHAT_DUPLICATE_WINDOW_MS) }, layout);
  await ensureStream(jsm, { name: DEADLETTER_STREAM, subjects: ['deadletter.>'], duplicate_window: nanos(CHAT_DUPLICATE_WINDOW_MS), max_age: nanos(DEADLETTER_MAX_AGE_MS) }, layout);
  const consumer = {
    durable_name: DETECTOR_CONSUMER,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // A message is redelivered if no detector acks it in time (a detector died mid-message).
    ack_wait: nanos(DETECTOR_ACK_WAIT_MS),
    // Unlimited: transient failures (Temporal down) must never drop an event; everything that can
    // never succeed (malformed input, an engine error, a start Temporal refuses) is dead-lettered.
    max_deliver: -1,
    max_ack_pending: 1000,
  };
  const exists = await jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER).then(
    () => true,
    () => false,
  );
  if (exists) {
    const { ack_wait, max_deliver, max_ack_pending } = consumer;
    await jsm.consumers.update(CHAT_STREAM, DETECTOR_CONSUMER, { ack_wait, max_deliver, max_ack_pending });
  } else {
    await jsm.consumers.add(CHAT_STREAM, consumer);
  }
}

/**
 * AUDIT: the incidents' trails. Messages can be neither deleted nor purged through the API; the
 * duplicate window drops an append retried after it had succeeded.
 */
export async function ensureAuditStream(jsm: JetStreamManager, layout: StreamLayout = {}): Promise<void> {
  await ensureStream(jsm, { name: AUDIT_STREAM, subjects: ['audit.>'], deny_delete: true, deny_purge: true, duplicate_window: nanos(CHAT_DUPLICATE_WINDOW_MS) }, layout);
}

/**
 * FACTS: the redacted facts stateful rules work on (ids, kinds, rule ids, event time; never text),
 * partitioned by key on facts.<n>. Limits retention: correlators read it with ordered consumers from
 * a start time, any number of times; nothing acks it away.
 */
export async function ensureFactsStream(jsm: JetStreamManager, layout: StreamLayout = {}): Promise<void> {
  await ensureStream(jsm, { name: FACTS_STREAM, subjects: ['facts.>'], retention: RetentionPolicy.Limits, max_age: nanos(FACTS_MAX_AGE_MS), duplicate_window: nanos(FACTS_DUPLICATE_WINDOW_MS) }, layout);
}
