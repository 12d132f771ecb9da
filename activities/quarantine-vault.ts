/**
 * The quarantine: the text of a message Sentinel removed for review, kept sealed by the payload
 * codec (the AES-GCM codec of the Temporal data converter) in the JetStream stream QUARANTINE, one
 * message per incident on quarantine.<incident id>. The detector writes it before it starts the
 * incident, so the copy exists before the message is deleted; the restore activity alone opens it.
 * The stream's max_age bounds how long a copy can outlive a review nobody made.
 */
import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import { nanos, RetentionPolicy, type JetStreamManager, type NatsConnection } from 'nats';
import { QUARANTINE_STREAM, quarantineSubject } from '../contract';

// A CommonJS module: its namespace comes through the default export under ESM.
const { Payload: PayloadProto } = proto.temporal.api.common.v1;

/** A copy outlives the review retention by this much, so that the incident's own expiry (which discards it) comes first. */
export const QUARANTINE_GRACE_MS = 3600_000;
/** A redelivered event writes its copy again with the same Nats-Msg-Id within this window: dropped by the stream. */
export const QUARANTINE_DUPLICATE_WINDOW_MS = 10 * 60_000;
/** SENTINEL_QUARANTINE_RETENTION's default, 30 days: what a stream created without configuration keeps. */
export const DEFAULT_QUARANTINE_RETENTION_MS = 30 * 24 * 3600_000;

/** What a quarantined copy holds: where the message was, who wrote it, and its text. */
export interface QuarantinedMessage {
  v: 1;
  incidentId: string;
  team: string;
  channel: string;
  user: string;
  ts: string;
  text: string;
}

/** The quarantine could not be written or read; says which incident and why, never what the copy holds. */
export class QuarantineError extends Error {
  override name = 'QuarantineError';
}

/**
 * QUARANTINE, created or brought up to date: limits retention with max_age (retention plus
 * QUARANTINE_GRACE_MS), one message per subject, and a duplicate window for the detector's retries.
 */
export async function ensureQuarantineStream(jsm: JetStreamManager, retentionMs: number, layout: { replicas?: number } = {}): Promise<void> {
  const config = {
    name: QUARANTINE_STREAM,
    subjects: ['quarantine.>'],
    retention: RetentionPolicy.Limits,
    max_age: nanos(retentionMs + QUARANTINE_GRACE_MS),
    max_msgs_per_subject: 1,
    duplicate_window: nanos(QUARANTINE_DUPLICATE_WINDOW_MS),
    ...(layout.replicas !== undefined ? { num_replicas: layout.replicas } : {}),
  };
  const exists = await jsm.streams.info(QUARANTINE_STREAM).then(
    () => true,
    () => false,
  );
  if (exists) await jsm.streams.update(QUARANTINE_STREAM, config);
  else await jsm.streams.add(config);
}

export interface QuarantineVault {
  /** Seals and stores the copy; a second hold of the same incident is a no-op. */
  hold(m: QuarantinedMessage): Promise<void>;
  /** The opened copy of the incident's message, or undefined when there is none (discarded, restored or expired). */
  read(incidentId: string): Promise<QuarantinedMessage | undefined>;
  /** Deletes the incident's copy; false when there was none. */
  remove(incidentId: string): Promise<boolean>;
}

/** JetStream's "no message found" and "stream not found" (https://docs.nats.io/reference/reference-protocols/nats_api_reference). */
function notFound(err: unknown): boolean {
  const code = (err as { api_error?: { err_code?: number } })?.api_error?.err_code;
  return code === 10037 || code === 10059 || /no message found|stream not found/i.test((err as Error)?.message ?? '');
}

/**
 * The vault on `nc`, sealing with `codecs` in the data converter's order (opened in reverse). With
 * no codec it refuses to hold anything: a copy is never kept in plaintext.
 */
export function quarantineVault(nc: NatsConnection, codecs: readonly PayloadCodec[], options: { retentionMs?: number } = {}): QuarantineVault {
  let jsm: Promise<JetStreamManager> | undefined;
  const manager = () => (jsm ??= nc.jetstreamManager());
  const js = nc.jetstream();

  async function seal(m: QuarantinedMessage): Promise<Uint8Array> {
    if (codecs.length === 0) throw new QuarantineError(`incident ${m.incidentId}: no payload codec is configured (SENTINEL_CODEC_KEYS), and a quarantined message is never kept unsealed`);
    let payloads: Payload[] = [defaultPayloadConverter.toPayload(m)];
    for (const codec of codecs) payloads = await codec.encode(payloads);
    return PayloadProto.encode(payloads[0]!).finish();
  }

  async function open(incidentId: string, data: Uint8Array): Promise<QuarantinedMessage> {
    let payloads: Payload[] = [PayloadProto.decode(data)];
    for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
    const m = defaultPayloadConverter.fromPayload<QuarantinedMessage>(payloads[0]!);
    if (m?.v !== 1 || m.incidentId !== incidentId) throw new QuarantineError(`the copy on ${quarantineSubject(incidentId)} is not this incident's (version ${String(m?.v)})`);
    return m;
  }

  return {
    async hold(m) {
      const data = await seal(m);
      const publish = () => js.publish(quarantineSubject(m.incidentId), data, { msgID: m.incidentId });
      try {
        await publish();
      } catch (err) {
        // No stream listens yet (no worker has started to create it): create it, then try once more.
        if ((err as { code?: string }).code !== '503') throw err;
        await ensureQuarantineStream(await manager(), options.retentionMs ?? DEFAULT_QUARANTINE_RETENTION_MS);
        await publish();
      }
    },
    async read(incidentId) {
      let data: Uint8Array;
      try {
        data = (await (await manager()).streams.getMessage(QUARANTINE_STREAM, { last_by_subj: quarantineSubject(incidentId) })).data;
      } catch (err) {
        if (notFound(err)) return undefined;
        throw err;
      }
      return open(incidentId, data);
    },
    async remove(incidentId) {
      try {
        const r = await (await manager()).streams.purge(QUARANTINE_STREAM, { filter: quarantineSubject(incidentId) });
        return r.purged > 0;
      } catch (err) {
        if (notFound(err)) return false;
        throw err;
      }
    },
  };
}
