/** Starts one incident workflow per finding; a second start of the same id is a no-op, not an error. */
import { isGrpcServiceError, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { ChatEvent, Finding } from '../engine/types';
import type { incidentWorkflow } from '../../workflows';
import {
  findKmsKeyArn,
  incidentId,
  SentinelActions,
  SentinelChannel,
  SentinelRule,
  SentinelSeverity,
  SentinelStatus,
  SentinelTeam,
  SentinelUser,
  REDACTED_TEXT_MAX,
  type IncidentInput,
} from '../../contract';

/** The KMS key ARN a message names, for rules that revoke keys. */
function kmsKey(text: string): { kmsKeyArn?: string } {
  const arn = findKmsKeyArn(text);
  return arn ? { kmsKeyArn: arn } : {};
}

/** The workflow input for a finding: coordinates, rule and redacted match, never the text. */
export function incidentInput(event: ChatEvent, finding: Finding, now = new Date()): IncidentInput {
  if (finding.fingerprint === undefined) throw new Error(`finding of rule ${finding.ruleId} has no fingerprint: evaluate() needs the fingerprint option`);
  return {
    incidentId: incidentId(event, finding.ruleId),
    source: event.source,
    team: event.team,
    channel: event.channel,
    user: event.user,
    ts: event.ts,
    rule: {
      id: finding.ruleId,
      description: finding.description,
      category: finding.category,
      severity: finding.severity,
      actions: finding.actions,
      message: finding.message,
      approvalRequired: finding.approvalRequired,
    },
    ...(finding.actions.includes('revoke_kms') ? kmsKey(event.text) : {}),
    match: { redacted: finding.redacted, excerpt: finding.excerpt, fingerprint: finding.fingerprint, start: finding.start, end: finding.end },
    ...(finding.actions.includes('redact') && finding.redactedText !== undefined ? { redactedText: bounded(finding.redactedText) } : {}),
    detectedAt: now.toISOString(),
  };
}

/**
 * A redacted text cut to REDACTED_TEXT_MAX characters (at a space near the limit when there is one),
 * ending with a note of how much was cut, so that a reader of the redacted message knows it is not all.
 */
export function bounded(text: string, max = REDACTED_TEXT_MAX): string {
  if (text.length <= max) return text;
  let cut = max - 80; // room for the note
  const space = text.lastIndexOf(' ', cut);
  if (space > cut - 200) cut = space;
  // Never half of a surrogate pair.
  if (/[\uD800-\uDBFF]/.test(text[cut - 1] ?? '')) cut -= 1;
  return `${text.slice(0, cut)}\n… [truncated by Sentinel: ${text.length - cut} more characters not shown]`;
}

/** What starting an incident came to. `permanent`: retrying the same start cannot succeed (its reason says why). */
export type StartOutcome = { outcome: 'started' } | { outcome: 'exists' } | { outcome: 'permanent'; reason: string };

/** A start that failed for now (Temporal unreachable, overloaded, timing out): the event comes back later. */
export class TransientStartError extends Error {
  override name = 'TransientStartError';
}

/**
 * gRPC codes worth another try: the server or the network, not the request. Everything else
 * (INVALID_ARGUMENT for a search attribute the namespace lacks, NOT_FOUND for a missing namespace,
 * PERMISSION_DENIED, a codec error that is not gRPC at all) fails the same way every time.
 * https://grpc.github.io/grpc/core/md_doc_statuscodes.html
 */
const TRANSIENT_GRPC: ReadonlyMap<number, string> = new Map([
  [1, 'CANCELLED'],
  [4, 'DEADLINE_EXCEEDED'],
  [8, 'RESOURCE_EXHAUSTED'],
  [10, 'ABORTED'],
  [13, 'INTERNAL'],
  [14, 'UNAVAILABLE'],
]);

const GRPC_NAMES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

/** The gRPC error in an error or its causes, if any: its code and the server's words. */
export function grpcError(err: unknown): { code: number; name: string; details: string } | undefined {
  for (let e = err as { cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (isGrpcServiceError(e)) return { code: e.code, name: GRPC_NAMES[e.code] ?? String(e.code), details: e.details };
  }
  return undefined;
}

/** Whether a failed start is worth retrying. */
export function isTransientStartError(err: unknown): boolean {
  const g = grpcError(err);
  return g !== undefined && TRANSIENT_GRPC.has(g.code);
}

/**
 * Starts the incident. `exists` when it was started before (a redelivered event); `permanent` with
 * the reason when the start can never succeed; throws TransientStartError when it may later.
 */
export async function startIncident(client: Client, taskQueue: string, input: IncidentInput): Promise<StartOutcome> {
  try {
    await client.workflow.start<typeof incidentWorkflow>('incidentWorkflow', {
      workflowId: input.incidentId,
      taskQueue,
      args: [input],
      // Even after the incident has closed, the same event must not open it again.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      typedSearchAttributes: [
        { key: SentinelRule, value: input.rule.id },
        { key: SentinelSeverity, value: input.rule.severity },
        { key: SentinelStatus, value: 'open' },
        { key: SentinelUser, value: input.user },
        { key: SentinelChannel, value: input.channel },
        { key: SentinelTeam, value: input.team },
        { key: SentinelActions, value: input.rule.actions },
      ],
    });
    return { outcome: 'started' };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { outcome: 'exists' };
    const message = err instanceof Error ? err.message : String(err);
    if (isTransientStartError(err)) throw new TransientStartError(message, { cause: err });
    const g = grpcError(err);
    return { outcome: 'permanent', reason: g ? `${message}: ${g.name}: ${g.details}` : message };
  }
}
