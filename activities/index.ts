/**
 * Every activity, built from the clients the worker hands in. Three groups, three task queues:
 * the remediation queue (audit, offender reports, settings), the rate-limited Slack queue, and
 * the KMS queue whose workers alone hold KMS credentials.
 */
import { createAuditActivities, type AuditWriter } from './audit';
import { createKmsActivities } from './kms';
import { createOffenderActivities, type OffenderDeps } from './offender';
import { createSettingsActivities, type SettingsDeps } from './settings';
import { createSlackActivities, type SlackClients } from './slack';

export interface ActivityDeps {
  audit: AuditWriter;
  offender: OffenderDeps;
  settings: SettingsDeps;
}

/** Activities of the remediation task queue. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createAuditActivities(deps.audit),
    ...createOffenderActivities(deps.offender),
    ...createSettingsActivities(deps.settings),
  };
}

/** Activities of the Slack task queue. */
export function createSlackQueueActivities(slack: SlackClients, audit: AuditWriter) {
  return createSlackActivities(slack, audit);
}

export { createKmsActivities };

export type Activities = ReturnType<typeof createActivities>;
export type SlackActivities = ReturnType<typeof createSlackActivities>;
export type KmsActivities = ReturnType<typeof createKmsActivities>;
