/**
 * The audit trail: one JSON record per decision and per action outcome, appended to the AUDIT
 * stream (deny-delete, deny-purge), so the record outlives Temporal's history retention.
 */
import type { JetStreamClient } from 'nats';
import { activityMetrics } from './metrics';
import { auditRecordId, auditSubject, type AuditRecord, type InternalActivities } from '../contract';

export interface AuditWriter {
  /** Appends once: a retried append with the same `dedupeKey` is dropped by the stream. */
  append(record: AuditRecord, dedupeKey: string): Promise<void>;
}

export function jetStreamAudit(js: JetStreamClient): AuditWriter {
  return {
    async append(record, dedupeKey) {
      await js.publish(auditSubject(record.incidentId), JSON.stringify(record), { msgID: dedupeKey });
    },
  };
}

export function createAuditActivities(audit: AuditWriter) {
  return {
    async appendAudit(record) {
      await audit.append(record, auditRecordId(record.incidentId, record.seq ?? record.at, record.chain));
      if (record.kind === 'action') activityMetrics.steps.inc({ step: record.step, outcome: record.outcome });
    },
  } satisfies Pick<InternalActivities, 'appendAudit'>;
}
