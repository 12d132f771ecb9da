/** The configuration incidents run with, handed to workflows through a (local) activity. */
import type { Config } from '../src/config';
import type { RemediationSettings } from '../workflows/types';

export interface SettingsDeps {
  remediation: Config['remediation'];
  kms: Config['kms'];
  /** Task queues the workflow sends Slack and KMS work to. */
  slackTaskQueue: string;
}

export type IncidentSettings = RemediationSettings & { slackTaskQueue: string; kmsTaskQueue: string; escalationSecurityChannel: string | undefined };

export function createSettingsActivities(d: SettingsDeps) {
  return {
    /** Settings for an incident in `channel` (its customer-managed key included). */
    async remediationSettings(channel: string): Promise<IncidentSettings> {
      return {
        notifyMode: d.remediation.notifyMode,
        securityChannel: d.remediation.securityChannel,
        escalationSecurityChannel: d.remediation.securityChannel,
        approvalTimeout: d.remediation.approvalTimeout,
        approvalDefault: d.remediation.approvalDefault,
        kmsAction: d.kms.action,
        kmsPendingDays: d.kms.pendingDays,
        channelKeyArn: d.kms.channelKeys[channel],
        slackTaskQueue: d.slackTaskQueue,
        kmsTaskQueue: d.kms.taskQueue,
      };
    },
  };
}
