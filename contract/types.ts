/**
 * The incident contract between detector, workflows, activities and operators. Pure types: the
 * workflow sandbox imports this, so nothing here may do IO. Secrets never appear here, except a
 * leaked credential inside the sealed incident input (IncidentInput.credential).
 */
import type { CredentialKind, LeakedCredential, Liveness } from './credentials';

export type Category = 'secret' | 'pii' | 'policy' | 'behavior';
export type Severity = 'low' | 'medium' | 'high' | 'critical';
/**
 * What a finding asks of its incident. `revoke_credential`: disable the leaked credential itself
 * with its provider (AWS access key, Slack or GitHub token) once verified live. The removals
 * (REMOVAL_ACTIONS, at most one per rule): `delete` the message; `redact` it (replaced by its text
 * with every match redacted); `tombstone` it (replaced by a notice); `quarantine` it (deleted, an
 * encrypted copy kept until an operator restores or discards it).
 */
export type Action = 'delete' | 'redact' | 'tombstone' | 'quarantine' | 'notify' | 'revoke_kms' | 'revoke_credential' | 'escalate' | 'none';

/** The actions that take the message out of sight; a rule names at most one. */
export const REMOVAL_ACTIONS: readonly Action[] = ['delete', 'redact', 'tombstone', 'quarantine'];

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
    /** revoke_kms and revoke_credential wait for approveRevocation. */
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
  /**
   * The leaked credential, for rules whose value is one (CREDENTIAL_RULES): verified with its
   * provider and, when the rule says revoke_credential, revoked. The one place a secret value is in
   * an incident: it exists only inside the codec-sealed payloads (input, activity arguments), never
   * in state, search attributes, audit records or logs.
   */
  credential?: LeakedCredential;
  /**
   * For rules that redact: the message's text with every match redacted and other token-like words
   * masked (the excerpt's style, whole message), at most REDACTED_TEXT_MAX characters with a note of
   * what was cut. Never the matched text.
   */
  redactedText?: string;
  /** The events of a stateful rule's match (sequence steps or threshold events), in event-time order: coordinates only. */
  steps?: StepRef[];
  /**
   * The channel whose customer-managed KMS key a revoke_kms step targets, when it is not `channel`
   * (a stateful rule whose key channel is an earlier step's). Absent: `channel`.
   */
  keyChannel?: string;
}

/** One event of a stateful match: where and when it happened, never what it said. */
export interface StepRef {
  team: string;
  channel: string;
  user: string;
  ts: string;
  eventType: string;
  /** The file the step is about, for rules keyed by file. */
  fileId?: string;
  /** Event time, ms since the epoch. */
  eventTime: number;
}

/** The longest redacted text an incident carries (Slack shows about 4,000 characters of a message before "Show more"). */
export const REDACTED_TEXT_MAX = 4000;

/**
 * Where an incident stands (the SentinelStatus search attribute): `open` (started, not yet at work),
 * `remediating`, `awaiting_approval` (a KMS revocation waits for an operator), `awaiting_review` (a
 * quarantined message waits for an operator's restore or discard), `needs_attention` (a step failed
 * for good: an operator retries or dismisses), and the two closed ones, `resolved` and `dismissed`.
 */
export type IncidentStatus = 'open' | 'remediating' | 'awaiting_approval' | 'awaiting_review' | 'resolved' | 'dismissed' | 'needs_attention';

/** The statuses, in the order an operator meets them; the README's table lists the same. */
export const INCIDENT_STATUSES: readonly IncidentStatus[] = ['open', 'remediating', 'awaiting_approval', 'awaiting_review', 'needs_attention', 'resolved', 'dismissed'];

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
  /** What the provider said of the leaked credential (never the credential itself). */
  credential?: { kind: CredentialKind; outcome: Liveness; principal?: string; revocable: boolean; detail: string };
  /** The rule's severity, raised one level when the leaked credential was verified live. */
  severity?: Severity;
  /**
   * A quarantined message's review: `pending` until an operator restores or discards it, `expired`
   * when nobody did within the quarantine retention (the copy is then discarded).
   */
  review?: { decision: 'pending' | 'restore' | 'discard' | 'expired'; by?: string; at?: string; reason?: string };
  /** Side effects that failed without stopping the incident (an escalation notice Slack refused). */
  warnings?: { step: string; reason: string; at: string }[];
}

/** Who acts on an incident, and why. */
export interface OperatorAction {
  by: string;
  reason?: string;
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
  /** Task queues the workflow sends Slack and KMS work to. */
  slackTaskQueue: string;
  kmsTaskQueue: string;
  /** Where leaked credentials are verified and revoked (workers holding outbound credentials); absent before it existed. */
  credentialsTaskQueue?: string;
  /**
   * Deletions have a task queue of their own, with chat.delete's budget, so that no notification
   * ever queues ahead of a delete. Absent in settings recorded before it existed: the Slack queue then.
   */
  slackDeleteTaskQueue?: string;
  /**
   * How long a quarantined message's sealed copy is kept for review (SENTINEL_QUARANTINE_RETENTION),
   * counted from detection: past it the incident counts it as discarded. Absent before quarantine existed.
   */
  quarantineRetentionMs?: number;
}

/** One line of the audit trail: a decision or an action outcome. Never secret text. */
export interface AuditRecord {
  incidentId: string;
  /** Position in the incident's trail (workflow records); attempts carry their step and number instead. */
  seq?: number;
  /**
   * The first run id of the workflow's chain (it survives continueAsNew): with `seq` it names the
   * record, so a later workflow with the same id (an offender restarted after termination) starts
   * a trail of its own instead of colliding with the last one's numbers.
   */
  chain?: string;
  at: string;
  kind: 'decision' | 'action' | 'attempt' | 'operator';
  step: string;
  outcome: string;
  detail?: string;
  attempt?: number;
  actor?: string;
}

/** A repeat-offender level: `count` incidents within `window` trigger `action`, once. */
export interface EscalationLevel {
  count: number;
  window: string;
  action: 'warn' | 'notify_security' | 'access_review';
}

/** An offense reported to a user's offender workflow. */
export interface Offense {
  incidentId: string;
  ruleId: string;
  severity: string;
  at: string;
}
