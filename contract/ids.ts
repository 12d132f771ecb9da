/**
 * Names shared by the detector, workflows, activities and the CLI: workflow ids, audit subjects and
 * idempotency keys. All derive from coordinates and rule ids, never from message text, so none can
 * carry a secret, and a redelivered event or a retried step maps to the same name.
 */

export interface MessageCoordinates {
  source: string;
  team: string;
  channel: string;
  ts: string;
}

/** incident/<source>/<team>/<channel>/<ts>/<rule>: a second start of the same id is refused by Temporal. */
export function incidentId(m: MessageCoordinates, ruleId: string): string {
  const parts = { source: m.source, team: m.team, channel: m.channel, ts: m.ts, ruleId };
  for (const [k, v] of Object.entries(parts)) {
    if (!v || v.includes('/')) throw new Error(`incident id part ${k}=${JSON.stringify(v)} is empty or contains "/"`);
  }
  return `incident/${m.source}/${m.team}/${m.channel}/${m.ts}/${ruleId}`;
}

/**
 * incident/<source>/<team>/<channel>/<ts>/<rule>/<key>: a stateful rule's match, named by the first
 * step's event and the rule's key (a user, file, channel or team id), so a replay, a restart or a
 * second correlator that finds the same match starts nothing new.
 */
export function statefulIncidentId(first: MessageCoordinates, ruleId: string, key: string): string {
  if (!key || key.includes('/')) throw new Error(`incident id part key=${JSON.stringify(key)} is empty or contains "/"`);
  return `${incidentId(first, ruleId)}/${key}`;
}

/** offender/<source>/<team>/<user>: one entity workflow per user. */
export function offenderId(source: string, team: string, user: string): string {
  return `offender/${source}/${team}/${user}`;
}

/** The subject of an incident's (or offender's) trail: audit.<workflow id with / replaced by .>. */
export function auditSubject(workflowId: string): string {
  return `audit.${workflowId.replaceAll('/', '.')}`;
}

/** The stream's de-duplication id of a workflow's audit record: its sequence number is unique in its chain of runs. */
export function auditRecordId(workflowId: string, seq: number | string, chain?: string): string {
  return chain ? `${workflowId}#${chain}#${seq}` : `${workflowId}#${seq}`;
}

/** The idempotency key of an incident's notification to its author. */
export function notifyKey(incidentId: string): string {
  return `${incidentId}#notify`;
}

/** The stream of quarantined messages' sealed copies (one per incident, kept for review). */
export const QUARANTINE_STREAM = 'QUARANTINE';

/** The subject of a quarantined message's sealed copy: quarantine.<incident id with / replaced by .>. */
export function quarantineSubject(incidentId: string): string {
  return `quarantine.${incidentId.replaceAll('/', '.')}`;
}

/** The idempotency key of a quarantined message's re-post after review. */
export function restoreKey(incidentId: string): string {
  return `${incidentId}#restore`;
}
