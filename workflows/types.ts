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
    /** revoke_kms waits for approveRevocation. */
    approvalRequired: boolean;
  };
  /** The KMS key named in the message, when there is one (an identifier, not a secret). */
  kmsKeyArn?: string;
  /**
   * Where the match is and what it looks like redacted; never the matched text. `excerpt` is the
   * message around it with every match redacted; `fingerprint` is an HMAC of the matched value
   * (the same secret gives the same fingerprint); both are absent in incidents opened before they existed.
   */
  match: { redacted: string; excerpt?: string; fingerprint?: string; start: number; end: number };
  detectedAt: string;
}

export type IncidentStatus = 'open' | 'remediating' | 'awaiting_approval' | 'resolved' | 'dismissed' | 'needs_attention';

export interface StepRecord {
  step: string;
  /** done; already_done (found done on retry); failed; skipped (nothing to do); rejected (revocation refused). */
  outcome: 'done' | 'already_done' | 'failed' | 'skipped' | 'rejected';
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
  /** The step waiting for an operator's retry, and why it failed. */
  failed?: { step: string; reason: string };
  dismissed?: { by: string; reason: string; at: string };
  approval?: { decision: 'approve' | 'reject'; by: string; at: string; reason?: string };
  escalations?: { by: string; at: string; reason?: string }[];
}

/** The settings an incident runs with, read once by an activity so the workflow stays deterministic. */
export interface RemediationSettings {
  notifyMode: 'dm' | 'ephemeral';
  securityChannel: string | undefined;
  approvalTimeout: string;
  approvalDefault: 'reject' | 'approve';
  kmsAction: 'disable' | 'schedule_deletion';
  kmsPendingDays: number;
  /** The customer-managed key configured for the incident's channel. */
  channelKeyArn: string | undefined;
}

/** One line of the audit trail: a decision or an action outcome. Never secret text. */
export interface AuditRecord {
  incidentId: string;
  /** Position in the incident's trail (workflow records); attempts carry their step and number instead. */
  seq?: number;
  at: string;
  kind: 'decision' | 'action' | 'attempt' | 'operator';
  step: string;
  outcome: string;
  detail?: string;
  attempt?: number;
  actor?: string;
}

/** An offense reported to a user's offender workflow. */
export interface Offense {
  incidentId: string;
  ruleId: string;
  severity: string;
  at: string;
}
