/**
 * The operator messages of an incident. Each control is an Update (validated, answers the caller:
 * the CLI uses these) and a Signal of the same name (for the Temporal Web UI's signal form).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { IncidentState, OperatorAction } from '../contract';

export type { OperatorAction };

export const stateQuery = defineQuery<IncidentState>('state');

/** A false positive: stop pending actions, record who and why. */
export const dismissUpdate = defineUpdate<IncidentState, [OperatorAction]>('dismiss');
export const dismissSignal = defineSignal<[OperatorAction]>('dismiss');
/** Let a revocation that waits for approval go ahead. */
export const approveUpdate = defineUpdate<IncidentState, [OperatorAction]>('approveRevocation');
export const approveSignal = defineSignal<[OperatorAction]>('approveRevocation');
/** Refuse a revocation that waits for approval: the key stays enabled. */
export const rejectUpdate = defineUpdate<IncidentState, [OperatorAction]>('rejectRevocation');
export const rejectSignal = defineSignal<[OperatorAction]>('rejectRevocation');
/** Run again the step that ended in needs_attention, once its cause is fixed. */
export const retryUpdate = defineUpdate<IncidentState, [OperatorAction]>('retry');
export const retrySignal = defineSignal<[OperatorAction]>('retry');
/** Raise the incident to the security channel. */
export const escalateUpdate = defineUpdate<IncidentState, [OperatorAction]>('escalate');
export const escalateSignal = defineSignal<[OperatorAction]>('escalate');
/** A quarantined message is fine after all: re-post it in its channel, with attribution to the reviewer. */
export const restoreUpdate = defineUpdate<IncidentState, [OperatorAction]>('restore');
export const restoreSignal = defineSignal<[OperatorAction]>('restore');
/** A quarantined message is to stay removed: delete its sealed copy. */
export const discardUpdate = defineUpdate<IncidentState, [OperatorAction]>('discard');
export const discardSignal = defineSignal<[OperatorAction]>('discard');
