/**
 * The steps of an incident, in the order they run: stop the leak first, then explain, then record
 * and escalate. Each step is a function of the incident's input, settings and case; it returns its
 * outcome or throws the ActivityFailure of the call that failed.
 */
import { condition, type ActivityInterfaceFor } from '@temporalio/workflow';
import type { IncidentInput, InternalActivities, KmsActivities, RemediationSettings, SlackActivities, StepRecord } from '../contract';
import type { IncidentCase } from './incident-case';

export const ORDER = ['delete', 'notify', 'summary', 'report', 'revoke_kms'] as const;
export type Step = (typeof ORDER)[number];

/** The steps an incident takes for its rule's actions: summary and report unless the rule asks for none. */
export function planFor(actions: ReadonlySet<string>): Step[] {
  return ORDER.filter((s) => (s === 'summary' || s === 'report' ? !actions.has('none') : actions.has(s)));
}

export interface StepContext {
  input: IncidentInput;
  settings: RemediationSettings;
  incident: IncidentCase;
  slack: ActivityInterfaceFor<SlackActivities>;
  /** The same activities on the deletion task queue. */
  slackDelete: ActivityInterfaceFor<SlackActivities>;
  kms: ActivityInterfaceFor<KmsActivities>;
  internal: ActivityInterfaceFor<InternalActivities>;
}

export type StepResult = [StepRecord['outcome'], string?];

/** The security channel's summary of an incident: redacted match, excerpt and fingerprint only. */
export function summaryText(input: IncidentInput): string {
  return (
    `:rotating_light: Sentinel incident \`${input.incidentId}\`: rule *${input.rule.id}* (${input.rule.severity}, ${input.rule.category}) ` +
    `matched \`${input.match.redacted}\` from <@${input.user}> in <#${input.channel}>. Actions: ${[...new Set(input.rule.actions)].join(', ')}.` +
    (input.match.excerpt ? `\n> ${input.match.excerpt}` : '') +
    (input.match.fingerprint ? `\nFingerprint \`${input.match.fingerprint}\`` : '')
  );
}

/** Runs one step; `skipped`/`rejected` are outcomes too. */
export async function perform(step: Step, c: StepContext): Promise<StepResult> {
  const { input, settings, incident } = c;
  const { state } = incident;
  // Remediation speaks Slack; other sources are detected, recorded and escalated only.
  if (input.source !== 'slack' && (step === 'delete' || step === 'notify')) return ['skipped', `no ${step} for source ${input.source}`];
  switch (step) {
    case 'delete': {
      const r = await c.slackDelete.deleteMessage({ channel: input.channel, ts: input.ts, incidentId: input.incidentId });
      return [r === 'deleted' ? 'done' : 'already_done'];
    }
    case 'notify': {
      const r = await c.slack.notifyUser({ incidentId: input.incidentId, user: input.user, channel: input.channel, text: input.rule.message, mode: settings.notifyMode });
      return [r === 'posted' ? 'done' : 'already_done', settings.notifyMode];
    }
    case 'summary': {
      if (!settings.securityChannel) return ['skipped', 'no security channel configured'];
      const r = await c.slack.postSecurityNotice({ incidentId: input.incidentId, channel: settings.securityChannel, text: summaryText(input), key: `${input.incidentId}#summary`, digest: true });
      return [r === 'posted' ? 'done' : 'already_done'];
    }
    case 'report': {
      const offender = await c.internal.reportOffense({
        source: input.source,
        team: input.team,
        user: input.user,
        offense: { incidentId: input.incidentId, ruleId: input.rule.id, severity: input.rule.severity, at: input.detectedAt },
      });
      return ['done', offender];
    }
    case 'revoke_kms': {
      const keyArn = input.kmsKeyArn ?? settings.channelKeyArn;
      if (!keyArn) return ['skipped', 'no key named in the message and none configured for the channel'];
      if (input.rule.approvalRequired && !state.approval) {
        incident.setStatus('awaiting_approval');
        incident.audit({ kind: 'decision', step: 'revoke_kms', outcome: 'awaiting_approval', detail: `${keyArn}; default ${settings.approvalDefault} after ${settings.approvalTimeout}` });
        const decided = await condition(() => state.approval !== undefined || state.dismissed !== undefined, settings.approvalTimeout);
        if (!decided) {
          state.approval = { decision: settings.approvalDefault, by: 'timeout', at: new Date().toISOString() };
          incident.audit({ kind: 'decision', step: 'revoke_kms', outcome: settings.approvalDefault === 'approve' ? 'approved' : 'rejected', actor: 'timeout' });
        }
        if (state.dismissed) return ['skipped', 'dismissed'];
        incident.setStatus('remediating');
      }
      if (state.approval?.decision === 'reject') return ['rejected', `${keyArn} left enabled`];
      const r = await c.kms.revokeKey({ keyArn, action: settings.kmsAction, pendingDays: settings.kmsPendingDays });
      return [r.outcome === 'revoked' ? 'done' : 'already_done', `${keyArn} ${r.keyState}`];
    }
  }
}
