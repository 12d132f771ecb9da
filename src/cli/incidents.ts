/** `sentinel incidents …`: find, inspect and steer incidents in Temporal; read their audit trail. */
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { loadConfig } from '../config';
import { readAuditTrail } from '../incidents/audit-trail';
import { connectNats } from '../nats/connect';
import { connectClient } from '../temporal/client';
import { codecFrom } from '../temporal/data-converter';
import type { IncidentState } from '../../contract';

const usage = `usage: sentinel incidents <command>

  list [--status S] [--rule R] [--user U] [--limit N]   incidents, newest first
  review [--rule R] [--user U] [--limit N]              the review queue: quarantined messages awaiting restore or discard
  show <id>                                             state: the redacted match, steps done, pending
  audit <id>                                            the audit trail from the AUDIT stream
  dismiss <id> --reason TEXT [--by WHO]                 a false positive: stop pending actions
  approve <id> [--reason TEXT] [--by WHO]               let a revocation awaiting approval go ahead
  reject <id> --reason TEXT [--by WHO]                  refuse it: the key stays enabled
  retry <id> [--reason TEXT] [--by WHO]                 re-run the step that needs attention
  escalate <id> [--reason TEXT] [--by WHO]              raise the incident to the security channel
  restore <id> [--reason TEXT] [--by WHO]               re-post a quarantined message in its channel, attributed to WHO
  discard <id> --reason TEXT [--by WHO]                 delete a quarantined message's sealed copy for good

WHO defaults to SENTINEL_OPERATOR, then your login name; give a Slack user id (U…) to be mentioned in a restored message.`;

const out = (s: string) => void process.stdout.write(s + '\n');
const fail = (s: string): number => {
  process.stderr.write(`sentinel: ${s}\n`);
  return 1;
};

/** Values go into a visibility query: refuse anything that could change its meaning. */
function queryValue(name: string, v: string): string {
  if (!/^[A-Za-z0-9_.:-]+$/.test(v)) throw new Error(`--${name} ${JSON.stringify(v)}: only letters, digits, _ . : - are allowed`);
  return `'${v}'`;
}

const updates: Record<string, { name: string; reasonRequired: boolean }> = {
  dismiss: { name: 'dismiss', reasonRequired: true },
  approve: { name: 'approveRevocation', reasonRequired: false },
  reject: { name: 'rejectRevocation', reasonRequired: true },
  retry: { name: 'retry', reasonRequired: false },
  escalate: { name: 'escalate', reasonRequired: false },
  restore: { name: 'restore', reasonRequired: false },
  discard: { name: 'discard', reasonRequired: true },
};

async function withClient(fn: (client: Client, namespace: string) => Promise<number>): Promise<number> {
  const config = loadConfig();
  const client = await connectClient(config.temporal, codecFrom(config));
  try {
    return await fn(client, config.temporal.namespace);
  } finally {
    await client.connection.close();
  }
}

export async function incidentsCommand(sub: string | undefined, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { status: { type: 'string' }, rule: { type: 'string' }, user: { type: 'string' }, limit: { type: 'string' }, reason: { type: 'string' }, by: { type: 'string' } },
  });
  const id = positionals[0];
  if (sub === 'list' || sub === 'review') {
    const filters = [`WorkflowType = 'incidentWorkflow'`];
    // The review queue is the incidents whose quarantined message waits for a decision.
    const status = sub === 'review' ? 'awaiting_review' : values.status;
    if (status) filters.push(`SentinelStatus = ${queryValue('status', status)}`);
    if (values.rule) filters.push(`SentinelRule = ${queryValue('rule', values.rule)}`);
    if (values.user) filters.push(`SentinelUser = ${queryValue('user', values.user)}`);
    const limit = Number(values.limit ?? 100);
    if (!Number.isInteger(limit) || limit < 1) return fail(`--limit ${values.limit}: a positive whole number`);
    return withClient(async (client) => {
      let n = 0;
      for await (const w of client.workflow.list({ query: filters.join(' AND ') })) {
        const sa = (name: string) => w.typedSearchAttributes.getAll().find((p) => p.key.name === name)?.value;
        out([String(sa('SentinelStatus') ?? '-').padEnd(16), String(sa('SentinelSeverity') ?? '-').padEnd(9), String(sa('SentinelRule') ?? '-').padEnd(30), w.startTime.toISOString(), w.workflowId].join(' '));
        if (++n >= limit) break;
      }
      process.stderr.write(`${n} incident${n === 1 ? '' : 's'}\n`);
      return 0;
    });
  }
  if (!id || positionals.length !== 1) {
    process.stderr.write(usage + '\n');
    return 2;
  }
  if (sub === 'audit') {
    const config = loadConfig();
    const nc = await connectNats(config.nats, 'sentinel-cli');
    try {
      const trail = await readAuditTrail(nc, id);
      if (trail.length === 0) return fail(`no audit records for ${JSON.stringify(id)} in stream AUDIT at ${config.nats.servers.join(', ')}`);
      for (const r of trail) {
        out([r.at, r.kind.padEnd(8), r.step.padEnd(11), r.outcome.padEnd(17), r.attempt ? `attempt ${r.attempt}` : '', r.actor ? `by ${r.actor}` : '', r.detail ?? ''].filter(Boolean).join('  '));
      }
      return 0;
    } finally {
      await nc.drain();
    }
  }
  return withClient(async (client, namespace) => {
    const handle = client.workflow.getHandle(id);
    try {
      if (sub === 'show') {
        const [description, state] = await Promise.all([handle.describe(), handle.query<IncidentState>('state')]);
        out(JSON.stringify({ id, execution: description.status.name, startTime: description.startTime, state }, null, 2));
        return 0;
      }
      const update = updates[sub ?? ''];
      if (!update) {
        process.stderr.write(usage + '\n');
        return 2;
      }
      if (update.reasonRequired && !values.reason) return fail(`${sub} needs --reason: the audit trail records why`);
      const by = values.by ?? process.env.SENTINEL_OPERATOR ?? userInfo().username;
      const state = await handle.executeUpdate<IncidentState, [{ by: string; reason?: string }]>(update.name, { args: [{ by, ...(values.reason ? { reason: values.reason } : {}) }] });
      out(`${sub}: done; incident ${id} is ${state.status}`);
      return 0;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return fail(`no incident with id ${JSON.stringify(id)} in namespace ${namespace}`);
      if (err instanceof WorkflowUpdateFailedError) return fail(`${sub} refused: ${err.cause?.message ?? err.message}`);
      if ((err as Error)?.message?.includes('workflow execution already completed')) return fail(`incident ${id} has already ended; ${sub} no longer applies`);
      throw err;
    }
  });
}
