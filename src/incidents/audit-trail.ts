/** Reads an incident's audit trail back from the AUDIT stream, oldest first. */
import { AckPolicy, DeliverPolicy, nanos, type NatsConnection } from 'nats';
import { auditSubject } from '../../activities/audit';
import { AUDIT_STREAM } from '../nats/streams';
import type { AuditRecord } from '../../workflows/types';

export async function readAuditTrail(nc: NatsConnection, incidentId: string, timeoutMs = 5000): Promise<AuditRecord[]> {
  const subject = auditSubject(incidentId);
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(AUDIT_STREAM, { subjects_filter: subject });
  const expected = info.state.subjects?.[subject] ?? 0;
  if (expected === 0) return [];
  // A short-lived consumer with a single filter subject: works on every JetStream server version.
  const ci = await jsm.consumers.add(AUDIT_STREAM, {
    filter_subject: subject,
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    inactive_threshold: nanos(60_000),
  });
  try {
    const consumer = await nc.jetstream().consumers.get(AUDIT_STREAM, ci.name);
    const records: AuditRecord[] = [];
    const messages = await consumer.fetch({ max_messages: expected, expires: timeoutMs });
    for await (const m of messages) {
      records.push(m.json<AuditRecord>());
      if (records.length >= expected) break;
    }
    return records;
  } finally {
    await jsm.consumers.delete(AUDIT_STREAM, ci.name).catch(() => false);
  }
}
