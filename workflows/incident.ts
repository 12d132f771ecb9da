/**
 * One incident: a finding carried through remediation. The workflow holds orchestration only;
 * every side effect is an activity.
 */
import { ActivityFailure, type ActivityOptions, defineQuery, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FailureType } from './failures';
import { SentinelStatus } from './search-attributes';
import type { IncidentInput, IncidentState, IncidentStatus, StepRecord } from './types';

/** Slack calls: Temporal retries transient failures and 429s (after Slack's Retry-After); permanent refusals stop at once. */
export const slackCall: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    backoffCoefficient: 2,
    maximumInterval: '1m',
    maximumAttempts: 20,
    nonRetryableErrorTypes: [FailureType.SlackPermanent],
  },
};

const slack = proxyActivities<Activities>(slackCall);

export const stateQuery = defineQuery<IncidentState>('state');

/** Why an activity gave up (a permanent refusal, or retries exhausted), for operators. */
function reasonOf(err: ActivityFailure): string {
  return err.cause?.message ?? err.message;
}

export async function incidentWorkflow(input: IncidentInput): Promise<IncidentState> {
  const state: IncidentState = {
    incidentId: input.incidentId,
    status: 'open',
    rule: input.rule,
    match: input.match,
    message: { team: input.team, channel: input.channel, user: input.user, ts: input.ts },
    steps: [],
    pending: input.rule.actions.filter((a) => a === 'delete'),
  };
  setHandler(stateQuery, () => state);

  const setStatus = (status: IncidentStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: SentinelStatus, value: status }]);
  };
  const record = (step: string, outcome: StepRecord['outcome'], detail?: string) => {
    state.steps.push({ step, outcome, at: new Date().toISOString(), ...(detail ? { detail } : {}) });
    state.pending = state.pending.filter((p) => p !== step);
  };

  if (input.rule.actions.includes('delete')) {
    setStatus('remediating');
    try {
      const outcome = await slack.deleteMessage({ channel: input.channel, ts: input.ts });
      record('delete', outcome === 'deleted' ? 'done' : 'already_done');
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      record('delete', 'failed', reasonOf(err));
      setStatus('needs_attention');
      return state;
    }
  }
  setStatus('resolved');
  return state;
}
