/**
 * The activities workflows call, as interfaces, and the options they are called with. Workflows
 * proxy these; activities/ implements them (checked with `satisfies`). Keeping both sides on this
 * file is what lets workflows/ import nothing from activities/ or src/.
 */
import type { ActivityOptions, LocalActivityOptions } from '@temporalio/common';
import type { OperatorControl } from './controls';
import { FailureType } from './failures';
import type { AuditRecord, Offense, RemediationSettings } from './types';

export interface MessageRef {
  channel: string;
  ts: string;
}

/** What a post-once call did: posted now, or found it had been posted before (a retry). */
export type PostOutcome = 'posted' | 'already_posted';

/** Activities of the Slack task queue (rate limited across the fleet). */
export interface SlackActivities {
  /** Deletes the message; a message already gone counts as deleted. */
  deleteMessage(ref: MessageRef & { incidentId?: string }): Promise<'deleted' | 'already_gone'>;
  /**
   * Replaces the message's text with the admin token (redact, tombstone; `step` names which in the
   * trail of attempts). A message already gone counts as done; an edit Slack refuses
   * (cant_update_message, edit_window_closed) deletes the message instead: the leak stops either way.
   */
  updateMessage(u: MessageRef & { incidentId: string; text: string; step: string }): Promise<'updated' | 'already_gone' | 'deleted_instead'>;
  /** Tells the author why: a direct message (once per incident; several close in time share one) or an ephemeral note in the channel. */
  notifyUser(n: { incidentId: string; user: string; channel: string; text: string; mode: 'dm' | 'ephemeral' }): Promise<PostOutcome>;
  /**
   * Posts to the security channel (summaries, escalations), once per key; `digest`: may share a
   * message with others close in time; `controls`: the incident's buttons (Block Kit), under its text.
   */
  postSecurityNotice(n: { incidentId: string; channel: string; text: string; key: string; digest?: boolean; controls?: OperatorControl[] }): Promise<PostOutcome>;
  /** A direct message (an offender's firmer warning, their manager), once per key. */
  directMessage(n: { user: string; text: string; key: string }): Promise<PostOutcome>;
  /** The user's manager, when the directory knows one. */
  managerOf(user: string): Promise<string | undefined>;
}

/**
 * A quarantined message's review, on the Slack task queue: the sealed copy (stream QUARANTINE, written
 * by the detector before the incident started) is opened only inside restoreQuarantined.
 */
export interface QuarantineActivities {
  /**
   * Re-posts the message in its channel with attribution to the reviewer `by`, once (the notice
   * ledger), then deletes the sealed copy. `gone`: no copy left (discarded or expired) and never restored.
   */
  restoreQuarantined(r: { incidentId: string; by: string }): Promise<{ outcome: 'restored' | 'already_restored' | 'gone'; detail: string }>;
  /** Deletes the sealed copy; `already_gone` when there is none. */
  discardQuarantined(r: { incidentId: string }): Promise<'discarded' | 'already_gone'>;
}

/** Activities of the KMS task queue, whose workers alone hold KMS credentials. */
export interface KmsActivities {
  /** Disables the key, or schedules its deletion; already revoked counts as done. */
  revokeKey(r: { keyArn: string; action: 'disable' | 'schedule_deletion'; pendingDays: number }): Promise<{ outcome: 'revoked' | 'already_revoked'; keyState: string }>;
}

/** Activities of the remediation task queue: Sentinel's own infrastructure. */
export interface InternalActivities {
  /** Appends a workflow decision or outcome to the AUDIT stream; its seq makes a retried append a no-op. */
  appendAudit(record: AuditRecord): Promise<void>;
  /** Appends several records, in order; each keeps its own seq, so a retried batch appends only what is missing. */
  appendAudits(records: AuditRecord[]): Promise<void>;
  /** Signals the offense to the user's offender workflow, starting it if needed; answers its id. */
  reportOffense(r: { source: string; team: string; user: string; offense: Offense }): Promise<string>;
  /** The settings an incident in `channel` runs with (its customer-managed key included). */
  remediationSettings(channel: string): Promise<RemediationSettings>;
}

/** The Slack task queue next to a remediation task queue (notifications, lookups). */
export const slackTaskQueue = (taskQueue: string) => `${taskQueue}-slack`;

/**
 * The deletion task queue next to a remediation task queue: removals only, with chat.delete's
 * budget. Its name follows from the remediation queue alone, so that an incident can schedule its
 * removal before it has read any setting.
 */
export const slackDeleteTaskQueue = (taskQueue: string) => `${taskQueue}-slack-delete`;

/** Slack calls: Temporal retries transient failures and 429s (after Slack's Retry-After); permanent refusals stop at once. */
export const slackCall: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 20, nonRetryableErrorTypes: [FailureType.SlackPermanent] },
};

/** KMS calls: throttling and outages back off; a missing key or bad ARN stops at once. */
export const kmsCall: ActivityOptions = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '2m', maximumAttempts: 15, nonRetryableErrorTypes: [FailureType.KmsPermanent] },
};

/**
 * Verifying and revoking leaked credentials with their providers: outages and throttling back off
 * (GitHub allows 60 revocations an hour), refusals that retrying cannot fix stop at once. Bounded
 * to about two minutes: a verification that cannot finish leaves the verdict unknown, a revocation
 * puts the incident in needs_attention.
 */
export const credentialCall: ActivityOptions = {
  startToCloseTimeout: '20s',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 6, nonRetryableErrorTypes: [FailureType.CredentialPermanent] },
};

/** Audit appends and offender reports: our own infrastructure, retried until it is back. */
export const internalCall: ActivityOptions = {
  startToCloseTimeout: '15s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30s' },
};

/**
 * Audit appends of an incident as local activities: run by the worker in the workflow task that
 * decided them, with no activity task of their own for the server to queue and match. Retried like
 * internalCall until the stream is back (past a minute, between workflow tasks on a timer).
 */
export const localAuditCall: LocalActivityOptions = { startToCloseTimeout: '15s', retry: internalCall.retry! };

/** Settings are read from the worker's memory: a local activity. */
export const localCall: LocalActivityOptions = { startToCloseTimeout: '5s' };
