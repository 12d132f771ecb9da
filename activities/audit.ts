/**
 * The audit trail: one JSON record per decision and per action outcome, appended to the AUDIT
 * stream (deny-delete, deny-purge), so the record outlives Temporal's history retention.
 */
import type { JetStreamClient } from 'nats';
import { activityMetrics } from './metrics';
import { auditRecordId, auditSubject, type AuditRecord, type InternalActivities } from '../contract';

export interface AuditWriter {
  /** Appends once: a retried append with the same `dedupeKey` is dropped by the stream. Answers whether it was new. */
  append(record: AuditRecord, dedupeKey: string): Promise<boolean>;
}

export function jetStreamAudit(js: JetStreamClient): AuditWriter {
  return {
    async append(record, dedupeKey) {
      return !(await js.publish(auditSubject(record.incidentId), JSON.stringify(record), { msgID: dedupeKey })).duplicate;
    },
  };
}

export function createAuditActivities(audit: AuditWriter) {
  const append = async (record: AuditRecord) => {
    // Counted once: a batch retried after some of its records went in appends only the rest.
    const added = await audit.append(record, auditRecordId(record.incidentId, record.seq ?? record.at, record.chain));
    if (added && record.kind === 'action') activityMetrics.steps.inc({ step: record.step, outcome: record.outcome });
  };
  return {
    async appendAudit(record) {
      await append(record);
    },
    async appendAudits(records) {
      for (const record of records) await append(record);
    },
  } satisfies Pick<InternalActivities, 'appendAudit' | 'appendAudits'>;
}
