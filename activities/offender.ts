/** Reporting incidents to the user's offender workflow (an entity workflow, started on first report). */
import type { Client } from '@temporalio/client';
import { offenderId, type EscalationLevel, type InternalActivities } from '../contract';

export interface OffenderDeps {
  temporal: Client;
  taskQueue: string;
  levels: EscalationLevel[];
}

export function createOffenderActivities(d: OffenderDeps) {
  return {
    /** Signals the offense, starting the user's offender workflow if it is not running. */
    async reportOffense(r) {
      const workflowId = offenderId(r.source, r.team, r.user);
      await d.temporal.workflow.signalWithStart('offenderWorkflow', {
        workflowId,
        taskQueue: d.taskQueue,
        args: [{ source: r.source, team: r.team, user: r.user, levels: d.levels, offenses: [], escalated: [] }],
        signal: 'offense',
        signalArgs: [r.offense],
      });
      return workflowId;
    },
  } satisfies Pick<InternalActivities, 'reportOffense'>;
}
