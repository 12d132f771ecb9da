/**
 * The walking skeleton end to end, on real servers: a raw Slack event_callback on JetStream →
 * detector → incidentWorkflow on the Temporal dev server → chat.delete through @slack/web-api
 * against the simulator.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chatSubject, CHAT_STREAM, DEADLETTER_STREAM, DETECTOR_CONSUMER } from '../../src/nats/streams';
import type { IncidentState } from '../../contract';
import { eventually, incidentResult, startHarness, type Harness } from '../support/harness';
import { recordHistory } from '../support/histories';
import { readAuditTrail } from '../../src/incidents/audit-trail';

const TEAM = 'T0SENTNL1';
const subject = chatSubject('slack', TEAM, 'message');

describe('skeleton: chat event to deleted message', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const publish = (body: unknown, msgID?: string) =>
    h.nc.jetstream().publish(subject, typeof body === 'string' ? body : JSON.stringify(body), msgID ? { msgID } : undefined);

  /** Waits until the detector has acked (or terminated) every stream message up to `seq`. */
  const drained = (seq: number) =>
    eventually(`the detector to ack stream message ${seq}`, async () => {
      const info = await (await h.nc.jetstreamManager()).consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
      return info.ack_floor.stream_seq >= seq && info.num_ack_pending === 0 && info;
    });

  it('deletes the message once even when the event is delivered twice', async () => {
    const { message, envelope } = h.sim.postAsUser('U0ALICE01', 'C0GENERAL', 'Q3 board numbers attached, strictly confidential');

    const first = await publish(envelope, envelope.event_id);
    const retried = await publish(envelope, envelope.event_id); // Slack's retry: deduplicated by the stream
    const redelivered = await publish(envelope); // a late duplicate the stream cannot catch: Temporal must
    expect(first.duplicate).toBe(false);
    expect(retried.duplicate).toBe(true);
    expect(redelivered.seq).toBeGreaterThan(first.seq);

    const incidentId = `incident/slack/${TEAM}/C0GENERAL/${message.ts}/tutorial-confidential`;
    const state = await incidentResult<IncidentState>(h.client, incidentId);
    expect(state.status).toBe('resolved');
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['delete', 'done'],
      ['summary', 'done'],
      ['report', 'done'],
    ]);
    expect(state.match.redacted).not.toContain('confidential');

    await drained(redelivered.seq);
    const deletes = h.sim.okCalls('chat.delete').filter((c) => c.args.ts === message.ts);
    expect(deletes).toHaveLength(1);
    expect(h.sim.workspace.history('C0GENERAL').map((m) => m.ts)).not.toContain(message.ts);

    const runs = [];
    for await (const w of h.client.workflow.list({ query: `WorkflowId = '${incidentId}'` })) runs.push(w);
    expect(runs).toHaveLength(1);
    expect(h.detector.stats).toMatchObject({ started: 1, alreadyStarted: 1 });

    // The deletion goes out with the first workflow task, and nothing in that task waits on a local
    // activity (the settings read and the opening audit record come after it).
    const events = (await h.client.workflow.getHandle(incidentId).fetchHistory()).events ?? [];
    const firstDone = events.findIndex((e) => e.workflowTaskCompletedEventAttributes);
    const nextTask = events.findIndex((e, i) => i > firstDone && e.workflowTaskScheduledEventAttributes);
    const decidedFirst = events.slice(firstDone + 1, nextTask < 0 ? undefined : nextTask);
    const scheduled = decidedFirst.map((e) => e.activityTaskScheduledEventAttributes).filter((a) => a);
    expect(scheduled.map((a) => [a!.activityType?.name, a!.taskQueue?.name])).toEqual([['deleteMessage', `${h.config.temporal.taskQueue}-slack-delete`]]);
    expect(decidedFirst.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toEqual([]);
    // Two local activities in all (patched `batched-audit`): the settings, and the whole trail in one append at the close.
    expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toHaveLength(2);
    const trail = await readAuditTrail(h.nc, incidentId);
    expect(trail.map((r) => [r.seq, r.step, r.outcome])).toEqual([
      [1, 'open', 'opened'],
      [2, 'delete', 'done'],
      [3, 'summary', 'done'],
      [4, 'report', 'done'],
      [5, 'close', 'resolved'],
    ]);
    await recordHistory(incidentId, 'incident-deleted');
  });

  it('leaves a clean message where it is and opens no incident', async () => {
    const before = h.detector.stats.started;
    const { message, envelope } = h.sim.postAsUser('U0BOB0001', 'C0GENERAL', 'I am confident the release goes out Friday');
    const ack = await publish(envelope, envelope.event_id);
    await drained(ack.seq);
    expect(h.detector.stats.started).toBe(before);
    expect(h.sim.workspace.history('C0GENERAL').map((m) => m.ts)).toContain(message.ts);
  });

  it('sets a malformed event aside with its reason instead of dropping or retrying it', async () => {
    const ack = await publish('{"type":"event_callback","event":', 'malformed-1');
    await drained(ack.seq);
    const jsm = await h.nc.jetstreamManager();
    const dead = await jsm.streams.getMessage(DEADLETTER_STREAM, { last_by_subj: `deadletter.${subject}` });
    expect(dead.header.get('Sentinel-Reason')).toMatch(/^not valid JSON/);
    expect(dead.header.get('Sentinel-Stream-Seq')).toBe(String(ack.seq));
    expect(new TextDecoder().decode(dead.data)).toBe('{"type":"event_callback","event":');
  });

  it('marks the incident needs_attention when Slack refuses the delete, without retrying forever, and retry completes it', async () => {
    h.sim.injectFault({ method: 'chat.delete', kind: 'error', error: 'cant_delete_message' });
    const { message, envelope } = h.sim.postAsUser('U0ALICE01', 'C0ENGINEE', 'confidential: roadmap draft');
    await publish(envelope, envelope.event_id);
    const incidentId = `incident/slack/${TEAM}/C0ENGINEE/${message.ts}/tutorial-confidential`;
    const handle = h.client.workflow.getHandle(incidentId);
    const stuck = await eventually('needs_attention', async () => {
      const s = await handle.query<IncidentState>('state').catch(() => undefined);
      return s?.status === 'needs_attention' && s;
    });
    expect(stuck.failed).toMatchObject({ step: 'delete', reason: expect.stringContaining('cant_delete_message') });
    // Resting, the incident has put what it decided on the trail: an auditor sees why it waits.
    // (The workflow's records are numbered; the Slack activity's record of its failed attempt is not.)
    const resting = await eventually('the trail of the resting incident', async () => {
      const t = (await readAuditTrail(h.nc, incidentId)).filter((r) => r.seq !== undefined);
      return t.length >= 2 && t;
    });
    expect(resting.map((r) => [r.seq, r.step, r.outcome])).toEqual([
      [1, 'open', 'opened'],
      [2, 'delete', 'failed'],
    ]);
    await new Promise((r) => setTimeout(r, 1500)); // time for any (wrong) retry to happen
    expect(h.sim.calls.filter((c) => c.method === 'chat.delete' && c.args.ts === message.ts)).toHaveLength(1);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.getAll().find((p) => p.key.name === 'SentinelStatus')?.value).toBe('needs_attention');

    // The cause is fixed (the fault was used up); an operator retries.
    await handle.executeUpdate('retry', { args: [{ by: 'U0ADMIN01', reason: 'granted admin rights' }] });
    const state = await incidentResult<IncidentState>(h.client, incidentId);
    expect(state.status).toBe('resolved');
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['delete', 'failed'],
      ['delete', 'done'],
      ['summary', 'done'],
      ['report', 'done'],
    ]);
    expect(h.sim.okCalls('chat.delete').filter((c) => c.args.ts === message.ts)).toHaveLength(1);
    await recordHistory(incidentId, 'incident-cant-delete-then-retry');
  });
  it('records and reports an incident from a source other than Slack, and skips the removal and the notice, which speak Slack only', async () => {
    // A chat source with no remediation of its own: a generic message event on its own subject.
    const source = 'teams';
    const event = { type: 'message', team: 'T0GENERIC', channel: 'C0GENERIC', user: 'U0GENERIC', ts: '1700000123.000400', text: 'confidential: the Q4 plan' };
    const callsBefore = h.sim.calls.length;
    const ack = await h.nc.jetstream().publish(chatSubject(source, 'T0GENERIC', 'message'), JSON.stringify(event));
    const incidentId = `incident/${source}/T0GENERIC/C0GENERIC/${event.ts}/tutorial-confidential`;
    const state = await incidentResult<IncidentState>(h.client, incidentId);
    expect(state.status).toBe('resolved');
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['delete', 'skipped'],
      ['summary', 'done'],
      ['report', 'done'],
    ]);
    expect(state.steps[0]!.detail).toBe(`no delete for source ${source}`);
    await drained(ack.seq);
    // Nothing was asked of Slack about the message itself: no delete, no history read, no DM to its author.
    const about = h.sim.calls.slice(callsBefore).filter((c) => c.args.channel === 'C0GENERIC' || c.args.user === 'U0GENERIC' || c.args.users === 'U0GENERIC');
    expect(about).toEqual([]);
    const trail = await readAuditTrail(h.nc, incidentId);
    expect(trail.filter((r) => r.kind === 'action').map((r) => [r.step, r.outcome])).toEqual([
      ['delete', 'skipped'],
      ['summary', 'done'],
      ['report', 'done'],
    ]);
    expect(JSON.stringify(trail)).not.toContain('the Q4 plan');
  });
});
