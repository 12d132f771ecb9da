/**
 * Incident workflows end to end on the real dev server, NATS, moto (KMS) and the Slack simulator:
 * KMS revocation with and without approval, Slack rate limits, repeat offenders, the audit trail.
 */
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readAuditTrail } from '../../src/incidents/audit-trail';
import type { OffenderState } from '../../workflows/offender';
import type { IncidentState } from '../../contract';
import { eventually, incidentResult, startHarness, type Harness, postAndPublish, stateWhen } from '../support/harness';
import { recordHistory } from '../support/histories';
import { incidentsCli } from '../support/processes';
import { INCIDENT_RULES, rulesDir } from '../support/incident-rules';

const TEAM = 'T0SENTNL1';

describe('incident workflows', () => {
  let h: Harness;
  let kms: KMSClient;
  beforeAll(async () => {
    const dir = rulesDir(INCIDENT_RULES);
    h = await startHarness({ SENTINEL_RULES_DIR: dir });
    kms = new KMSClient({ region: 'us-east-1', endpoint: inject('stack').kmsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  });
  afterAll(async () => {
    await h?.close();
  });

  const newKey = async () => (await kms.send(new CreateKeyCommand({ Description: 'sentinel test key' }))).KeyMetadata!.Arn!;
  const keyState = async (arn: string) => (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.KeyState;
  const post = (user: string, channel: string, text: string) => postAndPublish(h, user, channel, text);
  const idOf = (channel: string, ts: string, rule: string) => `incident/slack/${TEAM}/${channel}/${ts}/${rule}`;
  const statusOf = (id: string, status: IncidentState['status']) => stateWhen(h.client, id, status);
  const dmsTo = (user: string) => h.sim.workspace.history(`D${user.slice(1)}`).map((m) => m.text);

  it('deletes, notifies, revokes the key named in the message and leaves a complete audit trail', async () => {
    const arn = await newKey();
    const message = await post('U0ALICE01', 'C0ENGINEE', `prod data key is ${arn}`);
    const id = idOf('C0ENGINEE', message.ts, 'kms-auto');
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.status).toBe('resolved');
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['delete', 'done'],
      ['notify', 'done'],
      ['summary', 'done'],
      ['report', 'done'],
      ['revoke_kms', 'done'],
    ]);
    expect(await keyState(arn)).toBe('Disabled');
    expect(h.sim.workspace.find('C0ENGINEE', message.ts)).toBeUndefined();
    expect(dmsTo('U0ALICE01')).toContain('<@U0ALICE01>, a KMS key was named here; Sentinel revoked it.');
    expect(h.sim.workspace.history('C0SECURIT').some((m) => m.text.includes(id))).toBe(true);

    const trail = await readAuditTrail(h.nc, id);
    expect(trail.map((r) => [r.kind, r.step, r.outcome])).toEqual([
      ['decision', 'open', 'opened'],
      ['action', 'delete', 'done'],
      ['action', 'notify', 'done'],
      ['action', 'summary', 'done'],
      ['action', 'report', 'done'],
      ['action', 'revoke_kms', 'done'],
      ['decision', 'close', 'resolved'],
    ]);
    expect(trail.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    await recordHistory(id, 'incident-kms-revoked');
  });

  it('waits for approval before revoking, and revokes once approved', async () => {
    const arn = await newKey();
    const message = await post('U0BOB0001', 'C0GENERAL', `try ${arn}`);
    const id = idOf('C0GENERAL', message.ts, 'kms-approval');
    await statusOf(id, 'awaiting_approval');
    await new Promise((r) => setTimeout(r, 500));
    expect(await keyState(arn)).toBe('Enabled');
    const handle = h.client.workflow.getHandle(id);
    await expect(handle.executeUpdate('approveRevocation', { args: [{ by: '' }] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/"by" is required/) } });
    await handle.executeUpdate('approveRevocation', { args: [{ by: 'U0ADMIN01', reason: 'confirmed exposure' }] });
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.approval).toMatchObject({ decision: 'approve', by: 'U0ADMIN01' });
    expect(await keyState(arn)).toBe('Disabled');
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.map((r) => r.outcome)).toEqual(expect.arrayContaining(['awaiting_approval', 'approved', 'done']));
    expect(trail.find((r) => r.outcome === 'approved')).toMatchObject({ kind: 'operator', actor: 'U0ADMIN01' });
    await recordHistory(id, 'incident-kms-approved');
  });

  it('leaves the key enabled when the revocation is rejected, and refuses a second decision', async () => {
    const arn = await newKey();
    const message = await post('U0BOB0001', 'C0GENERAL', `key: ${arn}`);
    const id = idOf('C0GENERAL', message.ts, 'kms-approval');
    await statusOf(id, 'awaiting_approval');
    const handle = h.client.workflow.getHandle(id);
    await handle.executeUpdate('rejectRevocation', { args: [{ by: 'U0ADMIN01', reason: 'test key, not in use' }] });
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.steps.find((s) => s.step === 'revoke_kms')).toMatchObject({ outcome: 'rejected' });
    expect(await keyState(arn)).toBe('Enabled');
    await expect(handle.executeUpdate('approveRevocation', { args: [{ by: 'U0ADMIN01' }] })).rejects.toThrow();
  });

  it('stops pending actions when an operator dismisses the incident', async () => {
    const arn = await newKey();
    const message = await post('U0BOB0001', 'C0GENERAL', `fyi ${arn}`);
    const id = idOf('C0GENERAL', message.ts, 'kms-approval');
    await statusOf(id, 'awaiting_approval');
    const handle = h.client.workflow.getHandle(id);
    await handle.executeUpdate('dismiss', { args: [{ by: 'U0ADMIN01', reason: 'sandbox key' }] });
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.status).toBe('dismissed');
    expect(state.dismissed).toMatchObject({ by: 'U0ADMIN01', reason: 'sandbox key' });
    expect(await keyState(arn)).toBe('Enabled');
    await expect(handle.executeUpdate('dismiss', { args: [{ by: 'U0ADMIN01' }] })).rejects.toThrow(/completed|already dismissed/);
  });

  it("waits out Slack's Retry-After on 429s and then deletes once", async () => {
    h.sim.injectFault({ method: 'chat.delete', kind: 'rate_limited', retryAfter: 2, times: 3 });
    const message = await post('U0ALICE01', 'C0ENGINEE', 'the leakword is out');
    const id = idOf('C0ENGINEE', message.ts, 'leakword');
    const state = await incidentResult<IncidentState>(h.client, id, 60_000);
    expect(state.status).toBe('resolved');
    const calls = h.sim.calls.filter((c) => c.method === 'chat.delete' && c.args.ts === message.ts);
    expect(calls.map((c) => c.status)).toEqual([429, 429, 429, 200]);
    for (let i = 1; i < calls.length; i++) expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(1900);
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.filter((r) => r.kind === 'attempt').map((r) => r.attempt)).toEqual([1, 2, 3]);
  });

  it('escalates a repeat offender once per level', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const m = await post('U0BOB0001', 'C0ENGINEE', `leakword number ${i}`);
      ids.push(idOf('C0ENGINEE', m.ts, 'leakword'));
      await incidentResult(h.client, ids[i]!);
    }
    const offender = h.client.workflow.getHandle(`offender/slack/${TEAM}/U0BOB0001`);
    const history = await eventually('three escalations', async () => {
      const s = await offender.query<OffenderState>('history').catch(() => undefined); // a busy worker may time a query out: ask again
      if (!s) return undefined;
      return s.offenses.length >= 6 && s;
    });
    expect(history.escalations.map((e) => [e.action, e.count])).toEqual([
      ['warn', 2],
      ['notify_security', 3],
      ['access_review', 5],
    ]);
    expect(dmsTo('U0BOB0001').filter((t) => t.includes('data-loss incident within 24h'))).toHaveLength(1);
    expect(dmsTo('U0CAROL01').filter((t) => t.includes('who reports to you'))).toHaveLength(1);
    expect(h.sim.workspace.history('C0SECURIT').filter((m) => m.text.includes('<@U0BOB0001> has had'))).toHaveLength(2);
    await recordHistory(`offender/slack/${TEAM}/U0BOB0001`, 'offender-escalated');
  });

  it('carries an offender across continueAsNew without losing history or escalating twice', async () => {
    const workflowId = `offender/slack/${TEAM}/U0CAROL01`;
    const levels = [
      { count: 2, window: '24h', action: 'warn' },
      { count: 3, window: '24h', action: 'notify_security' },
    ];
    const start = { source: 'slack', team: TEAM, user: 'U0CAROL01', levels, offenses: [], escalated: [], runLimit: 2 };
    const offense = (i: number) => ({ incidentId: `incident/test/${i}`, ruleId: 'leakword', severity: 'medium', at: new Date().toISOString() });
    const first = await h.client.workflow.signalWithStart('offenderWorkflow', { workflowId, taskQueue: h.config.temporal.taskQueue, args: [start], signal: 'offense', signalArgs: [offense(1)] });
    for (let i = 2; i <= 5; i++) {
      await h.client.workflow.getHandle(workflowId).signal('offense', offense(i));
      await new Promise((r) => setTimeout(r, 300));
    }
    const handle = h.client.workflow.getHandle(workflowId);
    const state = await eventually('all five offenses', async () => {
      const s = await handle.query<OffenderState>('history').catch(() => undefined); // a busy worker may time a query out: ask again
      if (!s) return undefined;
      return s.offenses.length === 5 && s;
    });
    expect((await handle.describe()).runId).not.toBe(first.signaledRunId);
    expect(state.escalations.map((e) => [e.action, e.count])).toEqual([
      ['warn', 2],
      ['notify_security', 3],
    ]);
  });

  it('lets an operator find, retry and audit incidents from the sentinel CLI', async () => {
    const cli = incidentsCli;
    h.sim.injectFault({ method: 'chat.delete', kind: 'error', error: 'cant_delete_message' });
    const message = await post('U0ALICE01', 'C0GENERAL', 'a leakword again');
    const id = idOf('C0GENERAL', message.ts, 'leakword');
    await statusOf(id, 'needs_attention');

    const listed = await eventually('the list to show it', async () => {
      const r = await cli('list', '--status', 'needs_attention');
      return r.stdout.includes(id) && r;
    });
    expect(listed.stdout.trim().split('\n')).toHaveLength(1);
    expect(listed.stdout).toMatch(/^needs_attention\s+medium\s+leakword/);

    const refused = await cli('approve', id);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('approve refused: no revocation is awaiting approval (status needs_attention)');

    const retried = await cli('retry', id, '--reason', 'bot re-invited');
    expect(retried.stdout).toContain(`retry: done; incident ${id} is needs_attention`);
    await incidentResult(h.client, id);
    const audit = await cli('audit', id);
    expect(audit.stdout).toMatch(/action\s+delete\s+failed/);
    expect(audit.stdout).toMatch(/operator\s+delete\s+retry .*by U0ADMIN01\s+bot re-invited/);
    expect(audit.stdout).toMatch(/decision\s+close\s+resolved/);

    const missing = await cli('show', 'incident/slack/T0/C0/1.0/nope');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no incident with id "incident/slack/T0/C0/1.0/nope"');
  });
});
