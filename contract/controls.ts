/**
 * The operator controls of an incident as Slack shows them: the buttons of the security summary
 * and the subcommands of `/sentinel`. Each names the incident Update it sends (workflows/
 * incident-messages.ts); a button's action_id is that name and its value the incident id. Pure
 * data: the workflow sandbox imports this.
 */
import type { IncidentInput } from './types';

/** The Updates an operator can send from Slack. `restore`/`discard` decide on a quarantined message. */
export type OperatorControl = 'approveRevocation' | 'rejectRevocation' | 'dismiss' | 'retry' | 'escalate' | 'restore' | 'discard';

export const OPERATOR_CONTROLS: readonly OperatorControl[] = ['approveRevocation', 'rejectRevocation', 'dismiss', 'retry', 'escalate', 'restore', 'discard'];

/** What each control is called on its button, and what the summary says once it was used. */
export const CONTROL_TEXT: Record<OperatorControl, { label: string; done: string }> = {
  approveRevocation: { label: 'Approve revocation', done: 'Revocation approved' },
  rejectRevocation: { label: 'Reject', done: 'Revocation rejected' },
  dismiss: { label: 'Dismiss', done: 'Dismissed' },
  retry: { label: 'Retry', done: 'Retry requested' },
  escalate: { label: 'Escalate', done: 'Escalated' },
  restore: { label: 'Restore', done: 'Message restored' },
  discard: { label: 'Discard', done: 'Quarantined copy discarded' },
};

/** `/sentinel <subcommand> <id>`: the subcommand's Update. */
export const COMMAND_CONTROLS: Record<string, OperatorControl> = {
  approve: 'approveRevocation',
  reject: 'rejectRevocation',
  dismiss: 'dismiss',
  retry: 'retry',
  escalate: 'escalate',
  restore: 'restore',
  discard: 'discard',
};

export function isOperatorControl(v: unknown): v is OperatorControl {
  return typeof v === 'string' && (OPERATOR_CONTROLS as readonly string[]).includes(v);
}

/**
 * The buttons an incident's summary carries: approve and reject only when a revocation waits for an
 * approval, restore and discard only when the rule quarantines; dismiss, retry and escalate always
 * (the workflow refuses one that does not apply at the time of the click, and the clicker is told).
 */
export function controlsFor(rule: Pick<IncidentInput['rule'], 'actions' | 'approvalRequired'>): OperatorControl[] {
  const actions = new Set<string>(rule.actions);
  const revokes = actions.has('revoke_kms') || actions.has('revoke_credential');
  return [
    ...(revokes && rule.approvalRequired ? (['approveRevocation', 'rejectRevocation'] as const) : []),
    ...(actions.has('quarantine') ? (['restore', 'discard'] as const) : []),
    'dismiss',
    'retry',
    'escalate',
  ];
}
