/**
 * Redact, tombstone and quarantine end to end on the dev stack (Temporal, NATS, the Slack simulator
 * through the real client): what the channel shows afterwards, the sealed copy in QUARANTINE, an
 * operator's restore and discard (Updates and the CLI), expiry, and a restore retried after a crash.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetStreamNoticeLedger } from '../../activities/notice-ledger';
import { createQuarantineActivities } from '../../activities/quarantine';
import { quarantineVault, type QuarantineVault } from '../../activities/quarantine-vault';
import { createSlackActivities } from '../../activities/slack';
import { activityWebClient } from '../../activities/slack-client';
import { QUARANTINE_STREAM, quarantineSubject, type IncidentState } from '../../contract';
import { readAuditTrail } from '../../src/incidents/audit-trail';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../../src/slack-sim/workspace';
import { eventually, incidentResult, startHarness, type Harness, postAndPublish, stateWhen } from '../support/harness';
import { recordHistory } from '../support/histories';
import { QUARANTINE_RULE, rulesDir, testToken } from '../support/incident-rules';
import { incidentsCli } from '../support/processes';
import { testCodec } from '../support/secrets';

const TEAM = 'T0SENTNL1';

const RULES = `rules:
  - id: redact-token
    description: Sentinel test token
    category: secret
    severity: high
    match: { regex: '(SNTL-[A-Z0-9]{16})', anchors: ["SNTL-"] }
    scope: { channels: [C0GENERAL] }
    actions: [redact, notify]
    message: "<@{user}>, your token was redacted."
  - id: tomb-word
    description: Project tombword is confidential
    category: policy
    severity: medium
    match: { keywords: [tombword] }
    actions: [tombstone]
${QUARANTINE_RULE}`;

const token = testToken;

describe('redact, tombstone and quarantine', () => {
  let h: Harness;
  let vault: QuarantineVault;
  beforeAll(async () => {
    // A short retention, so that a review nobody makes expires within the test.
    h = await startHarness({ SENTINEL_RULES_DIR: rulesDir(RULES), SENTINEL_QUARANTINE_RETENTION: '40s' });
    vault = quarantineVault(h.nc, [testCodec()]);
  });
  afterAll(async () => {
    await h?.close();
  });

  const post = (user: string, channel: string, text: string) => postAndPublish(h, user, channel, text);
  const idOf = (channel: string, ts: string, rule: string) => `incident/slack/${TEAM}/${channel}/${ts}/${rule}`;
  const statusOf = (id: string, status: IncidentState['status']) => stateWhen(h.client, id, status);
  /** The stored bytes of an incident's sealed copy, or undefined when there is none. */
  const storedCopy = async (id: string) => {
    const jsm = await h.nc.jetstreamManager();
    return jsm.streams.getMessage(QUARANTINE_STREAM, { last_by_subj: quarantineSubject(id) }).then(
      (m) => m,
      () => undefined,
    );
  };
  const restoredPosts = (channel: string) => h.sim.workspace.history(channel).filter((m) => m.text.startsWith(':leftwards_arrow_with_hook: Restored by Sentinel'));

  it('redacts the message in place: the channel shows the text with the secret redacted, through the admin token', async () => {
    const secret = token('SNTL');
    const message = await post('U0ALICE01', 'C0GENERAL', `deploy with ${secret} tonight\nthanks`);
    const id = idOf('C0GENERAL', message.ts, 'redact-token');
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.status).toBe('resolved');
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['redact', 'done'],
      ['notify', 'done'],
      ['summary', 'done'],
      ['report', 'done'],
    ]);
    const shown = h.sim.workspace.find('C0GENERAL', message.ts)!;
    expect(shown.text).toBe(`deploy with ${secret.slice(0, 3)}${'*'.repeat(15)}${secret.slice(-3)} tonight\nthanks`);
    expect(shown.text).not.toContain(secret);
    expect(shown.edited?.user).toBe('U0ADMIN01');
    const update = h.sim.calls.find((c) => c.method === 'chat.update' && c.args.ts === message.ts)!;
    expect(update.status).toBe(200);
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.map((r) => [r.kind, r.step, r.outcome])).toContainEqual(['action', 'redact', 'done']);
    expect(JSON.stringify(trail)).not.toContain(secret);
    await recordHistory(id, 'incident-redacted');
  });

  it('counts a message already gone as redacted, and deletes one Slack will not let it edit', async () => {
    const gone = await post('U0BOB0001', 'C0GENERAL', `old ${token('SNTL')}`);
    h.sim.workspace.delete('C0GENERAL', gone.ts, { kind: 'user', user: 'U0BOB0001' });
    const goneState = await incidentResult<IncidentState>(h.client, idOf('C0GENERAL', gone.ts, 'redact-token'));
    expect(goneState.steps[0]).toMatchObject({ step: 'redact', outcome: 'already_done', detail: 'message already gone' });

    h.sim.injectFault({ method: 'chat.update', kind: 'error', error: 'cant_update_message' });
    const refused = await post('U0BOB0001', 'C0GENERAL', `again ${token('SNTL')}`);
    const refusedState = await incidentResult<IncidentState>(h.client, idOf('C0GENERAL', refused.ts, 'redact-token'));
    expect(refusedState.steps[0]).toMatchObject({ step: 'redact', outcome: 'done', detail: 'Slack refused the edit: the message was deleted instead' });
    expect(h.sim.workspace.find('C0GENERAL', refused.ts)).toBeUndefined();
  });

  it('replaces a tombstoned message with a notice naming the rule and the incident', async () => {
    const message = await post('U0BOB0001', 'C0ENGINEE', 'the tombword plan is attached');
    const id = idOf('C0ENGINEE', message.ts, 'tomb-word');
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['tombstone', 'done'],
      ['summary', 'done'],
      ['report', 'done'],
    ]);
    expect(h.sim.workspace.find('C0ENGINEE', message.ts)!.text).toBe(`:no_entry: This message was removed by Sentinel: Project tombword is confidential. Incident \`${id}\`.`);
  });

  it('quarantines a message sealed, then restores it once in its channel with attribution when an operator says so', async () => {
    const secret = token('QRNT');
    const text = `the staging key is ${secret}, do not share`;
    const message = await post('U0CAROL01', 'C0ENGINEE', text);
    const id = idOf('C0ENGINEE', message.ts, 'quarantine-token');
    const waiting = await statusOf(id, 'awaiting_review');
    expect(waiting.review).toEqual({ decision: 'pending' });
    expect(h.sim.workspace.find('C0ENGINEE', message.ts)).toBeUndefined();

    // The stored copy is sealed: neither the text nor its base64 is in its bytes; the codec opens it.
    const stored = (await storedCopy(id))!;
    const bytes = Buffer.from(stored.data).toString('latin1');
    expect(bytes).not.toContain(secret);
    expect(bytes).not.toContain(Buffer.from(secret).toString('base64').slice(0, 16));
    expect(stored.header.get('Nats-Msg-Id')).toBe(id);
    expect(await vault.read(id)).toMatchObject({ incidentId: id, channel: 'C0ENGINEE', user: 'U0CAROL01', ts: message.ts, text });

    const handle = h.client.workflow.getHandle(id);
    await expect(handle.executeUpdate('restore', { args: [{ by: '' }] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/"by" is required/) } });
    await expect(handle.executeUpdate('restore', { args: [{}] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/"by" is required/) } });
    await expect(handle.executeUpdate('dismiss', { args: [{ by: 'U0ADMIN01', reason: 'fp' }] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/in quarantine: restore it .* or discard it first/) } });
    await handle.executeUpdate('restore', { args: [{ by: 'U0ADMIN01', reason: 'a test key' }] });
    await expect(handle.executeUpdate('discard', { args: [{ by: 'U0ADMIN01', reason: 'changed my mind' }] })).rejects.toThrow();

    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.status).toBe('resolved');
    expect(state.review).toMatchObject({ decision: 'restore', by: 'U0ADMIN01', reason: 'a test key' });
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['quarantine', 'done'],
      ['notify', 'done'],
      ['summary', 'done'],
      ['report', 'done'],
      ['review', 'done'],
    ]);
    const restored = restoredPosts('C0ENGINEE').filter((m) => m.text.includes(secret));
    expect(restored).toHaveLength(1);
    expect(restored[0]!.text).toMatch(/^:leftwards_arrow_with_hook: Restored by Sentinel after review by <@U0ADMIN01>: originally posted by <@U0CAROL01> at <!date\^\d+\^\{date_short_pretty\} at \{time\}\|[^>]+>:\n/);
    expect(restored[0]!.text.endsWith(`:\n${text}`)).toBe(true);
    expect(restored[0]!.bot_id).toBeDefined();
    expect(await storedCopy(id)).toBeUndefined();

    const trail = await readAuditTrail(h.nc, id);
    expect(trail.find((r) => r.kind === 'operator' && r.step === 'review')).toMatchObject({ outcome: 'restore_requested', actor: 'U0ADMIN01', detail: 'a test key' });
    expect(trail.map((r) => [r.kind, r.step, r.outcome])).toEqual(expect.arrayContaining([['decision', 'review', 'awaiting_review'], ['action', 'review', 'done']]));
    expect(JSON.stringify(trail)).not.toContain(secret);
    await recordHistory(id, 'incident-quarantine-restored');
  });

  it('lists the review queue and discards a quarantined message from the sentinel CLI', async () => {
    const cli = incidentsCli;
    const secret = token('QRNT');
    const message = await post('U0BOB0001', 'C0ENGINEE', `prod: ${secret}`);
    const id = idOf('C0ENGINEE', message.ts, 'quarantine-token');
    await statusOf(id, 'awaiting_review');
    const queue = await eventually('the review queue to show it', async () => {
      const r = await cli('review', '--rule', 'quarantine-token');
      return r.stdout.includes(id) && r;
    });
    expect(queue.stdout).toMatch(new RegExp(`^awaiting_review\\s+high\\s+quarantine-token .* ${id.replaceAll('.', '\\.')}$`, 'm'));

    const noReason = await cli('discard', id);
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toContain('discard needs --reason');
    const discarded = await cli('discard', id, '--by', 'U0SECOPS1', '--reason', 'real customer data');
    expect(discarded.stdout).toContain(`discard: done; incident ${id} is`);

    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.review).toMatchObject({ decision: 'discard', by: 'U0SECOPS1' });
    expect(state.steps.at(-1)).toMatchObject({ step: 'review', outcome: 'done', detail: 'discard by U0SECOPS1: sealed copy deleted' });
    expect(await storedCopy(id)).toBeUndefined();
    expect(restoredPosts('C0ENGINEE').filter((m) => m.text.includes(secret))).toHaveLength(0);
    const audit = await cli('audit', id);
    expect(audit.stdout).toMatch(/operator\s+review\s+discard_requested\s+by U0SECOPS1\s+real customer data/);
  });

  it('discards the sealed copy of a message it could not remove when the incident is dismissed', async () => {
    h.sim.injectFault({ method: 'chat.delete', kind: 'error', error: 'cant_delete_message' });
    const message = await post('U0BOB0001', 'C0ENGINEE', `stuck ${token('QRNT')}`);
    const id = idOf('C0ENGINEE', message.ts, 'quarantine-token');
    const stuck = await statusOf(id, 'needs_attention');
    expect(stuck.failed).toMatchObject({ step: 'quarantine', reason: expect.stringContaining('cant_delete_message') });
    expect(await storedCopy(id)).toBeDefined();
    const handle = h.client.workflow.getHandle(id);
    await expect(handle.executeUpdate('restore', { args: [{ by: 'U0ADMIN01' }] })).rejects.toMatchObject({ cause: { message: expect.stringMatching(/nothing is in quarantine yet \(status needs_attention\)/) } });
    await handle.executeUpdate('dismiss', { args: [{ by: 'U0ADMIN01', reason: 'not a secret' }] });
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.status).toBe('dismissed');
    expect(state.steps.at(-1)).toMatchObject({ step: 'review', outcome: 'skipped', detail: 'nothing was quarantined: the message was not removed; its sealed copy was discarded' });
    expect(await storedCopy(id)).toBeUndefined();
    expect(h.sim.workspace.find('C0ENGINEE', message.ts)).toBeDefined();
  });

  it('discards the copy as expired when nobody reviews it within the retention', async () => {
    const message = await post('U0ALICE01', 'C0ENGINEE', `forgotten ${token('QRNT')}`);
    const id = idOf('C0ENGINEE', message.ts, 'quarantine-token');
    await statusOf(id, 'awaiting_review');
    expect(await storedCopy(id)).toBeDefined();
    const state = await incidentResult<IncidentState>(h.client, id, 90_000);
    expect(state.review).toMatchObject({ decision: 'expired', by: 'timeout' });
    expect(state.steps.at(-1)).toMatchObject({ step: 'review', outcome: 'done', detail: 'expired unreviewed: sealed copy deleted' });
    expect(await storedCopy(id)).toBeUndefined();
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.find((r) => r.outcome === 'expired')).toMatchObject({ kind: 'decision', actor: 'timeout' });
  }, 120_000);

  it('posts a restore once even when the attempt that posted died before it finished', async () => {
    const ledger = await jetStreamNoticeLedger(h.nc.jetstream());
    const slack = createSlackActivities({ admin: activityWebClient(SIM_ADMIN_TOKEN, h.sim.apiUrl), bot: activityWebClient(SIM_BOT_TOKEN, h.sim.apiUrl) }, ledger);
    // The first attempt's worker dies after the post, before the copy is deleted.
    let crashes = 1;
    const crashing: QuarantineVault = {
      ...vault,
      async remove(incidentId) {
        if (crashes-- > 0) throw new Error('worker killed');
        return vault.remove(incidentId);
      },
    };
    const activities = createQuarantineActivities({ vault: crashing, post: slack.postSecurityNotice, ledger });
    const id = `incident/slack/${TEAM}/C0GENERAL/${Date.now()}.000100/quarantine-token`;
    const text = `crash test ${token('QRNT')}`;
    await vault.hold({ v: 1, incidentId: id, team: TEAM, channel: 'C0GENERAL', user: 'U0BOB0001', ts: `${Math.floor(Date.now() / 1000)}.000100`, text });
    await vault.hold({ v: 1, incidentId: id, team: TEAM, channel: 'C0GENERAL', user: 'U0BOB0001', ts: '1.000001', text: 'a second hold is dropped' });
    expect((await vault.read(id))!.text).toBe(text);

    await expect(activities.restoreQuarantined({ incidentId: id, by: 'U0ADMIN01' })).rejects.toThrow('worker killed');
    expect(await activities.restoreQuarantined({ incidentId: id, by: 'U0ADMIN01' })).toMatchObject({ outcome: 'already_restored' });
    expect(await activities.restoreQuarantined({ incidentId: id, by: 'U0ADMIN01' })).toMatchObject({ outcome: 'already_restored', detail: expect.stringMatching(/^re-posted in C0GENERAL as \d+\.\d+$/) });
    expect(restoredPosts('C0GENERAL').filter((m) => m.text.endsWith(text))).toHaveLength(1);
    expect(await vault.read(id)).toBeUndefined();
    expect(await activities.discardQuarantined({ incidentId: id })).toBe('already_gone');

    // Without a copy and never restored: nothing to restore, said so.
    expect(await activities.restoreQuarantined({ incidentId: `${id}-never`, by: 'U0ADMIN01' })).toMatchObject({ outcome: 'gone' });
  });
});
