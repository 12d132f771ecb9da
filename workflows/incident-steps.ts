/**
 * The steps of an incident, in the order they run: stop the leak first, then explain, then record
 * and escalate. Each step is a function of the incident's input, settings and case; it returns its
 * outcome or throws the ActivityFailure of the call that failed.
 */
import { ActivityFailure, condition, upsertSearchAttributes, type ActivityInterfaceFor } from '@temporalio/workflow';
import { controlsFor, SentinelCredential, SentinelSeverity, type CredentialActivities, type IncidentInput, type IncidentState, type InternalActivities, type KmsActivities, type QuarantineActivities, type RemediationSettings, type Severity, type SlackActivities, type StepRecord } from '../contract';
import type { IncidentCase } from './incident-case';

export const ORDER = ['delete', 'redact', 'tombstone', 'quarantine', 'notify', 'verify', 'summary', 'report', 'revoke_kms', 'revoke_credential', 'review'] as const;
export type Step = (typeof ORDER)[number];

/**
 * The steps an incident takes for its rule's actions: summary and report unless the rule asks for
 * none; verify whenever the message leaked a credential Sentinel can check (after the delete and
 * the author's notice, before the summary, which says whether it is live). Inputs without a
 * credential plan as before. The removals other than delete (redact, tombstone, quarantine) and
 * the review of a quarantined message are planned only for rules that ask for them, so incidents
 * of other rules plan, and replay, as before.
 */
export function planFor(actions: ReadonlySet<string>, hasCredential = false): Step[] {
  return ORDER.filter((s) => {
    if (s === 'summary' || s === 'report') return !actions.has('none');
    if (s === 'verify') return hasCredential;
    if (s === 'revoke_credential') return hasCredential && actions.has(s);
    // A quarantined message waits, last, for an operator's restore or discard.
    if (s === 'review') return actions.has('quarantine');
    return actions.has(s);
  });
}

const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical'];
/** One level up: a live credential is worse than a leaked string. */
export function raised(s: Severity): Severity {
  return SEVERITIES[Math.min(SEVERITIES.length - 1, SEVERITIES.indexOf(s) + 1)]!;
}

export interface StepContext {
  input: IncidentInput;
  settings: RemediationSettings;
  incident: IncidentCase;
  slack: ActivityInterfaceFor<SlackActivities>;
  /** The same activities on the deletion task queue. */
  slackDelete: ActivityInterfaceFor<SlackActivities>;
  kms: ActivityInterfaceFor<KmsActivities>;
  /** A quarantined message's restore or discard, on the Slack task queue. */
  quarantine: ActivityInterfaceFor<QuarantineActivities>;
  /** Verify and revoke leaked credentials, on the credentials task queue. */
  credentials: ActivityInterfaceFor<CredentialActivities>;
  internal: ActivityInterfaceFor<InternalActivities>;
}

export type StepResult = [StepRecord['outcome'], string?];

/** The security channel's summary of an incident: redacted match, excerpt, fingerprint and the credential's verdict only. */
export function summaryText(input: IncidentInput, credential?: IncidentState['credential']): string {
  const severity = credential?.outcome === 'live' ? raised(input.rule.severity) : input.rule.severity;
  return (
    `:rotating_light: Sentinel incident \`${input.incidentId}\`: rule *${input.rule.id}* (${severity}, ${input.rule.category}) ` +
    `matched \`${input.match.redacted}\` from <@${input.user}> in <#${input.channel}>. Actions: ${[...new Set(input.rule.actions)].join(', ')}.` +
    (input.match.excerpt ? `\n> ${input.match.excerpt}` : '') +
    (input.match.fingerprint ? `\nFingerprint \`${input.match.fingerprint}\`` : '') +
    (credential ? `\n${credentialLine(credential)}` : '')
  );
}

function credentialLine(c: NonNullable<IncidentState['credential']>): string {
  const who = c.principal ? ` (${c.principal})` : '';
  if (c.outcome === 'live') return `:red_circle: The credential is LIVE${who}: ${c.revocable ? 'it can be revoked from here' : 'only its owner can revoke it'}.`;
  if (c.outcome === 'invalid') return `The credential does not authenticate${who}: ${c.detail}.`;
  return `Whether the credential is live is unknown: ${c.detail}.`;
}

/** What a tombstoned message says instead: who removed it, under which rule, and where to look. */
export function tombstoneText(input: IncidentInput): string {
  return `:no_entry: This message was removed by Sentinel: ${input.rule.description}. Incident \`${input.incidentId}\`.`;
}

/** The quarantine retention when the settings predate it: SENTINEL_QUARANTINE_RETENTION's default. */
const DEFAULT_QUARANTINE_RETENTION_MS = 30 * 24 * 3600_000;

/**
 * A quarantined message waits for an operator's restore or discard until the retention, counted
 * from detection (the sealed copy's age), has passed: then it counts as discarded (expired). The
 * decision is carried out even when the incident was dismissed meanwhile; a copy nobody decided on
 * because the message was never removed (dismissed first, or not a Slack message) is discarded.
 */
async function review(c: StepContext): Promise<StepResult> {
  const { input, settings, incident } = c;
  const { state } = incident;
  if (!state.review) {
    const r = await c.quarantine.discardQuarantined({ incidentId: input.incidentId });
    return ['skipped', `nothing was quarantined: the message was not removed${r === 'discarded' ? '; its sealed copy was discarded' : ''}`];
  }
  if (state.review.decision === 'pending') {
    const retention = settings.quarantineRetentionMs ?? DEFAULT_QUARANTINE_RETENTION_MS;
    const deadline = Date.parse(input.detectedAt) + retention;
    incident.setStatus('awaiting_review');
    incident.audit({ kind: 'decision', step: 'review', outcome: 'awaiting_review', detail: `restore or discard; discarded as expired at ${new Date(deadline).toISOString()}` });
    const decided = await condition(() => state.review?.decision !== 'pending', Math.max(1000, deadline - Date.now()));
    if (!decided) {
      state.review = { decision: 'expired', by: 'timeout', at: new Date().toISOString() };
      incident.audit({ kind: 'decision', step: 'review', outcome: 'expired', actor: 'timeout' });
    }
    incident.setStatus('remediating');
  }
  const { decision, by } = state.review;
  if (decision === 'restore') {
    const r = await c.quarantine.restoreQuarantined({ incidentId: input.incidentId, by: by ?? 'unknown' });
    return [r.outcome === 'restored' ? 'done' : r.outcome === 'already_restored' ? 'already_done' : 'skipped', `restore by ${by}: ${r.detail}`];
  }
  const r = await c.quarantine.discardQuarantined({ incidentId: input.incidentId });
  const what = decision === 'expired' ? 'expired unreviewed' : `discard by ${by}`;
  return [r === 'discarded' ? 'done' : 'already_done', `${what}: ${r === 'discarded' ? 'sealed copy deleted' : 'no sealed copy left'}`];
}

/** Waits for an operator's approval of a revocation when the rule requires one; false when dismissed meanwhile. */
async function approved(step: Step, what: string, c: StepContext): Promise<boolean> {
  const { input, settings, incident } = c;
  const { state } = incident;
  if (!input.rule.approvalRequired || state.approval) return true;
  incident.awaiting = step;
  incident.setStatus('awaiting_approval');
  incident.audit({ kind: 'decision', step, outcome: 'awaiting_approval', detail: `${what}; default ${settings.approvalDefault} after ${settings.approvalTimeout}` });
  const decided = await condition(() => state.approval !== undefined || state.dismissed !== undefined, settings.approvalTimeout);
  if (!decided) {
    state.approval = { decision: settings.approvalDefault, by: 'timeout', at: new Date().toISOString() };
    incident.audit({ kind: 'decision', step, outcome: settings.approvalDefault === 'approve' ? 'approved' : 'rejected', actor: 'timeout' });
  }
  if (state.dismissed) return false;
  incident.setStatus('remediating');
  return true;
}

/** The steps that take the message out of the channel; they run on the deletion task queue. */
export const REMOVALS: ReadonlySet<Step> = new Set(['delete', 'redact', 'tombstone', 'quarantine']);

/** What a removal needs: no settings, so that it can go out before they are read (the `removal-first` patch). */
export type RemovalContext = Pick<StepContext, 'input' | 'incident' | 'slackDelete'>;

/** Runs one removal step (REMOVALS) of a Slack message. */
export async function remove(step: Step, c: RemovalContext): Promise<StepResult> {
  const { input, incident } = c;
  const { state } = incident;
  switch (step) {
    case 'delete': {
      const r = await c.slackDelete.deleteMessage({ channel: input.channel, ts: input.ts, incidentId: input.incidentId });
      return [r === 'deleted' ? 'done' : 'already_done'];
    }
    case 'redact':
    case 'tombstone': {
      // An input without the redacted text (it cannot be made) gets the notice: the secret never stays.
      const text = step === 'redact' && input.redactedText !== undefined ? input.redactedText : tombstoneText(input);
      const r = await c.slackDelete.updateMessage({ channel: input.channel, ts: input.ts, incidentId: input.incidentId, text, step });
      if (r === 'deleted_instead') return ['done', 'Slack refused the edit: the message was deleted instead'];
      return r === 'updated' ? ['done', step === 'redact' && input.redactedText === undefined ? 'no redacted text in the incident: replaced by the notice' : undefined] : ['already_done', 'message already gone'];
    }
    case 'quarantine': {
      // The detector sealed the text into QUARANTINE before it started this incident; now the message goes.
      const r = await c.slackDelete.deleteMessage({ channel: input.channel, ts: input.ts, incidentId: input.incidentId });
      state.review = { decision: 'pending' };
      return [r === 'deleted' ? 'done' : 'already_done', 'sealed copy kept for review'];
    }
    default:
      throw new Error(`${step} is not a removal`);
  }
}

/** Runs one step; `skipped`/`rejected` are outcomes too. */
export async function perform(step: Step, c: StepContext): Promise<StepResult> {
  const { input, settings, incident } = c;
  const { state } = incident;
  // Remediation speaks Slack; other sources are detected, recorded and escalated only.
  if (input.source !== 'slack' && (REMOVALS.has(step) || step === 'notify')) return ['skipped', `no ${step} for source ${input.source}`];
  switch (step) {
    case 'delete':
    case 'redact':
    case 'tombstone':
    case 'quarantine':
      return remove(step, c);
    case 'review':
      return review(c);
    case 'notify': {
      const r = await c.slack.notifyUser({ incidentId: input.incidentId, user: input.user, channel: input.channel, text: input.rule.message, mode: settings.notifyMode });
      return [r === 'posted' ? 'done' : 'already_done', settings.notifyMode];
    }
    case 'summary': {
      if (!settings.securityChannel) return ['skipped', 'no security channel configured'];
      const r = await c.slack.postSecurityNotice({ incidentId: input.incidentId, channel: settings.securityChannel, text: summaryText(input, state.credential), key: `${input.incidentId}#summary`, digest: true, controls: controlsFor(input.rule) });
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
    case 'verify': {
      const credential = input.credential;
      if (!credential) return ['skipped', 'no credential in the message'];
      if (!settings.credentialsTaskQueue) return ['skipped', 'no credential workers configured'];
      let v: Awaited<ReturnType<CredentialActivities['verifyCredential']>>;
      try {
        v = await c.credentials.verifyCredential({ incidentId: input.incidentId, ...credential });
      } catch (err) {
        // The provider could not be asked (down, throttling past the retries, Sentinel's own rights):
        // the incident goes on with the verdict unknown, and says why.
        if (!(err instanceof ActivityFailure)) throw err;
        v = { outcome: 'unknown', revocable: false, detail: `could not ask the provider: ${err.cause?.message ?? err.message}` };
      }
      state.credential = { kind: credential.kind, outcome: v.outcome, revocable: v.revocable, detail: v.detail, ...(v.principal ? { principal: v.principal } : {}) };
      upsertSearchAttributes([{ key: SentinelCredential, value: v.outcome }]);
      if (v.outcome === 'live') {
        state.severity = raised(input.rule.severity);
        upsertSearchAttributes([{ key: SentinelSeverity, value: state.severity }]);
      }
      return ['done', `${credential.kind} ${v.outcome}${v.principal ? ` (${v.principal})` : ''}: ${v.detail}`];
    }
    case 'revoke_credential': {
      const credential = input.credential;
      const verdict = state.credential;
      if (!credential) return ['skipped', 'no credential in the message'];
      if (!verdict || verdict.outcome !== 'live') return ['skipped', `credential ${verdict?.outcome ?? 'not verified'}: nothing to revoke`];
      if (!verdict.revocable) return ['skipped', `${verdict.principal ?? 'the credential'} is not Sentinel's to revoke`];
      const what = `${credential.kind} of ${verdict.principal ?? 'its owner'}`;
      if (!(await approved('revoke_credential', what, c))) return ['skipped', 'dismissed'];
      if (state.approval?.decision === 'reject') return ['rejected', `${what} left live`];
      const r = await c.credentials.revokeCredential({ incidentId: input.incidentId, ...credential, ...(verdict.principal ? { principal: verdict.principal } : {}) });
      return [r.outcome === 'revoked' ? 'done' : r.outcome === 'already_revoked' ? 'already_done' : 'skipped', r.detail];
    }
    case 'revoke_kms': {
      const keyArn = input.kmsKeyArn ?? settings.channelKeyArn;
      if (!keyArn) return ['skipped', 'no key named in the message and none configured for the channel'];
      if (!(await approved('revoke_kms', keyArn, c))) return ['skipped', 'dismissed'];
      if (state.approval?.decision === 'reject') return ['rejected', `${keyArn} left enabled`];
      const r = await c.kms.revokeKey({ keyArn, action: settings.kmsAction, pendingDays: settings.kmsPendingDays });
      return [r.outcome === 'revoked' ? 'done' : 'already_done', `${keyArn} ${r.keyState}`];
    }
  }
}
