/** Starts one incident workflow per finding; a second start of the same id is a no-op, not an error. */
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { ChatEvent, Finding } from '../engine/types';
import type { incidentWorkflow } from '../../workflows';
import {
  SentinelActions,
  SentinelChannel,
  SentinelRule,
  SentinelSeverity,
  SentinelStatus,
  SentinelTeam,
  SentinelUser,
} from '../../workflows/search-attributes';
import type { IncidentInput } from '../../workflows/types';
import { incidentId } from './id';

const KMS_KEY_ARN = /arn:aws:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/** The KMS key ARN a message names, for rules that revoke keys. */
function kmsKey(text: string): { kmsKeyArn?: string } {
  const m = KMS_KEY_ARN.exec(text);
  return m ? { kmsKeyArn: m[0] } : {};
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
    detectedAt: now.toISOString(),
  };
}

/** `started`, or `exists` when this incident was started before (a redelivered event). */
export async function startIncident(client: Client, taskQueue: string, input: IncidentInput): Promise<'started' | 'exists'> {
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
    return 'started';
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return 'exists';
    throw err;
  }
}
