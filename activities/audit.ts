/**
 * The audit trail: one JSON record per decision and per action outcome, appended to the AUDIT
 * stream (deny-delete, deny-purge), so the record outlives Temporal's history retention.
 */
import type { JetStreamClient } from 'nats';
import type { AuditRecord } from '../workflows/types';

/** The subject of an incident's trail: audit.<incident id with / replaced by .>. */
export function auditSubject(incidentId: string): string {
  return `audit.${incidentId.replaceAll('/', '.')}`;
}

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
    /** Appends a workflow decision or outcome; its seq makes a retried append a no-op. */
    async appendAudit(record: AuditRecord): Promise<void> {
      await audit.append(record, `${record.incidentId}#${record.seq ?? record.at}`);
    },
  };
}
