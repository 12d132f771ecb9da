/**
 * One incident: a finding carried through remediation — delete, notify, summarise, report to the
 * offender workflow, revoke a KMS key — with operator controls and an audit trail. Orchestration
 * only: every side effect is an activity, the state lives in IncidentCase, the steps in
 * incident-steps.ts.
 */
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { ActivityFailure, condition, log, patched, proxyActivities, proxyLocalActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import {
  credentialCall,
  internalCall,
  kmsCall,
  localAuditCall,
  localCall,
  slackCall,
  slackDeleteTaskQueue,
  type IncidentInput,
  type IncidentState,
  type CredentialActivities,
  type InternalActivities,
  type KmsActivities,
  type OperatorAction,
  type QuarantineActivities,
  type SlackActivities,
} from '../contract';
import { IncidentCase, requireActor, requireAwaitingDecision, requireDismissable, requireNeedsAttention, requireOpen, requireReviewable } from './incident-case';
import {
  approveSignal,
  approveUpdate,
  discardSignal,
  discardUpdate,
  dismissSignal,
  dismissUpdate,
  escalateSignal,
  escalateUpdate,
  rejectSignal,
  rejectUpdate,
  restoreSignal,
  restoreUpdate,
  retrySignal,
  retryUpdate,
  stateQuery,
} from './incident-messages';
import { perform, planFor, remove, REMOVALS, type Step, type StepResult } from './incident-steps';

const internal = proxyActivities<InternalActivities>(internalCall);
const local = proxyLocalActivities<InternalActivities>(localCall);
const localAudit = proxyLocalActivities<InternalActivities>(localAuditCall);

/** Versions of this workflow's behaviour that changed the commands it issues (see patched()). */
export const Patches = {
  /** Handlers, audit appends and notices are drained before the incident is marked closed, not after. */
  drainBeforeClose: 'drain-before-close',
  /**
   * Audit appends run as local activities instead of activities on the main task queue: six fewer
   * activity tasks per incident for the server to queue, match and record, which is most of its
   * work in a burst (and what kept first workflow tasks, hence deletions, waiting).
   */
  localAudit: 'local-audit',
  /**
   * A notice (notify, summary) that fails for good no longer holds back the revocations after it:
   * it waits for an operator's retry once they have run.
   */
  deferFailedNotices: 'defer-failed-notices',
  /**
   * An incident whose first step takes the message down (delete, redact, tombstone, quarantine)
   * schedules it in its first workflow task, alone, on the deletion queue named after its own task
   * queue; the settings and the opening audit record follow once it is done. A local activity in
   * that task held it open, and with it the removal, for two local-activity round trips (the
   * settings, then the opening audit append).
   */
  removalFirst: 'removal-first',
  /**
   * An incident's audit records are appended several at a time (IncidentCase.audit): at once only
   * when an operator decided one or the incident rests, else before a step other than a Slack one,
   * or together when it closes. Two local activities for a deleted message (settings, then the
   * trail) instead of six, and 40% fewer activations of the workflow thread in a burst.
   */
  batchedAudit: 'batched-audit',
} as const;

/** Steps whose permanent failure may wait until the end (patched `defer-failed-notices`). */
const DEFERRABLE: ReadonlySet<Step> = new Set(['notify', 'summary']);
/** Steps that are one Slack call or two: quick, unless Slack is failing (then the incident comes to rest, and the trail is written). */
const SLACK_STEPS: ReadonlySet<Step> = new Set([...REMOVALS, 'notify', 'summary', 'report']);
/** The steps a failed notice must not hold back. */
const REMEDIATIONS: ReadonlySet<Step> = new Set(['revoke_kms', 'revoke_credential']);

/** One operator control: an Update (validated, answers the caller) and a Signal of the same name that reuses its validator. */
interface Control {
  update: UpdateDefinition<IncidentState, [OperatorAction]>;
  signal: SignalDefinition<[OperatorAction]>;
  /** Throws with the reason when the action does not apply now. */
  validate(c: IncidentCase, a: OperatorAction): void;
  apply(c: IncidentCase, a: OperatorAction): void;
}

const CONTROLS: Control[] = [
  { update: dismissUpdate, signal: dismissSignal, validate: (c) => requireDismissable(c), apply: (c, a) => c.dismiss(a) },
  { update: approveUpdate, signal: approveSignal, validate: (c) => requireAwaitingDecision(c), apply: (c, a) => c.decide('approve', a) },
  { update: rejectUpdate, signal: rejectSignal, validate: (c) => requireAwaitingDecision(c), apply: (c, a) => c.decide('reject', a) },
  { update: retryUpdate, signal: retrySignal, validate: (c) => requireNeedsAttention(c), apply: (c, a) => c.requestRetry(a) },
  { update: escalateUpdate, signal: escalateSignal, validate: (c) => requireOpen(c), apply: (c, a) => c.escalate(a) },
  { update: restoreUpdate, signal: restoreSignal, validate: (c) => requireReviewable(c), apply: (c, a) => c.review('restore', a) },
  { update: discardUpdate, signal: discardSignal, validate: (c) => requireReviewable(c), apply: (c, a) => c.review('discard', a) },
];

function registerControls(c: IncidentCase): void {
  setHandler(stateQuery, () => c.state);
  for (const control of CONTROLS) {
    const validator = (a: OperatorAction) => {
      requireActor(a);
      control.validate(c, a);
    };
    setHandler(control.update, (a) => (control.apply(c, a), c.state), { validator });
    // A signal cannot answer its sender: one that does not apply is left out and logged.
    setHandler(control.signal, (a) => {
      try {
        validator(a);
      } catch (err) {
        log.warn('operator signal ignored', { signal: control.signal.name, incidentId: c.state.incidentId, by: a?.by, reason: (err as Error).message });
        return;
      }
      control.apply(c, a);
    });
  }
}

export async function incidentWorkflow(input: IncidentInput): Promise<IncidentState> {
  const actions = new Set(input.rule.actions);
  const plan = planFor(actions, input.credential !== undefined);
  const auditor = patched(Patches.localAudit) ? localAudit : internal;
  const incident = new IncidentCase(input, plan, patched(Patches.batchedAudit) ? { kind: 'batched', append: (rs) => localAudit.appendAudits(rs) } : { kind: 'each', append: (r) => auditor.appendAudit(r) });
  const { state } = incident;
  registerControls(incident);

  // The removal first (patched `removal-first`): nothing else in this workflow task, since a local
  // activity would keep the task, and the removal's command with it, from going back to the server.
  const openedAt = new Date().toISOString();
  const first = plan[0];
  let headStart: { step: Step; result: Promise<StepResult> } | undefined;
  if (first !== undefined && REMOVALS.has(first) && input.source === 'slack' && patched(Patches.removalFirst)) {
    incident.setStatus('remediating');
    const early = proxyActivities<SlackActivities>({ ...slackCall, taskQueue: slackDeleteTaskQueue(workflowInfo().taskQueue) });
    const result = remove(first, { input, incident, slackDelete: early });
    headStart = { step: first, result };
    // Settled either way; carryOut takes its outcome or its failure.
    await result.catch(() => undefined);
  }
  const removedFirst = headStart !== undefined;
  /** The removal that went out first, once, for the step it belongs to. */
  const takeHeadStart = (step: Step): Promise<StepResult> | undefined => {
    if (headStart?.step !== step) return undefined;
    const { result } = headStart;
    headStart = undefined;
    return result;
  };

  // A stateful rule may revoke the key of an earlier step's channel; the argument of incidents without one is unchanged.
  const settings = await local.remediationSettings(input.keyChannel ?? input.channel);
  const slack = proxyActivities<SlackActivities>({ ...slackCall, taskQueue: settings.slackTaskQueue });
  const slackDelete = proxyActivities<SlackActivities>({ ...slackCall, taskQueue: settings.slackDeleteTaskQueue ?? settings.slackTaskQueue });
  const kms = proxyActivities<KmsActivities>({ ...kmsCall, taskQueue: settings.kmsTaskQueue });
  const credentials = proxyActivities<CredentialActivities>({ ...credentialCall, taskQueue: settings.credentialsTaskQueue ?? settings.kmsTaskQueue });
  const quarantine = proxyActivities<QuarantineActivities>({ ...slackCall, taskQueue: settings.slackTaskQueue });
  // The fingerprint goes on the record so that the trail can tell when the same secret leaks again.
  const fingerprint = input.match.fingerprint ? ` (${input.match.fingerprint})` : '';
  incident.audit({ kind: 'decision', step: 'open', outcome: 'opened', detail: `rule ${input.rule.id} (${input.rule.severity}) matched ${input.match.redacted}${fingerprint}; plan: ${plan.join(', ') || 'record only'}` }, removedFirst ? openedAt : undefined);
  if (!removedFirst) incident.setStatus('remediating');

  // An escalation tells the security channel. If Slack refuses, the incident carries on: the
  // refusal is kept as a warning and audited, never left as a rejection that would wedge the workflow.
  incident.onEscalate = (a, n) => {
    if (!settings.securityChannel) return;
    const text = `:warning: <@${a.by}> escalated Sentinel incident \`${input.incidentId}\` (rule ${input.rule.id}, ${state.status})${a.reason ? `: ${a.reason}` : ''}`;
    incident.track(
      slack.postSecurityNotice({ incidentId: input.incidentId, channel: settings.securityChannel, text, key: `${input.incidentId}#escalation-${n}` }).then(
        () => undefined,
        (err: unknown) => {
          if (!(err instanceof ActivityFailure)) throw err;
          incident.warn('escalation_notice', err.cause?.message ?? err.message);
        },
      ),
    );
  };

  // Escalations that came while the removal ran, before there was anywhere to send their notices.
  if (removedFirst) for (const [i, e] of (state.escalations ?? []).entries()) incident.onEscalate({ by: e.by, ...(e.reason ? { reason: e.reason } : {}) }, i + 1);

  const context = { input, settings, incident, slack, slackDelete, kms, credentials, quarantine, internal };
  // Notices that failed for good (patched `defer-failed-notices`), each with Slack's reason: they
  // wait for an operator once the steps that matter more (revocations) have run.
  const deferred: { step: Step; reason: string }[] = [];
  /**
   * Runs `step` until it is done or the incident dismissed. A failure puts the incident in
   * needs_attention until an operator retries or dismisses it; `failedWith`: it already failed so.
   */
  const carryOut = async (step: Step, failedWith?: string): Promise<void> => {
    let reason = failedWith;
    for (;;) {
      // A dismissed incident takes no further step but the review of a quarantined message: a decision
      // already taken is carried out, a copy nobody decided on is discarded. Plans without it stop as before.
      // (A removal already under way when the incident was dismissed is recorded: it happened.)
      if (state.dismissed && step !== 'review' && headStart?.step !== step) return;
      if (reason === undefined) {
        // What the trail has not been told yet goes before a step that may take a while; the
        // Slack steps are quick, and their records go with the next append (batched sink only).
        if (!SLACK_STEPS.has(step)) incident.writeAudit();
        try {
          const [outcome, detail] = await (takeHeadStart(step) ?? perform(step, context));
          incident.record(step, outcome, detail);
          return;
        } catch (err) {
          if (!(err instanceof ActivityFailure)) throw err;
          reason = err.cause?.message ?? err.message;
          incident.record(step, 'failed', reason);
          // Telling the author or the security channel must not hold back a revocation after it:
          // the remediation goes on, and the notice waits for an operator at the end.
          if (failedWith === undefined && DEFERRABLE.has(step) && plan.some((later) => REMEDIATIONS.has(later) && plan.indexOf(later) > plan.indexOf(step)) && patched(Patches.deferFailedNotices)) {
            deferred.push({ step, reason });
            incident.audit({ kind: 'decision', step, outcome: 'deferred', detail: 'the remediation goes on; this step waits for an operator once it is done' });
            return;
          }
        }
      }
      state.failed = { step, reason };
      incident.setStatus('needs_attention');
      await condition(() => incident.retryRequested !== undefined || state.dismissed !== undefined);
      if (state.dismissed) return;
      const retry = incident.retryRequested!;
      incident.audit({ kind: 'operator', step, outcome: 'retry', actor: retry.by, ...(retry.reason ? { detail: retry.reason } : {}) });
      incident.retryRequested = undefined;
      state.failed = undefined;
      incident.setStatus('remediating');
      reason = undefined;
    }
  };
  const carryOutDeferred = async () => {
    for (let d = deferred.shift(); d; d = deferred.shift()) await carryOut(d.step, d.reason);
  };
  for (const step of plan) {
    // A quarantined message's review may wait for weeks: deferred notices come before it.
    if (step === 'review') await carryOutDeferred();
    await carryOut(step);
  }
  await carryOutDeferred();
  if (state.dismissed) state.pending = [];
  // Everything an operator or a step started finishes before the incident says it is closed: an
  // escalation accepted now is still carried out and on the trail before the close record.
  // (Batched, what is not yet written waits for the close record, to go in one append with it.)
  if (patched(Patches.drainBeforeClose)) await incident.drain({ write: false });
  incident.setStatus(state.dismissed ? 'dismissed' : 'resolved');
  incident.audit({ kind: 'decision', step: 'close', outcome: state.status });
  await incident.drain();
  return state;
}
