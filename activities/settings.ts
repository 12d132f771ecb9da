/** The configuration incidents run with, handed to workflows through a (local) activity. */
import type { InternalActivities, RemediationSettings } from '../contract';

/** What the worker's configuration says about remediation (src/config.ts reads it from the environment). */
export interface SettingsDeps {
  remediation: Pick<RemediationSettings, 'notifyMode' | 'securityChannel' | 'approvalTimeout' | 'approvalDefault'> & { quarantineRetentionMs?: number };
  kms: { action: RemediationSettings['kmsAction']; pendingDays: number; taskQueue: string; channelKeys: Record<string, string> };
  /** The task queues the workflow sends Slack work to: deletions, and everything else. */
  slackTaskQueue: string;
  slackDeleteTaskQueue: string;
  /** Where leaked credentials are verified and revoked (the credential workers); unset: the verify step is skipped. */
  credentialsTaskQueue?: string;
}

export function createSettingsActivities(d: SettingsDeps) {
  return {
    /** Settings for an incident in `channel` (its customer-managed key included). */
    async remediationSettings(channel) {
      return {
        notifyMode: d.remediation.notifyMode,
        securityChannel: d.remediation.securityChannel,
        approvalTimeout: d.remediation.approvalTimeout,
        approvalDefault: d.remediation.approvalDefault,
        kmsAction: d.kms.action,
        kmsPendingDays: d.kms.pendingDays,
        channelKeyArn: d.kms.channelKeys[channel],
        slackTaskQueue: d.slackTaskQueue,
        slackDeleteTaskQueue: d.slackDeleteTaskQueue,
        kmsTaskQueue: d.kms.taskQueue,
        ...(d.credentialsTaskQueue ? { credentialsTaskQueue: d.credentialsTaskQueue } : {}),
        ...(d.remediation.quarantineRetentionMs !== undefined ? { quarantineRetentionMs: d.remediation.quarantineRetentionMs } : {}),
      };
    },
  } satisfies Pick<InternalActivities, 'remediationSettings'>;
}
