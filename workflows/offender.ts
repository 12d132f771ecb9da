/**
 * One entity workflow per user (`offender/<source>/<team>/<user>`): counts the user's incidents in
 * sliding windows and escalates once per level while the user stays above it. Lives for months
 * through continueAsNew, draining its handlers first. An escalation's Slack side effects fail soft:
 * a refusal is audited and kept in the history, and the workflow (with the user's record) lives on.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  setWorkflowOptions,
  workflowInfo,
} from '@temporalio/workflow';
import { msToNumber } from '@temporalio/common/lib/time';
import { internalCall, localCall, slackCall, type EscalationLevel, type InternalActivities, type Offense, type SlackActivities } from '../contract';

export interface OffenderInput {
  source: string;
  team: string;
  user: string;
  levels: EscalationLevel[];
  offenses: Offense[];
  /** Levels (by index) escalated in the current episode, carried across continueAsNew. */
  escalated: { level: number; at: string }[];
  /** Offenses one run takes before it continues as new; default 500 (Temporal may suggest sooner). */
  runLimit?: number;
  /** Escalations so far, carried across continueAsNew for the history query. */
  escalations?: OffenderState['escalations'];
  /** The audit trail's last sequence number, carried across continueAsNew so that records stay unique. */
  auditSeq?: number;
  /** Escalation side effects that failed, carried across continueAsNew. */
  problems?: OffenderState['problems'];
}

export interface OffenderState {
  user: string;
  offenses: Offense[];
  escalations: { level: number; action: string; count: number; window: string; at: string }[];
  /** Escalation side effects Slack refused (a deactivated manager, a channel the bot left): what, why, when. */
  problems: { level: number; effect: string; reason: string; at: string }[];
}

export const offenseSignal = defineSignal<[Offense]>('offense');
export const historyQuery = defineQuery<OffenderState>('history');

/** The history a query returns and the workflow carries; older offenses are dropped past this many. */
const KEEP = 500;

const internal = proxyActivities<InternalActivities>(internalCall);
const local = proxyLocalActivities<InternalActivities>(localCall);

export async function offenderWorkflow(input: OffenderInput): Promise<void> {
  const id = workflowInfo().workflowId;
  const offenses = [...input.offenses];
  const escalated = new Map(input.escalated.map((e) => [e.level, e.at]));
  const state: OffenderState = { user: input.user, offenses, escalations: [...(input.escalations ?? [])], problems: [...(input.problems ?? [])] };
  const runLimit = input.runLimit ?? 500;
  let taken = 0;
  const inbox: Offense[] = [];
  setHandler(offenseSignal, (o) => void inbox.push(o));
  setHandler(historyQuery, () => state);

  const settings = await local.remediationSettings('');
  const slack = proxyActivities<SlackActivities>({ ...slackCall, taskQueue: settings.slackTaskQueue });
  let seq = input.auditSeq ?? 0;
  const chain = workflowInfo().firstExecutionRunId;
  const audit = (r: { at: string; kind: 'decision' | 'action'; outcome: string; detail: string }) => internal.appendAudit({ incidentId: id, seq: ++seq, chain, step: 'escalate', ...r });

  /**
   * Runs one side effect of an escalation. Slack's permanent refusals (after the activity's own
   * bounded retries for transient ones) are recorded, audited and survived: losing the user's
   * history to a deactivated manager would reset every level.
   */
  async function softly<T>(index: number, effect: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      const reason = err.cause?.message ?? err.message;
      const at = new Date().toISOString();
      state.problems.push({ level: index, effect, reason, at });
      await audit({ at, kind: 'action', outcome: 'failed', detail: `${effect}: ${reason}` });
      return undefined;
    }
  }

  async function escalate(index: number, level: EscalationLevel, count: number): Promise<void> {
    const at = new Date().toISOString();
    const key = `${id}#level-${index}#${at}`;
    const who = `<@${input.user}>`;
    const channel = settings.securityChannel;
    if (level.action === 'warn') {
      await softly(index, 'warning to the user', () =>
        slack.directMessage({
          user: input.user,
          key,
          text: `${who}, this is your ${count}${count === 2 ? 'nd' : count === 3 ? 'rd' : 'th'} data-loss incident within ${level.window}. Secrets and personal data do not belong in chat; the security team has been told if this continues.`,
        }),
      );
    } else if (channel) {
      const text =
        level.action === 'notify_security'
          ? `:warning: ${who} has had ${count} Sentinel incidents within ${level.window}.`
          : `:rotating_light: ${who} has had ${count} Sentinel incidents within ${level.window}: page on-call and mark the account for access review.`;
      await softly(index, 'security notice', () => slack.postSecurityNotice({ incidentId: id, channel, text, key }));
      if (level.action === 'notify_security') {
        const manager = await softly(index, 'manager lookup', () => slack.managerOf(input.user));
        if (manager) {
          await softly(index, 'message to the manager', () =>
            slack.directMessage({ user: manager, key: `${key}#manager`, text: `${who}, who reports to you, has had ${count} data-loss incidents within ${level.window}.` }),
          );
        }
      }
    }
    state.escalations.push({ level: index, action: level.action, count, window: level.window, at });
    await audit({ at, kind: 'decision', outcome: level.action, detail: `${count} incidents within ${level.window}` });
  }

  async function evaluate(now: number): Promise<void> {
    for (const [index, level] of input.levels.entries()) {
      const window = msToNumber(level.window);
      const count = offenses.filter((o) => now - Date.parse(o.at) <= window).length;
      if (count < level.count) {
        escalated.delete(index); // back below the level: a later climb escalates again
      } else if (!escalated.has(index)) {
        escalated.set(index, new Date(now).toISOString());
        await escalate(index, level, count);
      }
    }
  }

  const timeToContinue = () => taken >= runLimit || workflowInfo().continueAsNewSuggested;
  for (;;) {
    await condition(() => inbox.length > 0 || timeToContinue());
    while (inbox.length > 0) {
      const o = inbox.shift()!;
      taken += 1;
      if (offenses.some((x) => x.incidentId === o.incidentId)) continue; // a retried report
      offenses.push(o);
      if (offenses.length > KEEP) offenses.splice(0, offenses.length - KEEP);
      await evaluate(Date.now());
    }
    if (timeToContinue()) {
      // Offenses that arrive while handlers finish are taken before the run ends.
      await condition(allHandlersFinished);
      if (inbox.length === 0) {
        await continueAsNew<typeof offenderWorkflow>({
          ...input,
          offenses,
          escalated: [...escalated].map(([level, at]) => ({ level, at })),
          escalations: state.escalations,
          auditSeq: seq,
          problems: state.problems.slice(-KEEP),
        });
      }
    }
  }
}

// With Worker Versioning on, the entity follows the deployment's current version (it lives for
// months; pinning it would keep old workers alive forever): each workflow task after a promote runs
// on the new build, and its continueAsNew starts there. Its code must therefore stay replay-compatible
// across builds (patched()), as the replay tests check. https://docs.temporal.io/worker-versioning#auto-upgrade
// Stated only to versioned workers (a deployment name: unversioned workers have a build id but no
// deployment): an unversioned worker's task that states a behavior is refused by the server.
setWorkflowOptions(() => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior: 'AUTO_UPGRADE' } : {}), offenderWorkflow);
