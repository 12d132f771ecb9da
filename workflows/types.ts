/** The incident contract between detector, workflows and operators. Secrets never appear here. */
import type { Action, Category, Severity } from '../src/engine/types';

export interface IncidentInput {
  incidentId: string;
  source: string;
  team: string;
  channel: string;
  user: string;
  /** The offending message's timestamp. */
  ts: string;
  rule: {
    id: string;
    description: string;
    category: Category;
    severity: Severity;
    actions: Action[];
    /** The message to the user, already filled in. */
    message: string;
  };
  /** Where the match is and what it looks like redacted; never the matched text. */
  match: { redacted: string; start: number; end: number };
  detectedAt: string;
}

export type IncidentStatus = 'open' | 'remediating' | 'awaiting_approval' | 'resolved' | 'dismissed' | 'needs_attention';

export interface StepRecord {
  step: string;
  outcome: 'done' | 'already_done' | 'failed';
  at: string;
  detail?: string;
}

/** What the `state` query answers. */
export interface IncidentState {
  incidentId: string;
  status: IncidentStatus;
  rule: IncidentInput['rule'];
  match: IncidentInput['match'];
  message: { team: string; channel: string; user: string; ts: string };
  steps: StepRecord[];
  pending: string[];
}
