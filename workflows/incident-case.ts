/**
 * An incident's state and the operator decisions on it, beside the workflow that drives it (the
 * shape of temporalio/samples-typescript's safe-message-handlers): the workflow runs steps, this
 * class keeps what they and the operators decided, and appends every decision to the audit trail.
 */
import { allHandlersFinished, condition, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { SentinelStatus, type AuditRecord, type IncidentInput, type IncidentState, type IncidentStatus, type OperatorAction, type StepRecord } from '../contract';

export type AuditEntry = Omit<AuditRecord, 'incidentId' | 'seq' | 'at' | 'chain'>;

/**
 * How an incident's records reach the trail: one append per record as it is decided, or (patched
 * `batched-audit`) appends of several at once, at the points IncidentCase names.
 */
export type AuditSink = { kind: 'each'; append: (r: AuditRecord) => Promise<void> } | { kind: 'batched'; append: (rs: AuditRecord[]) => Promise<void> };

/** Statuses in which an incident rests, waiting for an operator: what it decided so far is on the trail first. */
const RESTING: ReadonlySet<IncidentStatus> = new Set(['needs_attention', 'awaiting_approval', 'awaiting_review']);

export class IncidentCase {
  readonly state: IncidentState;
  /** An operator's retry of the step in needs_attention, until the workflow takes it. */
  retryRequested: OperatorAction | undefined;
  /** Told of each escalation once the incident knows where to send notices. */
  onEscalate: ((a: OperatorAction, n: number) => void) | undefined;
  private seq = 0;
  /** Audit appends and notices under way: all finish before the incident closes. */
  private inFlight: Promise<void>[] = [];
  /** Records decided and not yet handed to an append (batched sink only). */
  private unwritten: AuditRecord[] = [];

  constructor(
    private readonly input: IncidentInput,
    plan: string[],
    private readonly sink: AuditSink,
  ) {
    this.state = {
      incidentId: input.incidentId,
      status: 'open',
      rule: input.rule,
      match: input.match,
      message: { team: input.team, channel: input.channel, user: input.user, ts: input.ts },
      steps: [],
      pending: [...plan],
    };
  }

  get closed(): boolean {
    return this.state.status === 'resolved' || this.state.status === 'dismissed';
  }

  /**
   * Puts a record on the trail without waiting; drain() waits for every append. `at`: when it was
   * decided, if earlier than now.
   *
   * Batched (patched `batched-audit`), a record is appended at once only when an operator decided it
   * or the incident rests (waiting for an operator); the others go with the next of those, before a
   * step that may take a while (the workflow says when), or when the incident closes, all in one
   * append. Each append had been a local activity of its own, and
   * each local activity's result one more activation of the workflow: in a burst of incidents the
   * workflow thread was the bottleneck, and the appends were a third of its activations. On a
   * replay, the records are decided again in the same order: none is lost to a crash.
   */
  audit(r: AuditEntry, at = new Date().toISOString()): void {
    const record: AuditRecord = { incidentId: this.input.incidentId, seq: ++this.seq, chain: workflowInfo().firstExecutionRunId, at, ...r };
    if (this.sink.kind === 'each') {
      this.track(this.sink.append(record));
      return;
    }
    this.unwritten.push(record);
    if (r.kind === 'operator' || RESTING.has(this.state.status)) this.writeAudit();
  }

  /** Hands the records not yet written to one append (batched sink): before a step that may take a while, say. */
  writeAudit(): void {
    if (this.sink.kind !== 'batched' || this.unwritten.length === 0) return;
    this.track(this.sink.append(this.unwritten.splice(0)));
  }

  /** Keeps a side effect that runs beside the steps; it must not reject (catch what can fail). */
  track(p: Promise<void>): void {
    this.inFlight.push(p);
  }

  /**
   * Waits until every handler has returned and every append and notice has finished, including those
   * they started. `write: false` leaves records not yet written for a later drain (batched sink;
   * one append per record has nothing unwritten): the close record goes with them.
   */
  async drain(o: { write?: boolean } = {}): Promise<void> {
    for (;;) {
      await condition(allHandlersFinished);
      if (o.write !== false) this.writeAudit();
      const pending = this.inFlight.splice(0);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  setStatus(status: IncidentStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: SentinelStatus, value: status }]);
    if (RESTING.has(status)) this.writeAudit();
  }

  record(step: string, outcome: StepRecord['outcome'], detail?: string): void {
    this.state.steps.push({ step, outcome, at: new Date().toISOString(), ...(detail ? { detail } : {}) });
    if (outcome !== 'failed') this.state.pending = this.state.pending.filter((p) => p !== step);
    this.audit({ kind: 'action', step, outcome, ...(detail ? { detail } : {}) });
  }

  /** A side effect that failed without stopping the incident: kept in the state and on the trail. */
  warn(step: string, reason: string): void {
    this.state.warnings = [...(this.state.warnings ?? []), { step, reason, at: new Date().toISOString() }];
    this.audit({ kind: 'action', step, outcome: 'failed', detail: reason });
  }

  // Operator decisions. Each is validated first (controls below); these only apply them.

  dismiss(a: OperatorAction): void {
    this.state.dismissed = { by: a.by, reason: a.reason ?? '', at: new Date().toISOString() };
    this.audit({ kind: 'operator', step: 'dismiss', outcome: 'dismissed', actor: a.by, ...(a.reason ? { detail: a.reason } : {}) });
  }

  /** The revocation step waiting for an operator's decision (revoke_kms or revoke_credential). */
  awaiting: string | undefined;

  decide(decision: 'approve' | 'reject', a: OperatorAction): void {
    this.state.approval = { decision, by: a.by, at: new Date().toISOString(), ...(a.reason ? { reason: a.reason } : {}) };
    this.audit({ kind: 'operator', step: this.awaiting ?? 'revoke_kms', outcome: decision === 'approve' ? 'approved' : 'rejected', actor: a.by, ...(a.reason ? { detail: a.reason } : {}) });
  }

  /** An operator's decision on the quarantined message; the review step carries it out. */
  review(decision: 'restore' | 'discard', a: OperatorAction): void {
    this.state.review = { decision, by: a.by, at: new Date().toISOString(), ...(a.reason ? { reason: a.reason } : {}) };
    this.audit({ kind: 'operator', step: 'review', outcome: decision === 'restore' ? 'restore_requested' : 'discard_requested', actor: a.by, ...(a.reason ? { detail: a.reason } : {}) });
  }

  requestRetry(a: OperatorAction): void {
    this.retryRequested = a;
  }

  escalate(a: OperatorAction): void {
    this.state.escalations = [...(this.state.escalations ?? []), { by: a.by, at: new Date().toISOString(), ...(a.reason ? { reason: a.reason } : {}) }];
    this.audit({ kind: 'operator', step: 'escalate', outcome: 'escalated', actor: a.by, ...(a.reason ? { detail: a.reason } : {}) });
    this.onEscalate?.(a, this.state.escalations.length);
  }
}

/** Refusals: each throws with the message the operator reads. */
export function requireActor(a: OperatorAction | undefined): void {
  if (!a?.by?.trim()) throw new Error('say who you are: "by" is required');
}

export function requireOpen(c: IncidentCase): void {
  if (c.closed) throw new Error(`incident is already ${c.state.status}`);
}

/** A dismissal stops the incident; a quarantined message still waiting for a decision must get one first. */
export function requireDismissable(c: IncidentCase): void {
  requireOpen(c);
  if (c.state.review?.decision === 'pending') throw new Error('the message is in quarantine: restore it (a false positive) or discard it first');
}

/** Restore and discard apply to a removed, quarantined message nobody has decided on yet. */
export function requireReviewable(c: IncidentCase): void {
  requireOpen(c);
  const { review } = c.state;
  if (!review) throw new Error(c.state.rule.actions.includes('quarantine') ? `nothing is in quarantine yet (status ${c.state.status})` : `rule ${c.state.rule.id} does not quarantine messages`);
  if (review.decision === 'expired') throw new Error('the quarantined copy has expired and was discarded');
  if (review.decision !== 'pending') throw new Error(`the quarantined message was already ${review.decision === 'restore' ? 'restored' : 'discarded'} by ${review.by}`);
}

export function requireAwaitingDecision(c: IncidentCase): void {
  const { state } = c;
  if (state.status !== 'awaiting_approval') throw new Error(`no revocation is awaiting approval (status ${state.status})`);
  if (state.approval) throw new Error(`the revocation was already ${state.approval.decision === 'approve' ? 'approved' : 'rejected'} by ${state.approval.by}`);
}

export function requireNeedsAttention(c: IncidentCase): void {
  if (c.state.status !== 'needs_attention') throw new Error(`nothing to retry: the incident is ${c.state.status}`);
}
