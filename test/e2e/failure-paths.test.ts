/**
 * Failure paths of incidents and offenders on the real dev server, NATS, moto and the Slack
 * simulator: a permanent Slack error in an escalation, an escalation notice that fails while the
 * incident waits, audit records across continueAsNew. Each ends somewhere visible, none wedges.
 */
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { readAuditTrail } from '../../src/incidents/audit-trail';
import { AUDIT_STREAM } from '../../src/nats/streams';
import type { IncidentState } from '../../contract';
import type { OffenderState } from '../../workflows/offender';
import { eventually, incidentResult, startHarness, type Harness, postAndPublish, stateWhen } from '../support/harness';
import { recordHistory } from '../support/histories';
import { INCIDENT_RULES, rulesDir } from '../support/incident-rules';

const TEAM = 'T0SENTNL1';

describe('failure paths', () => {
  let h: Harness;
  let kms: KMSClient;
  beforeAll(async () => {
    const dir = rulesDir(INCIDENT_RULES);
    h = await startHarness({ SENTINEL_RULES_DIR: dir, SENTINEL_ESCALATION: '2/24h=warn,3/24h=notify_security' });
    // Offenders are per user, not per suite: start these users' records afresh.
    for (const user of ['U0ALICE01', 'U0CAROL01']) await h.client.workflow.getHandle(`offender/slack/${TEAM}/${user}`).terminate('test suite starts afresh').catch(() => undefined);
    kms = new KMSClient({ region: 'us-east-1', endpoint: inject('stack').kmsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const post = (user: string, channel: string, text: string) => postAndPublish(h, user, channel, text);
  const idOf = (channel: string, ts: string, rule: string) => `incident/slack/${TEAM}/${channel}/${ts}/${rule}`;
  const statusOf = (id: string, status: IncidentState['status']) => stateWhen(h.client, id, status);
  const offenderHistory = (user: string, done: (s: OffenderState) => boolean) =>
    eventually(`offender ${user}`, async () => {
      const s = await h.client.workflow.getHandle(`offender/slack/${TEAM}/${user}`).query<OffenderState>('history').catch(() => undefined);
      return s && done(s) && s;
    });

  afterEach(() => h.sim.clearFaults());

  it('keeps a repeat offender alive when an escalation meets a permanent Slack error', async () => {
    // The manager lookup of notify_security fails for good: the account behind it is gone.
    h.sim.injectFault({ method: 'users.info', kind: 'error', error: 'account_inactive', times: 5 });
    const user = 'U0ALICE01';
    for (let i = 0; i < 3; i++) await incidentResult(h.client, idOf('C0ENGINEE', (await post(user, 'C0ENGINEE', `leakword ${i}`)).ts, 'leakword'));
    const history = await offenderHistory(user, (s) => s.escalations.length >= 2);
    expect(history.escalations.map((e) => [e.action, e.count])).toEqual([
      ['warn', 2],
      ['notify_security', 3],
    ]);
    const offender = h.client.workflow.getHandle(`offender/slack/${TEAM}/${user}`);
    const described = await offender.describe();
    expect(described.status.name).toBe('RUNNING');
    // The failure is on the record, and the next offense is counted in the same history, not a fresh one.
    const chain = described.raw.workflowExecutionInfo?.firstRunId;
    const trail = await eventually('the failed manager lookup on the trail', async () => {
      const t = (await readAuditTrail(h.nc, `offender/slack/${TEAM}/${user}`)).filter((r) => r.chain === chain);
      return t.some((r) => r.outcome === 'failed') && t;
    });
    expect(trail.find((r) => r.outcome === 'failed')).toMatchObject({ kind: 'action', step: 'escalate' });
    expect(trail.find((r) => r.outcome === 'failed')!.detail).toContain('account_inactive');
    await incidentResult(h.client, idOf('C0ENGINEE', (await post(user, 'C0ENGINEE', 'leakword 3')).ts, 'leakword'));
    const after = await offenderHistory(user, (s) => s.offenses.length >= 4);
    expect(after.escalations).toHaveLength(2);
    expect(after.problems).toEqual([expect.objectContaining({ level: 1, effect: 'manager lookup', reason: 'users.info refused: account_inactive' })]);
    expect(h.sim.workspace.history(`D${user.slice(1)}`).filter((m) => m.text.includes('data-loss incident within 24h'))).toHaveLength(1);
    h.sim.clearFaults();
    await recordHistory(`offender/slack/${TEAM}/${user}`, 'offender-escalation-failed');
  });

  it('revokes the key even when telling the author fails for good, and leaves the notice for an operator at the end', async () => {
    const arn = (await kms.send(new CreateKeyCommand({ Description: 'sentinel deferred-notice key' }))).KeyMetadata!.Arn!;
    // The author cannot be told: Slack refuses the DM for good (a permanent error, not retried).
    h.sim.injectFault({ method: 'conversations.open', kind: 'error', error: 'user_disabled', times: 1 });
    const message = await post('U0BOB0001', 'C0ENGINEE', `rotate ${arn} please`);
    const id = idOf('C0ENGINEE', message.ts, 'kms-auto');
    const waiting = await statusOf(id, 'needs_attention');
    // Everything after the failed notice ran first: the summary, the report and the revocation.
    expect(waiting.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['delete', 'done'],
      ['notify', 'failed'],
      ['summary', 'done'],
      ['report', 'done'],
      ['revoke_kms', 'done'],
    ]);
    expect(waiting.failed).toMatchObject({ step: 'notify', reason: expect.stringContaining('user_disabled') });
    expect((await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.KeyState).toBe('Disabled');
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.filter((r) => r.step === 'notify').map((r) => r.outcome)).toEqual(expect.arrayContaining(['failed', 'deferred']));
    // The operator retries once Slack lets the DM through: the notice goes out and the incident closes.
    await h.client.workflow.getHandle(id).executeUpdate('retry', { args: [{ by: 'U0ADMIN01', reason: 'account re-enabled' }] });
    const done = await incidentResult<IncidentState>(h.client, id);
    expect(done.status).toBe('resolved');
    expect(done.steps.map((s) => [s.step, s.outcome]).slice(-1)).toEqual([['notify', 'done']]);
    expect(h.sim.workspace.history('D0BOB0001').filter((m) => m.text.includes('KMS'))).toHaveLength(1);
    await recordHistory(id, 'incident-notice-deferred');
  });

  it('records an escalation notice that fails while the incident waits, and still closes the incident', async () => {
    const arn = (await kms.send(new CreateKeyCommand({ Description: 'sentinel failure-path key' }))).KeyMetadata!.Arn!;
    const message = await post('U0ALICE01', 'C0GENERAL', `key ${arn}`);
    const id = idOf('C0GENERAL', message.ts, 'kms-approval');
    await statusOf(id, 'awaiting_approval');
    h.sim.injectFault({ method: 'chat.postMessage', kind: 'error', error: 'not_in_channel', times: 1 });
    const handle = h.client.workflow.getHandle(id);
    await handle.executeUpdate('escalate', { args: [{ by: 'U0ADMIN01', reason: 'customer data' }] });
    await eventually('the failed notice on the trail', async () => (await readAuditTrail(h.nc, id)).some((r) => r.step === 'escalation_notice' && r.outcome === 'failed'));
    // The incident did not wedge: it still answers and takes the approval.
    await handle.executeUpdate('approveRevocation', { args: [{ by: 'U0ADMIN01' }] });
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.status).toBe('resolved');
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.at(-1)).toMatchObject({ step: 'close', outcome: 'resolved' });
    expect(trail.find((r) => r.step === 'escalation_notice')!.detail).toContain('not_in_channel');
    await expect(handle.executeUpdate('escalate', { args: [{ by: 'U0ADMIN01' }] })).rejects.toThrow();
    await recordHistory(id, 'incident-escalation-notice-failed');
  });

  /** Posts a leak whose chat.delete Slack answers only after 3 s, and waits until that deletion is under way. */
  const leakDuringSlowDelete = async (text: string) => {
    h.sim.injectFault({ method: 'chat.delete', kind: 'slow', delayMs: 3000 });
    const message = await post('U0BOB0001', 'C0GENERAL', text);
    const handle = h.client.workflow.getHandle(idOf('C0GENERAL', message.ts, 'leakword'));
    await eventually('the deletion under way', async () => (await handle.describe().catch(() => undefined))?.raw.pendingActivities?.some((a) => a.activityType?.name === 'deleteMessage'));
    return handle;
  };

  it('sends the notice of an escalation that came while the first removal was under way, before the incident had its settings', async () => {
    const handle = await leakDuringSlowDelete('leakword escalated early');
    await handle.executeUpdate('escalate', { args: [{ by: 'U0ADMIN01', reason: 'during the delete' }] });
    const state = await incidentResult<IncidentState>(h.client, handle.workflowId);
    expect(state.status).toBe('resolved');
    expect(state.steps[0]).toMatchObject({ step: 'delete', outcome: 'done' });
    expect(h.sim.workspace.history('C0SECURIT').filter((m) => m.text.includes(`escalated Sentinel incident \`${handle.workflowId}\``))).toHaveLength(1);
    const trail = await readAuditTrail(h.nc, handle.workflowId);
    expect(trail.slice(0, 3).map((r) => [r.step, r.outcome])).toEqual([
      ['escalate', 'escalated'],
      ['open', 'opened'],
      ['delete', 'done'],
    ]);
    // The opening record keeps when the incident opened, not when it was written after the removal.
    const at = (step: string) => Date.parse(trail.find((r) => r.step === step)!.at);
    expect(at('delete') - at('open')).toBeGreaterThanOrEqual(2500);
  });

  it('records the removal that was under way when the incident was dismissed, and takes no other step', async () => {
    const handle = await leakDuringSlowDelete('leakword dismissed early');
    await handle.executeUpdate('dismiss', { args: [{ by: 'U0ADMIN01', reason: 'false positive' }] });
    const state = await incidentResult<IncidentState>(h.client, handle.workflowId);
    expect(state.status).toBe('dismissed');
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([['delete', 'done']]);
  });

  it('deletes the message while the audit stream cannot be written, and writes the trail once it can', async () => {
    // The stream stops taking audit.> (appends find no stream and are retried); its records stay.
    const jsm = await h.nc.jetstreamManager();
    const { config } = await jsm.streams.info(AUDIT_STREAM);
    await jsm.streams.update(AUDIT_STREAM, { ...config, subjects: ['audit-paused.>'] });
    let message: Awaited<ReturnType<typeof post>>;
    try {
      message = await post('U0BOB0001', 'C0GENERAL', 'leakword while the audit stream is away');
      await eventually('the message deleted', async () => h.sim.okCalls('chat.delete').some((c) => c.args.ts === message.ts), 10_000);
    } finally {
      await jsm.streams.update(AUDIT_STREAM, { ...config, subjects: ['audit.>'] });
    }
    const id = idOf('C0GENERAL', message.ts, 'leakword');
    expect((await incidentResult<IncidentState>(h.client, id)).status).toBe('resolved');
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.slice(0, 2).map((r) => [r.step, r.outcome])).toEqual([
      ['open', 'opened'],
      ['delete', 'done'],
    ]);
  });

  it('numbers an offender’s audit records across continueAsNew, so none is deduplicated away', async () => {
    const user = 'U0CAROL01';
    const workflowId = `offender/slack/${TEAM}/${user}`;
    const levels = [
      { count: 2, window: '24h', action: 'warn' },
      { count: 3, window: '24h', action: 'notify_security' },
    ];
    const start = { source: 'slack', team: TEAM, user, levels, offenses: [], escalated: [], runLimit: 2 };
    const offense = (i: number) => ({ incidentId: `incident/test/carol-${i}`, ruleId: 'leakword', severity: 'medium', at: new Date().toISOString() });
    await h.client.workflow.signalWithStart('offenderWorkflow', { workflowId, taskQueue: h.config.temporal.taskQueue, args: [start], signal: 'offense', signalArgs: [offense(1)] });
    for (let i = 2; i <= 3; i++) {
      await new Promise((r) => setTimeout(r, 300));
      await h.client.workflow.getHandle(workflowId).signal('offense', offense(i));
    }
    await offenderHistory(user, (s) => s.escalations.length === 2);
    const handle = h.client.workflow.getHandle(workflowId);
    const chain = (await handle.describe()).raw.workflowExecutionInfo?.firstRunId;
    const ofChain = async (c: string | null | undefined) => (await readAuditTrail(h.nc, workflowId)).filter((r) => r.chain === c);
    const trail = await eventually('both escalations on the trail', async () => {
      const t = await ofChain(chain);
      return t.filter((r) => r.step === 'escalate').length >= 2 && t;
    });
    expect(trail.filter((r) => r.kind === 'decision' && r.step === 'escalate').map((r) => r.outcome)).toEqual(['warn', 'notify_security']);
    const seqs = trail.map((r) => r.seq);
    expect(seqs).toEqual([1, 2]);

    // Terminated and started again under the same id: a new chain, whose records do not collide with the last one's.
    await handle.terminate('test: an operator restarts the offender');
    await h.client.workflow.signalWithStart('offenderWorkflow', { workflowId, taskQueue: h.config.temporal.taskQueue, args: [{ ...start, runLimit: 500 }], signal: 'offense', signalArgs: [offense(4)] });
    await h.client.workflow.getHandle(workflowId).signal('offense', offense(5));
    const restarted = (await h.client.workflow.getHandle(workflowId).describe()).raw.workflowExecutionInfo?.firstRunId;
    expect(restarted).not.toBe(chain);
    const second = await eventually('the new chain’s escalation on the trail', async () => {
      const t = await ofChain(restarted);
      return t.length >= 1 && t;
    });
    expect(second.map((r) => [r.seq, r.outcome])).toEqual([[1, 'warn']]);
    expect((await ofChain(chain)).map((r) => r.seq)).toEqual([1, 2]);
  });
});
