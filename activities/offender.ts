/** Reporting incidents to the user's offender workflow (an entity workflow, started on first report). */
import type { Client } from '@temporalio/client';
import type { EscalationLevel } from '../src/config';
import type { Offense } from '../workflows/types';

export interface OffenderDeps {
  temporal: Client;
  taskQueue: string;
  levels: EscalationLevel[];
}

/** offender/<source>/<team>/<user> */
export function offenderId(source: string, team: string, user: string): string {
  return `offender/${source}/${team}/${user}`;
}

export function createOffenderActivities(d: OffenderDeps) {
  return {
    /** Signals the offense, starting the user's offender workflow if it is not running. */
    async reportOffense(r: { source: string; team: string; user: string; offense: Offense }): Promise<string> {
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
  };
}
