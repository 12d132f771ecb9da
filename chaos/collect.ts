/**
 * What every system says happened, read back at the end of a run: the simulator's call log and
 * workspace, Temporal's incident executions, the AUDIT, CHAT and DEADLETTER streams, and the KMS
 * proxy's record plus each key's state in moto.
 */
import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { Client } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { JsMsg, NatsConnection } from 'nats';
import type { SimControl } from '../src/slack-sim/control';
import type { AuditEntry, Observed, ObservedIncident } from './count';
import type { KmsThrottleProxy } from './kms-proxy';

/** The incident status search attribute (README: SentinelStatus follows the incident). */
export const SentinelStatusKey = defineSearchAttributeKey('SentinelStatus', SearchAttributeType.KEYWORD);
export const INCIDENT_QUERY = "WorkflowType = 'incidentWorkflow'";

/** Rejects after `ms` so that one stuck call cannot stall the run. */
export function within<T>(ms: number, p: Promise<T>, what = 'call'): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Every incident execution Temporal's visibility lists. */
export async function listIncidents(client: Client, query = INCIDENT_QUERY): Promise<ObservedIncident[]> {
  const out: ObservedIncident[] = [];
  for await (const w of client.workflow.list({ query })) {
    out.push({ id: w.workflowId, runId: w.runId, status: w.status.name, sentinelStatus: w.typedSearchAttributes.get(SentinelStatusKey) });
  }
  return out;
}

/** Every message of a stream (optionally under `subject`), read with an ordered consumer. */
export function readStream(nc: NatsConnection, stream: string, subject?: string, timeoutMs = 30_000): Promise<JsMsg[]> {
  return within(timeoutMs + 5000, readAll(nc, stream, subject, timeoutMs), `reading stream ${stream}`);
}

async function readAll(nc: NatsConnection, stream: string, subject: string | undefined, timeoutMs: number): Promise<JsMsg[]> {
  const jsm = await nc.jetstreamManager();
  const info = await jsm.streams.info(stream, subject ? { subjects_filter: subject } : undefined);
  const matching = subject ? Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0) : info.state.messages;
  if (matching === 0) return [];
  // One filter subject as a string: a list needs NATS 2.10, and Debian's nats-server is 2.9.
  const consumer = await nc.jetstream().consumers.get(stream, subject ? { filterSubjects: subject } : {});
  const out: JsMsg[] = [];
  const messages = await consumer.consume({ max_messages: 500 });
  const timer = setTimeout(() => void messages.close(), timeoutMs);
  try {
    for await (const m of messages) {
      out.push(m);
      if (m.info.pending === 0) break;
    }
  } finally {
    clearTimeout(timer);
    await messages.close().catch(() => undefined);
  }
  return out;
}

/**
 * The idempotency keys a post of Sentinel's carries in its metadata: `key`, and, for a digest that
 * gathers several notices in one message, every key in `keys` (space separated).
 */
export function keysOf(payload: Record<string, unknown> | undefined): string[] {
  const keys = new Set<string>();
  if (typeof payload?.key === 'string') keys.add(payload.key);
  if (typeof payload?.keys === 'string') for (const k of payload.keys.split(' ')) if (k) keys.add(k);
  return [...keys];
}

export interface CollectContext {
  sim: SimControl;
  client: Client;
  nc: NatsConnection;
  proxy: KmsThrottleProxy;
  /** moto directly (not through the proxy), for each key's final state. */
  kms: KMSClient;
  keyIds: string[];
  /** People whose direct messages to read. */
  users: string[];
  securityChannel: string;
  progress?: (line: string) => void;
}

export async function collect(c: CollectContext): Promise<Observed> {
  const say = c.progress ?? (() => {});
  say('collecting: the simulator\'s call log and workspace');
  const deletes = (await c.sim.calls('chat.delete')).filter((x) => x.ok).map((x) => ({ channel: String(x.args.channel), ts: String(x.args.ts), at: x.at }));

  const notices: Observed['notices'] = [];
  for (const channel of [...c.users.map((u) => `D${u.slice(1)}`), c.securityChannel]) {
    const messages = await c.sim.history(channel).catch(() => []); // no DM was ever opened with that person
    for (const m of messages) for (const key of keysOf(m.metadata?.event_payload)) notices.push({ channel, key, ts: m.ts });
  }

  say('collecting: incident executions from Temporal');
  const incidents = await listIncidents(c.client);
  say(`collecting: ${incidents.length} incident executions; KMS keys in moto`);

  const kmsRevocations = new Map<string, number>();
  for (const op of ['DisableKey', 'ScheduleKeyDeletion']) for (const [k, n] of c.proxy.succeeded(op)) kmsRevocations.set(k, (kmsRevocations.get(k) ?? 0) + n);
  const kmsStates = new Map<string, string>();
  for (const keyId of c.keyIds) {
    const d = await c.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
    kmsStates.set(keyId, d.KeyMetadata?.KeyState ?? 'unknown');
  }

  say('collecting: the AUDIT stream');
  const audit = new Map<string, AuditEntry[]>();
  for (const m of await readStream(c.nc, 'AUDIT', 'audit.incident.>').catch(() => [])) {
    let record: AuditEntry = {};
    try {
      record = m.json<AuditEntry>();
    } catch {
      /* an unreadable record counts as neither open nor close */
    }
    audit.set(m.subject, [...(audit.get(m.subject) ?? []), record]);
  }

  say(`collecting: ${audit.size} audit trails; CHAT, DEADLETTER and the bridge's deliveries`);
  const jsm = await c.nc.jetstreamManager();
  const chat = await Promise.all([jsm.consumers.info('CHAT', 'detector'), jsm.streams.info('CHAT')]).then(
    ([ci, si]) => ({ pending: ci.num_pending, ackPending: ci.num_ack_pending, messages: si.state.messages }),
    () => undefined,
  );
  const deadletters = (await readStream(c.nc, 'DEADLETTER').catch(() => [])).map((m) => ({ subject: m.subject, reason: m.headers?.get('Sentinel-Reason') || undefined, body: m.data }));

  const accepted = new Set<string>();
  for (const d of await c.sim.deliveries()) if (typeof d.status === 'number' && d.status >= 200 && d.status < 300) accepted.add(d.eventId);
  for (const d of await c.sim.socketDeliveries()) if (d.acked) accepted.add(d.eventId);

  return { deletes, incidents, notices, kmsRevocations, kmsStates, audit, chat, deadletters, accepted };
}
