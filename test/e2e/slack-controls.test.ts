/**
 * The operator's loop in Slack, end to end on the dev stack: the simulator shows the security
 * summary with buttons, a user clicks one (a signed block_actions request to the bridge) or types
 * `/sentinel …` (a signed slash command), and the bridge checks SENTINEL_OPERATORS (user ids and a
 * user group read with usergroups.users.list), sends the incident's Update through Temporal, and
 * answers through the response_url: the summary's buttons replaced by the outcome, or an
 * ephemeral note. Refusals are audited on the incident's trail. Over HTTP and over Socket Mode.
 */
import { CreateKeyCommand, DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jetStreamAudit } from '../../activities/audit';
import { composeSecurityDigest } from '../../activities/notice-batcher';
import { digestBlocks } from '../../activities/summary-blocks';
import { activityWebClient } from '../../activities/slack-client';
import { jetStreamNoticeLedger } from '../../activities/notice-ledger';
import { SlackControls } from '../../src/bridge/controls';
import { summaryMessages } from '../../src/bridge/operator-loop';
import { Operators } from '../../src/bridge/operators';
import { BridgeServer } from '../../src/bridge/server';
import { startSocketMode, type SocketModeIngest } from '../../src/bridge/socket-mode';
import { signature } from '../../src/bridge/verify';
import { readAuditTrail } from '../../src/incidents/audit-trail';
import { silentLogger } from '../../src/log';
import { ensureAuditStream } from '../../src/nats/streams';
import { SIM_APP_TOKEN, SIM_BOT_TOKEN, type SimMessage } from '../../src/slack-sim/workspace';
import { controlsFor, type IncidentState } from '../../contract';
import { eventually, incidentResult, startHarness, type Harness } from '../support/harness';
import { INCIDENT_RULES, QUARANTINE_RULE, rulesDir, testToken } from '../support/incident-rules';

const TEAM = 'T0SENTNL1';
const SECRET = 'controls-test-signing-secret';
const SECURITY = 'C0SECURIT';
/** The incident suites' rules, and one that quarantines for an operator's review. */
const RULES = `${INCIDENT_RULES}${QUARANTINE_RULE}`;
const qrnt = () => testToken('QRNT');

describe('operator controls in Slack', () => {
  let h: Harness;
  let kms: KMSClient;
  let bridge: BridgeServer;
  let controls: SlackControls;
  beforeAll(async () => {
    h = await startHarness({ SENTINEL_RULES_DIR: rulesDir(RULES) });
    kms = new KMSClient({ region: 'us-east-1', endpoint: inject('stack').kmsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await ensureAuditStream(await h.nc.jetstreamManager());
    // U0ADMIN01 by id; the secops user group (S0SECOPS1: U0CAROL01) through usergroups.users.list. Alice and Bob are not operators.
    const operators = new Operators({ users: new Set(['U0ADMIN01']), groups: ['S0SECOPS1'], slack: activityWebClient(SIM_BOT_TOKEN, h.sim.apiUrl), log: silentLogger });
    const summaries = summaryMessages(await jetStreamNoticeLedger(h.nc.jetstream()), activityWebClient(SIM_BOT_TOKEN, h.sim.apiUrl));
    controls = new SlackControls({ operators, temporal: h.client, audit: jetStreamAudit(h.nc.jetstream()), log: silentLogger, summaries });
    bridge = await new BridgeServer({ js: h.nc.jetstream(), signingSecret: SECRET, log: silentLogger, controls }).start();
    h.sim.subscribe({ url: bridge.eventsUrl, signingSecret: SECRET, interactivityUrl: bridge.interactivityUrl, commandsUrl: bridge.commandsUrl });
  });
  afterAll(async () => {
    h?.sim.subscribe(undefined);
    await controls?.drain();
    await bridge?.stop();
    await h?.close();
  });

  const newKey = async () => (await kms.send(new CreateKeyCommand({ Description: 'sentinel controls test key' }))).KeyMetadata!.Arn!;
  const keyState = async (arn: string) => (await kms.send(new DescribeKeyCommand({ KeyId: arn }))).KeyMetadata!.KeyState;
  const idOf = (channel: string, ts: string, rule: string) => `incident/slack/${TEAM}/${channel}/${ts}/${rule}`;
  const stateOf = (id: string) => h.client.workflow.getHandle(id).query<IncidentState>('state');
  const statusOf = (id: string, status: string) => eventually(`${id} to be ${status}`, async () => (await stateOf(id).catch(() => undefined))?.status === status);
  /** The security summary carrying the incident's buttons (or, once used, its outcome line). */
  const summaryOf = (id: string) =>
    eventually(`the summary of ${id}`, () => h.sim.workspace.history(SECURITY).find((m) => m.text.includes(id) && m.blocks !== undefined));
  const buttonsOf = (m: SimMessage, id: string) =>
    (m.blocks ?? []).filter((b) => b.type === 'actions').flatMap((b) => (b.elements as { action_id: string; value: string }[]).filter((e) => e.value === id).map((e) => e.action_id));
  const ephemeralsTo = (user: string) => h.sim.workspace.ephemerals.filter((e) => e.user === user).map((e) => e.text);
  /** A leaked KMS key in #general: the kms-approval rule waits for an operator before revoking it. */
  const pendingRevocation = async () => {
    const arn = await newKey();
    const { message } = h.sim.postAsUser('U0BOB0001', 'C0GENERAL', `the key is ${arn}`);
    const id = idOf('C0GENERAL', message.ts, 'kms-approval');
    await statusOf(id, 'awaiting_approval');
    return { arn, id, summary: await summaryOf(id) };
  };

  it('approves a pending KMS revocation from the summary button, audits the clicking operator and shows the outcome in place of the buttons', async () => {
    const { arn, id, summary } = await pendingRevocation();
    expect(buttonsOf(summary, id)).toEqual(['approveRevocation', 'rejectRevocation', 'dismiss', 'retry', 'escalate']);
    expect(summary.text).toContain(id); // the plain-text fallback stays

    const answer = await h.sim.click({ user: 'U0ADMIN01', channel: SECURITY, ts: summary.ts, action_id: 'approveRevocation', value: id });
    expect(answer).toMatchObject({ via: 'http', status: 200 });
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.approval).toMatchObject({ decision: 'approve', by: 'U0ADMIN01' });
    expect(state.status).toBe('resolved');
    expect(await keyState(arn)).toBe('Disabled');

    const trail = await readAuditTrail(h.nc, id);
    expect(trail.find((r) => r.outcome === 'approved')).toMatchObject({ kind: 'operator', step: 'revoke_kms', actor: 'U0ADMIN01' });
    expect(trail.find((r) => r.step === 'revoke_kms' && r.kind === 'action')).toMatchObject({ outcome: 'done' });

    const updated = await eventually('the summary to show the outcome', () => {
      const m = h.sim.workspace.find(SECURITY, summary.ts);
      return m && buttonsOf(m, id).length === 0 && m;
    });
    const context = updated.blocks!.find((b) => b.type === 'context') as { elements: { text: string }[] };
    expect(context.elements[0]!.text).toMatch(/^:white_check_mark: Revocation approved by <@U0ADMIN01> at \d{4}-\d\d-\d\d \d\d:\d\d UTC/);
    expect(updated.text).toContain(id);
  });

  it("refuses a non-operator's click, audits the refusal and changes nothing; an operator through a user group then rejects", async () => {
    const { arn, id, summary } = await pendingRevocation();
    const answer = await h.sim.click({ user: 'U0ALICE01', channel: SECURITY, ts: summary.ts, action_id: 'approveRevocation', value: id });
    expect(answer.status).toBe(200);
    await eventually('the refusal to reach Alice', () => ephemeralsTo('U0ALICE01').some((t) => t.includes('you are not a Sentinel operator')));
    const refused = await eventually('the refusal on the audit trail', async () => (await readAuditTrail(h.nc, id)).find((r) => r.outcome === 'refused'));
    expect(refused).toMatchObject({ kind: 'operator', step: 'approveRevocation', outcome: 'refused', actor: 'U0ALICE01' });
    expect(refused.detail).toMatch(/SENTINEL_OPERATORS/);
    const after = await stateOf(id);
    expect(after.status).toBe('awaiting_approval');
    expect(after.approval).toBeUndefined();
    expect(await keyState(arn)).toBe('Enabled');
    expect(buttonsOf(h.sim.workspace.find(SECURITY, summary.ts)!, id)).toContain('approveRevocation');

    // Carol is no operator by id, only as a member of the secops user group.
    await h.sim.click({ user: 'U0CAROL01', channel: SECURITY, ts: summary.ts, action_id: 'rejectRevocation', value: id });
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.approval).toMatchObject({ decision: 'reject', by: 'U0CAROL01' });
    expect(state.steps.find((s) => s.step === 'revoke_kms')).toMatchObject({ outcome: 'rejected' });
    expect(await keyState(arn)).toBe('Enabled');
    expect((await readAuditTrail(h.nc, id)).find((r) => r.outcome === 'rejected')).toMatchObject({ kind: 'operator', actor: 'U0CAROL01' });
    expect(h.sim.calls.filter((c) => c.method === 'usergroups.users.list' && c.ok).length).toBeGreaterThanOrEqual(1);
    await eventually('the summary to show the rejection', () => {
      const m = h.sim.workspace.find(SECURITY, summary.ts)!;
      return buttonsOf(m, id).length === 0 && JSON.stringify(m.blocks).includes('Revocation rejected by <@U0CAROL01>');
    });
  });

  it('tells the operator when the workflow refuses the Update, instead of swallowing it', async () => {
    const { message } = h.sim.postAsUser('U0BOB0001', 'C0ENGINEE', 'the leakword again');
    const id = idOf('C0ENGINEE', message.ts, 'leakword');
    const summary = await summaryOf(id);
    expect(buttonsOf(summary, id)).toEqual(['dismiss', 'retry', 'escalate']);
    await incidentResult(h.client, id);
    const before = ephemeralsTo('U0ADMIN01').length;
    await h.sim.click({ user: 'U0ADMIN01', channel: SECURITY, ts: summary.ts, action_id: 'retry', value: id });
    const note = await eventually('the refusal to reach the operator', () => ephemeralsTo('U0ADMIN01').slice(before).find((t) => t.includes(id)));
    expect(note).toMatch(/^:warning: Retry `incident\/.+`: the incident has already ended/);
    expect(buttonsOf(h.sim.workspace.find(SECURITY, summary.ts)!, id)).toEqual(['dismiss', 'retry', 'escalate']);
  });

  it('restores a quarantined message from the Restore button and discards another from Discard', async () => {
    const quarantined = async () => {
      const { message } = h.sim.postAsUser('U0CAROL01', 'C0ENGINEE', `staging token ${qrnt()}`);
      const id = idOf('C0ENGINEE', message.ts, 'quarantine-token');
      await statusOf(id, 'awaiting_review');
      return { id, summary: await summaryOf(id) };
    };
    const first = await quarantined();
    expect(buttonsOf(first.summary, first.id)).toEqual(['restore', 'discard', 'dismiss', 'retry', 'escalate']);
    await h.sim.click({ user: 'U0ADMIN01', channel: SECURITY, ts: first.summary.ts, action_id: 'restore', value: first.id });
    expect((await incidentResult<IncidentState>(h.client, first.id)).review).toMatchObject({ decision: 'restore', by: 'U0ADMIN01' });
    await eventually('the summary to show the restore', () => JSON.stringify(h.sim.workspace.find(SECURITY, first.summary.ts)!.blocks).includes('Message restored by <@U0ADMIN01>'));

    const second = await quarantined();
    await h.sim.click({ user: 'U0CAROL01', channel: SECURITY, ts: second.summary.ts, action_id: 'discard', value: second.id });
    expect((await incidentResult<IncidentState>(h.client, second.id)).review).toMatchObject({ decision: 'discard', by: 'U0CAROL01' });
    await eventually('the summary to show the discard', () => JSON.stringify(h.sim.workspace.find(SECURITY, second.summary.ts)!.blocks).includes('Quarantined copy discarded by <@U0CAROL01>'));
  });

  it('keeps both outcomes when two operators click on one digest at once', async () => {
    const one = await pendingRevocation();
    const two = await pendingRevocation();
    // A digest as the summary activity composes one during a burst (this suite posts each summary alone).
    const bot = activityWebClient(SIM_BOT_TOKEN, h.sim.apiUrl);
    const controlled = [one, two].map(({ id, summary }) => ({ incidentId: id, text: summary.text, controls: controlsFor({ actions: ['revoke_kms'], approvalRequired: true }) }));
    const digest = await bot.chat.postMessage({ channel: SECURITY, text: composeSecurityDigest(controlled.map((c) => ({ key: c.incidentId, text: c.text }))), blocks: digestBlocks('2 incidents', controlled) });
    await Promise.all([
      h.sim.click({ user: 'U0ADMIN01', channel: SECURITY, ts: digest.ts!, action_id: 'approveRevocation', value: one.id }),
      h.sim.click({ user: 'U0CAROL01', channel: SECURITY, ts: digest.ts!, action_id: 'rejectRevocation', value: two.id }),
    ]);
    expect((await incidentResult<IncidentState>(h.client, one.id)).approval).toMatchObject({ decision: 'approve', by: 'U0ADMIN01' });
    expect((await incidentResult<IncidentState>(h.client, two.id)).approval).toMatchObject({ decision: 'reject', by: 'U0CAROL01' });
    expect(await keyState(one.arn)).toBe('Disabled');
    expect(await keyState(two.arn)).toBe('Enabled');
    const shown = await eventually('both outcomes on the digest', () => {
      const m = h.sim.workspace.find(SECURITY, digest.ts!)!;
      const text = JSON.stringify(m.blocks);
      return text.includes('Revocation approved by <@U0ADMIN01>') && text.includes('Revocation rejected by <@U0CAROL01>') && m;
    });
    expect(buttonsOf(shown, one.id)).toEqual([]);
    expect(buttonsOf(shown, two.id)).toEqual([]);
  });

  it('answers forged and stale interactivity requests and slash commands with 401 and does nothing', async () => {
    const { id, arn } = await pendingRevocation();
    const payload = {
      type: 'block_actions',
      user: { id: 'U0ADMIN01' },
      actions: [{ action_id: 'approveRevocation', value: id, action_ts: '1.0' }],
      response_url: `${h.sim.url}/response/${TEAM}/forged`,
    };
    const send = (url: string, body: string, secret: string, ts: number) => {
      const t = String(ts);
      return fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': t, 'x-slack-signature': signature(secret, t, body) } });
    };
    const now = Math.floor(Date.now() / 1000);
    const click = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const command = new URLSearchParams({ command: '/sentinel', text: `approve ${id}`, user_id: 'U0ADMIN01', response_url: payload.response_url }).toString();
    expect((await send(bridge.interactivityUrl, click, 'not-the-signing-secret', now)).status).toBe(401);
    expect((await send(bridge.interactivityUrl, click, SECRET, now - 10 * 60)).status).toBe(401);
    expect((await send(bridge.commandsUrl, command, 'not-the-signing-secret', now)).status).toBe(401);
    expect((await send(bridge.commandsUrl, command, SECRET, now - 10 * 60)).status).toBe(401);
    await new Promise((r) => setTimeout(r, 500));
    expect((await stateOf(id)).status).toBe('awaiting_approval');
    expect(await keyState(arn)).toBe('Enabled');
    // Correctly signed, the same click goes through: what was refused was the signature.
    expect((await send(bridge.interactivityUrl, click, SECRET, now)).status).toBe(200);
    expect((await incidentResult<IncidentState>(h.client, id)).approval).toMatchObject({ decision: 'approve', by: 'U0ADMIN01' });
  });

  it('lists open incidents, shows one and approves with /sentinel; refuses a non-operator; answers usage to an unknown subcommand', async () => {
    const { arn, id, summary } = await pendingRevocation();
    const usage = await h.sim.command({ user: 'U0ADMIN01', channel: SECURITY, text: 'frobnicate' });
    expect(usage).toMatchObject({ status: 200, body: { response_type: 'ephemeral', text: expect.stringMatching(/^unknown subcommand "frobnicate"\.\n\*\/sentinel\*/) } });

    const listed = await eventually('the incident in the open list', async () => {
      const before = ephemeralsTo('U0ADMIN01').length;
      await h.sim.command({ user: 'U0ADMIN01', channel: SECURITY, text: 'incidents' });
      const reply = await eventually('the list', () => ephemeralsTo('U0ADMIN01')[before]);
      return reply.includes(id) && reply;
    });
    expect(listed).toMatch(new RegExp(`\`${id.replaceAll('.', '\\.')}\` — \\*awaiting_approval\\*`));

    let before = ephemeralsTo('U0ADMIN01').length;
    await h.sim.command({ user: 'U0ADMIN01', channel: SECURITY, text: `show ${id}` });
    expect(await eventually('show', () => ephemeralsTo('U0ADMIN01')[before])).toMatch(/\*awaiting_approval\*[\s\S]*rule kms-approval/);

    await h.sim.command({ user: 'U0BOB0001', channel: 'C0GENERAL', text: `approve ${id} it is mine` });
    await eventually('the refusal to reach Bob', () => ephemeralsTo('U0BOB0001').some((t) => t.includes('you are not a Sentinel operator')));
    expect(await eventually('the refusal on the trail', async () => (await readAuditTrail(h.nc, id)).find((r) => r.outcome === 'refused'))).toMatchObject({ actor: 'U0BOB0001', step: 'approveRevocation' });
    expect((await stateOf(id)).status).toBe('awaiting_approval');

    // The workflow's own refusal (its Update validator) comes back to the operator word for word.
    before = ephemeralsTo('U0ADMIN01').length;
    await h.sim.command({ user: 'U0ADMIN01', channel: SECURITY, text: `retry ${id}` });
    expect(await eventually('the refusal', () => ephemeralsTo('U0ADMIN01')[before])).toBe(`:warning: retry \`${id}\`: refused: nothing to retry: the incident is awaiting_approval`);

    before = ephemeralsTo('U0ADMIN01').length;
    await h.sim.command({ user: 'U0ADMIN01', channel: SECURITY, text: `approve ${id} confirmed exposure` });
    expect(await eventually('the answer', () => ephemeralsTo('U0ADMIN01')[before])).toMatch(/^:white_check_mark: Revocation approved by <@U0ADMIN01>/);
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.approval).toMatchObject({ decision: 'approve', by: 'U0ADMIN01', reason: 'confirmed exposure' });
    expect(await keyState(arn)).toBe('Disabled');
    // The summary shows the decision in place of the buttons, as a click would have.
    const updated = await eventually('the summary to show the /sentinel decision', () => {
      const m = h.sim.workspace.find(SECURITY, summary.ts);
      return m && buttonsOf(m, id).length === 0 && m;
    });
    expect(JSON.stringify(updated.blocks)).toMatch(/Revocation approved by <@U0ADMIN01> at [^"]* \(\/sentinel\); the incident is/);
    // Resolved now: no longer among the open ones.
    await eventually('the incident to leave the open list', async () => {
      const n = ephemeralsTo('U0ADMIN01').length;
      await h.sim.command({ user: 'U0ADMIN01', channel: SECURITY, text: 'incidents' });
      const reply = await eventually('the list', () => ephemeralsTo('U0ADMIN01')[n]);
      return !reply.includes(id);
    });
  });

  describe('over Socket Mode', () => {
    let socket: SocketModeIngest;
    beforeAll(async () => {
      // No interactivity URL: clicks and commands go over the app's websocket.
      h.sim.subscribe({ url: bridge.eventsUrl, signingSecret: SECRET });
      socket = await startSocketMode({ appToken: SIM_APP_TOKEN, slackApiUrl: h.sim.apiUrl, js: h.nc.jetstream(), log: silentLogger, controls });
    });
    afterAll(async () => {
      await socket?.stop();
    });

    it('dismisses from a button click and answers slash commands through the same controls', async () => {
      const { arn, id, summary } = await pendingRevocation();
      const usage = await h.sim.command({ user: 'U0ADMIN01', channel: SECURITY, text: 'help' });
      expect(usage).toMatchObject({ via: 'socket_mode', status: 200, body: { response_type: 'ephemeral', text: expect.stringContaining('/sentinel incidents') } });
      const answer = await h.sim.click({ user: 'U0ADMIN01', channel: SECURITY, ts: summary.ts, action_id: 'dismiss', value: id });
      expect(answer).toMatchObject({ via: 'socket_mode', status: 200 });
      const state = await incidentResult<IncidentState>(h.client, id);
      expect(state.status).toBe('dismissed');
      expect(state.dismissed).toMatchObject({ by: 'U0ADMIN01' });
      expect(await keyState(arn)).toBe('Enabled');
      await eventually('the summary to show the dismissal', () => JSON.stringify(h.sim.workspace.find(SECURITY, summary.ts)!.blocks).includes('Dismissed by <@U0ADMIN01>'));
    });
  });
});
