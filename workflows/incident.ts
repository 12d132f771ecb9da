/**
 * One incident: a finding carried through remediation — delete, notify, summarise, report to the
 * offender workflow, revoke a KMS key — with operator controls and an audit trail. Orchestration
 * only; every side effect is an activity.
 */
import {
  ActivityFailure,
  condition,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities, KmsActivities, SlackActivities } from '../activities';
import { FailureType } from './failures';
import {
  approveSignal,
  approveUpdate,
  dismissSignal,
  dismissUpdate,
  escalateSignal,
  escalateUpdate,
  rejectSignal,
  rejectUpdate,
  retrySignal,
  retryUpdate,
  stateQuery,
  type OperatorAction,
} from './incident-messages';
import { SentinelStatus } from './search-attributes';
import type { AuditRecord, IncidentInput, IncidentState, IncidentStatus, StepRecord } from './types';

/** Slack calls: Temporal retries transient failures and 429s (after Slack's Retry-After); permanent refusals stop at once. */
export const slackCall: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 20, nonRetryableErrorTypes: [FailureType.SlackPermanent] },
};

/** KMS calls: throttling and outages back off; a missing key or bad ARN stops at once. */
export const kmsCall: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 15, nonRetryableErrorTypes: [FailureType.KmsPermanent] },
};

/** Audit appends and offender reports: our own infrastructure, retried until it is back. */
export const internalCall: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};

const internal = proxyActivities<Activities>(internalCall);
const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '5s' });

/** The order actions run in: stop the leak first, then explain, then record and escalate. */
const ORDER = ['delete', 'notify', 'summary', 'report', 'revoke_kms'] as const;
type Step = (typeof ORDER)[number];

const reasonOf = (err: ActivityFailure) => err.cause?.message ?? err.message;

export async function incidentWorkflow(input: IncidentInput): Promise<IncidentState> {
  const actions = new Set(input.rule.actions);
  const plan: Step[] = ORDER.filter((s) => (s === 'summary' || s === 'report' ? !actions.has('none') : actions.has(s)));
  const state: IncidentState = {
    incidentId: input.incidentId,
    status: 'open',
    rule: input.rule,
    match: input.match,
    message: { team: input.team, channel: input.channel, user: input.user, ts: input.ts },
    steps: [],
    pending: [...plan],
  };
  let retryRequested: OperatorAction | undefined;
  let seq = 0;
  const auditing: Promise<void>[] = [];
  const audit = (r: Omit<AuditRecord, 'incidentId' | 'seq' | 'at'>) => {
    auditing.push(internal.appendAudit({ incidentId: input.incidentId, seq: ++seq, at: new Date().toISOString(), ...r }));
  };
  const setStatus = (status: IncidentStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: SentinelStatus, value: status }]);
  };
  const record = (step: Step, outcome: StepRecord['outcome'], detail?: string) => {
    state.steps.push({ step, outcome, at: new Date().toISOString(), ...(detail ? { detail } : {}) });
    if (outcome !== 'failed') state.pending = state.pending.filter((p) => p !== step);
    audit({ kind: 'action', step, outcome, ...(detail ? { detail } : {}) });
  };
  const closed = () => state.status === 'resolved' || state.status === 'dismissed';

  // Operator controls: updates answer the caller (and validate first); signals do the same from the Web UI.
  const requireActor = (a: OperatorAction) => {
    if (!a?.by?.trim()) throw new Error('say who you are: "by" is required');
  };
  const dismiss = (a: OperatorAction) => {
    state.dismissed = { by: a.by, reason: a.reason ?? '', at: new Date().toISOString() };
    audit({ kind: 'operator', step: 'dismiss', outcome: 'dismissed', actor: a.by, ...(a.reason ? { detail: a.reason } : {}) });
  };
  const decide = (decision: 'approve' | 'reject') => (a: OperatorAction) => {
    state.approval = { decision, by: a.by, at: new Date().toISOString(), ...(a.reason ? { reason: a.reason } : {}) };
    audit({ kind: 'operator', step: 'revoke_kms', outcome: decision === 'approve' ? 'approved' : 'rejected', actor: a.by, ...(a.reason ? { detail: a.reason } : {}) });
  };
  let escalationNotice: ((a: OperatorAction) => void) | undefined = undefined;
  const escalate = (a: OperatorAction) => {
    state.escalations = [...(state.escalations ?? []), { by: a.by, at: new Date().toISOString(), ...(a.reason ? { reason: a.reason } : {}) }];
    audit({ kind: 'operator', step: 'escalate', outcome: 'escalated', actor: a.by, ...(a.reason ? { detail: a.reason } : {}) });
    escalationNotice?.(a);
  };
  setHandler(stateQuery, () => state);
  setHandler(dismissUpdate, (a) => (dismiss(a), state), {
    validator: (a) => {
      requireActor(a);
      if (closed()) throw new Error(`incident is already ${state.status}`);
    },
  });
  setHandler(dismissSignal, (a) => void (!closed() && a?.by && dismiss(a)));
  for (const [update, signal, decision] of [
    [approveUpdate, approveSignal, 'approve'],
    [rejectUpdate, rejectSignal, 'reject'],
  ] as const) {
    setHandler(update, (a) => (decide(decision)(a), state), {
      validator: (a) => {
        requireActor(a);
        if (state.status !== 'awaiting_approval') throw new Error(`no revocation is awaiting approval (status ${state.status})`);
        if (state.approval) throw new Error(`the revocation was already ${state.approval.decision === 'approve' ? 'approved' : 'rejected'} by ${state.approval.by}`);
      },
    });
    setHandler(signal, (a) => void (state.status === 'awaiting_approval' && !state.approval && a?.by && decide(decision)(a)));
  }
  setHandler(retryUpdate, (a) => ((retryRequested = a), state), {
    validator: (a) => {
      requireActor(a);
      if (state.status !== 'needs_attention') throw new Error(`nothing to retry: the incident is ${state.status}`);
    },
  });
  setHandler(retrySignal, (a) => void (state.status === 'needs_attention' && a?.by && (retryRequested = a)));
  setHandler(escalateUpdate, (a) => (escalate(a), state), {
    validator: (a) => {
      requireActor(a);
      if (state.status === 'dismissed') throw new Error('the incident was dismissed');
    },
  });
  setHandler(escalateSignal, (a) => void (a?.by && escalate(a)));

  const settings = await local.remediationSettings(input.channel);
  const slack = proxyActivities<SlackActivities>({ ...slackCall, taskQueue: settings.slackTaskQueue });
  const kms = proxyActivities<KmsActivities>({ ...kmsCall, taskQueue: settings.kmsTaskQueue });
  // The fingerprint goes on the record so that the trail can tell when the same secret leaks again.
  const fingerprint = input.match.fingerprint ? ` (${input.match.fingerprint})` : '';
  audit({ kind: 'decision', step: 'open', outcome: 'opened', detail: `rule ${input.rule.id} (${input.rule.severity}) matched ${input.match.redacted}${fingerprint}; plan: ${plan.join(', ') || 'record only'}` });
  setStatus('remediating');

  escalationNotice = (a) => {
    if (!settings.securityChannel) return;
    const n = state.escalations?.length ?? 0;
    const text = `:warning: <@${a.by}> escalated Sentinel incident \`${input.incidentId}\` (rule ${input.rule.id}, ${state.status})${a.reason ? `: ${a.reason}` : ''}`;
    auditing.push(slack.postSecurityNotice({ incidentId: input.incidentId, channel: settings.securityChannel, text, key: `${input.incidentId}#escalation-${n}` }).then(() => undefined));
  };

  const summary = () =>
    `:rotating_light: Sentinel incident \`${input.incidentId}\`: rule *${input.rule.id}* (${input.rule.severity}, ${input.rule.category}) ` +
    `matched \`${input.match.redacted}\` from <@${input.user}> in <#${input.channel}>. Actions: ${[...actions].join(', ')}.` +
    (input.match.excerpt ? `\n> ${input.match.excerpt}` : '') +
    (input.match.fingerprint ? `\nFingerprint \`${input.match.fingerprint}\`` : '');

  /** Runs one step; `skipped`/`rejected` are outcomes too. Throws ActivityFailure when it fails. */
  async function perform(step: Step): Promise<[StepRecord['outcome'], string?]> {
    // Remediation speaks Slack; other sources are detected, recorded and escalated only.
    if (input.source !== 'slack' && (step === 'delete' || step === 'notify')) return ['skipped', `no ${step} for source ${input.source}`];
    switch (step) {
      case 'delete': {
        const r = await slack.deleteMessage({ channel: input.channel, ts: input.ts, incidentId: input.incidentId });
        return [r === 'deleted' ? 'done' : 'already_done'];
      }
      case 'notify': {
        const r = await slack.notifyUser({ incidentId: input.incidentId, user: input.user, channel: input.channel, text: input.rule.message, mode: settings.notifyMode });
        return [r === 'posted' ? 'done' : 'already_done', settings.notifyMode];
      }
      case 'summary': {
        if (!settings.securityChannel) return ['skipped', 'no security channel configured'];
        const r = await slack.postSecurityNotice({ incidentId: input.incidentId, channel: settings.securityChannel, text: summary(), key: `${input.incidentId}#summary` });
        return [r === 'posted' ? 'done' : 'already_done'];
      }
      case 'report': {
        const offender = await internal.reportOffense({
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
          setStatus('awaiting_approval');
          audit({ kind: 'decision', step: 'revoke_kms', outcome: 'awaiting_approval', detail: `${keyArn}; default ${settings.approvalDefault} after ${settings.approvalTimeout}` });
          const decided = await condition(() => state.approval !== undefined || state.dismissed !== undefined, settings.approvalTimeout);
          if (!decided) {
            state.approval = { decision: settings.approvalDefault, by: 'timeout', at: new Date().toISOString() };
            audit({ kind: 'decision', step: 'revoke_kms', outcome: settings.approvalDefault === 'approve' ? 'approved' : 'rejected', actor: 'timeout' });
          }
          if (state.dismissed) return ['skipped', 'dismissed'];
          setStatus('remediating');
        }
        if (state.approval?.decision === 'reject') return ['rejected', `${keyArn} left enabled`];
        const r = await kms.revokeKey({ keyArn, action: settings.kmsAction, pendingDays: settings.kmsPendingDays });
        return [r.outcome === 'revoked' ? 'done' : 'already_done', `${keyArn} ${r.keyState}`];
      }
    }
  }

  for (const step of plan) {
    for (;;) {
      if (state.dismissed) break;
      try {
        const [outcome, detail] = await perform(step);
        record(step, outcome, detail);
        break;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        record(step, 'failed', reasonOf(err));
        state.failed = { step, reason: reasonOf(err) };
        setStatus('needs_attention');
        await condition(() => retryRequested !== undefined || state.dismissed !== undefined);
        if (state.dismissed) break;
        audit({ kind: 'operator', step, outcome: 'retry', actor: retryRequested!.by, ...(retryRequested!.reason ? { detail: retryRequested!.reason } : {}) });
        retryRequested = undefined;
        state.failed = undefined;
        setStatus('remediating');
      }
    }
    if (state.dismissed) break;
  }
  if (state.dismissed) state.pending = [];
  setStatus(state.dismissed ? 'dismissed' : 'resolved');
  audit({ kind: 'decision', step: 'close', outcome: state.status });
  await Promise.all(auditing);
  return state;
}
