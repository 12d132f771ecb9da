/** Reads an incident's audit trail back from the AUDIT stream, oldest first. */
import { AckPolicy, DeliverPolicy, nanos, type NatsConnection } from 'nats';
import { auditSubject, type AuditRecord } from '../../contract';
import { AUDIT_STREAM } from '../nats/streams';

/**
 * Workflow records in their `seq` order (the stream's order can differ: appends are concurrent
 * activities), with attempt records, which carry no seq, placed by time among them. A workflow id
 * reused by a later chain of runs (an offender restarted) lists its chains oldest first. A numbered
 * record found twice is listed once.
 */
export function inTrailOrder(records: AuditRecord[]): AuditRecord[] {
  const chainStart = new Map<string, string>();
  for (const r of records) {
    if (r.seq === undefined) continue;
    const c = r.chain ?? '';
    if (!chainStart.has(c) || r.at < chainStart.get(c)!) chainStart.set(c, r.at);
  }
  // A record appended twice (a retried append past the stream's 10-minute duplicate window: an
  // outage that long in the middle of a batch) is listed once: its chain and seq name it.
  const seen = new Set<string>();
  const numbered = records
    .filter((r) => {
      if (r.seq === undefined) return false;
      const key = `${r.chain ?? ''}#${r.seq}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort((a, b) => chainStart.get(a.chain ?? '')!.localeCompare(chainStart.get(b.chain ?? '')!) || a.seq! - b.seq!);
  const attempts = records.filter((r) => r.seq === undefined).sort((a, b) => a.at.localeCompare(b.at));
  const out: AuditRecord[] = [];
  let i = 0;
  for (const r of numbered) {
    while (i < attempts.length && attempts[i]!.at < r.at) out.push(attempts[i++]!);
    out.push(r);
  }
  return out.concat(attempts.slice(i));
}

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
    return inTrailOrder(records);
  } finally {
    await jsm.consumers.delete(AUDIT_STREAM, ci.name).catch(() => false);
  }
}
