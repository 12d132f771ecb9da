/**
 * The remediation worker's activities, built from the clients it hands in: the remediation queue's
 * (audit, offender reports, settings) and the rate-limited Slack queue's. The KMS and credential
 * queues' activities (kms.ts, credentials.ts) are imported by their own workers alone, which hold
 * the AWS credentials (src/worker/kms-workers.ts). Their interfaces live in contract/.
 */
import type { InternalActivities } from '../contract';
import { createAuditActivities, type AuditWriter } from './audit';
import type { NoticeLedger } from './notice-ledger';
import { createOffenderActivities, type OffenderDeps } from './offender';
import { createSettingsActivities, type SettingsDeps } from './settings';
import { createSlackActivities, type SlackActivityOptions, type SlackClients } from './slack';

export interface ActivityDeps {
  audit: AuditWriter;
  offender: OffenderDeps;
  settings: SettingsDeps;
}

/** Activities of the remediation task queue. */
export function createActivities(deps: ActivityDeps): InternalActivities {
  return {
    ...createAuditActivities(deps.audit),
    ...createOffenderActivities(deps.offender),
    ...createSettingsActivities(deps.settings),
  };
}

/** Activities of the Slack task queue. */
export function createSlackQueueActivities(slack: SlackClients, ledger: NoticeLedger, audit: AuditWriter, options: SlackActivityOptions = {}) {
  return createSlackActivities(slack, ledger, audit, options);
}
