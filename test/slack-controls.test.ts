/**
 * The pieces of the operator's loop in Slack that need no stack: which buttons a summary carries,
 * the Block Kit of summaries and digests (within Slack's 50 blocks), the outcome line in place of
 * the buttons, parsing block_actions payloads and /sentinel commands, SENTINEL_OPERATORS with user
 * groups read from the Slack simulator through the real WebClient, and the simulator's own limits.
 */
import { WebClient } from '@slack/web-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeSecurityBlocks, NoticeBatcher, composeSecurityDigest, type Notice } from '../activities/notice-batcher';
import { activityWebClient } from '../activities/slack-client';
import { digestBlocks, MAX_BLOCKS, MAX_INCIDENTS_PER_MESSAGE, withOutcome, type Block } from '../activities/summary-blocks';
import { controlsFor } from '../contract';
import { parseBlockAction, parseCommand } from '../src/bridge/controls';
import { Operators, parseOperators } from '../src/bridge/operators';
import { ConfigError, loadConfig } from '../src/config';
import { silentLogger } from '../src/log';
import { SimControl } from '../src/slack-sim/control';
import { SlackSimulator } from '../src/slack-sim/server';
import { SIM_BOT_TOKEN } from '../src/slack-sim/workspace';

const ID = 'incident/slack/T0SENTNL1/C0GENERAL/1700000000.000100/kms-approval';
const idN = (n: number) => `incident/slack/T0SENTNL1/C0GENERAL/1700000000.${String(n).padStart(6, '0')}/leakword`;
const buttons = (blocks: Block[], id: string) =>
  blocks.filter((b) => b.type === 'actions').flatMap((b) => (b.elements as { action_id: string; value: string }[]).filter((e) => e.value === id).map((e) => e.action_id));

describe('summary controls and blocks', () => {
  it('offers approve and reject only for a revocation that waits for approval, restore and discard only for quarantine', () => {
    expect(controlsFor({ actions: ['delete', 'notify', 'revoke_kms'], approvalRequired: true })).toEqual(['approveRevocation', 'rejectRevocation', 'dismiss', 'retry', 'escalate']);
    expect(controlsFor({ actions: ['delete', 'revoke_credential'], approvalRequired: true })).toEqual(['approveRevocation', 'rejectRevocation', 'dismiss', 'retry', 'escalate']);
    expect(controlsFor({ actions: ['delete', 'revoke_kms'], approvalRequired: false })).toEqual(['dismiss', 'retry', 'escalate']);
    expect(controlsFor({ actions: ['quarantine' as never, 'notify'], approvalRequired: false })).toEqual(['restore', 'discard', 'dismiss', 'retry', 'escalate']);
  });

  it('keeps a digest of the most incidents a message carries within 50 blocks, each with its own buttons', () => {
    const notices = Array.from({ length: MAX_INCIDENTS_PER_MESSAGE }, (_, i) => ({ incidentId: idN(i), text: `summary ${i}`, controls: controlsFor({ actions: ['delete'], approvalRequired: false }) }));
    const blocks = digestBlocks('header', notices);
    expect(blocks.length).toBeLessThanOrEqual(MAX_BLOCKS);
    for (const n of notices) expect(buttons(blocks, n.incidentId)).toEqual(['dismiss', 'retry', 'escalate']);
    expect(new Set(blocks.filter((b) => b.block_id).map((b) => b.block_id)).size).toBe(MAX_INCIDENTS_PER_MESSAGE);
    expect(() => digestBlocks('header', [...notices, notices[0]!])).toThrow(/at most 24 incidents/);
  });

  it('cuts a summary longer than a section allows and keeps the whole text as the fallback', () => {
    const long = 'x'.repeat(5000);
    const blocks = composeSecurityBlocks([{ key: 'k', text: long, controls: { incidentId: ID, controls: ['dismiss'] } }])!;
    expect(((blocks[0]!.text as { text: string }).text).length).toBe(3000);
  });

  it('posts a burst of summaries as one digest whose blocks carry every incident and whose text is the fallback', async () => {
    const posts: { text: string; keys: string[]; blocks?: Block[] }[] = [];
    const batcher = new NoticeBatcher(
      async (_channel, text, keys, blocks) => {
        posts.push({ text, keys, ...(blocks ? { blocks } : {}) });
        return `1.${posts.length}`;
      },
      composeSecurityDigest,
      { intervalMs: 50, composeBlocks: composeSecurityBlocks },
    );
    const notice = (i: number): Notice => ({ key: `${idN(i)}#summary`, text: `summary of ${idN(i)}`, controls: { incidentId: idN(i), controls: ['dismiss', 'escalate'] } });
    // The first of a quiet spell goes out at once; the three after it, within the interval, share one digest.
    await batcher.send('C0SECURIT', notice(0));
    await Promise.all([1, 2, 3].map((i) => batcher.send('C0SECURIT', notice(i))));
    expect(posts.map((p) => p.keys.length)).toEqual([1, 3]);
    expect(buttons(posts[0]!.blocks!, idN(0))).toEqual(['dismiss', 'escalate']);
    const digest = posts[1]!;
    expect(digest.blocks).toHaveLength(1 + 3 * 2);
    for (const i of [1, 2, 3]) {
      expect(buttons(digest.blocks!, idN(i))).toEqual(['dismiss', 'escalate']);
      expect(digest.text).toContain(idN(i));
    }
    // An escalation notice (no controls) stays text only.
    expect(composeSecurityBlocks([{ key: 'e', text: 'escalated' }])).toBeUndefined();
  });

  it("replaces only the clicked incident's buttons with the outcome line", () => {
    const blocks = digestBlocks('h', [
      { incidentId: idN(1), text: 'one', controls: ['dismiss'] },
      { incidentId: idN(2), text: 'two', controls: ['dismiss'] },
    ]);
    const after = withOutcome(blocks, idN(2), 'Dismissed by <@U0ADMIN01>')!;
    expect(buttons(after, idN(1))).toEqual(['dismiss']);
    expect(buttons(after, idN(2))).toEqual([]);
    expect(after[4]).toMatchObject({ type: 'context', elements: [{ type: 'mrkdwn', text: 'Dismissed by <@U0ADMIN01>' }] });
    expect(withOutcome(after, idN(2), 'again')).toBeUndefined();
    expect(withOutcome(undefined, idN(2), 'x')).toBeUndefined();
  });
});

describe('parsing clicks and commands', () => {
  const payload = (over: Record<string, unknown> = {}) => ({
    type: 'block_actions',
    user: { id: 'U0ADMIN01' },
    actions: [{ action_id: 'approveRevocation', value: ID, action_ts: '1700000001.000200' }],
    response_url: 'https://hooks.slack.com/actions/T0/1/abc',
    message: { text: 'summary', blocks: [] },
    ...over,
  });

  it('takes the control, incident, user and response_url of a block_actions payload', () => {
    expect(parseBlockAction(payload())).toMatchObject({ user: 'U0ADMIN01', control: 'approveRevocation', incidentId: ID, clickId: '1700000001.000200', message: { text: 'summary' } });
  });

  it('ignores payloads that are not a Sentinel control on an incident', () => {
    expect(parseBlockAction(payload({ type: 'view_submission' }))).toEqual({ problem: 'not a block_actions payload' });
    expect(parseBlockAction(payload({ user: { id: 'alice' } }))).toEqual({ problem: 'block_actions without a valid user.id' });
    expect(parseBlockAction(payload({ actions: [{ action_id: 'terminate', value: ID }] }))).toEqual({ problem: 'no Sentinel control among the actions' });
    expect(parseBlockAction(payload({ actions: [{ action_id: 'dismiss', value: 'offender/slack/T/U' }] }))).toEqual({ problem: 'the action carries no incident id' });
    expect(parseBlockAction(payload({ response_url: undefined }))).toEqual({ problem: 'block_actions without a response_url' });
  });

  it('reads /sentinel subcommands, ids and reasons, and answers usage to anything else', () => {
    expect(parseCommand('incidents')).toEqual({ kind: 'incidents' });
    expect(parseCommand(`show ${ID}`)).toEqual({ kind: 'show', incidentId: ID });
    expect(parseCommand(`approve ${ID}  confirmed   exposure`)).toEqual({ kind: 'control', verb: 'approve', control: 'approveRevocation', incidentId: ID, reason: 'confirmed exposure' });
    expect(parseCommand(`REJECT ${ID}`)).toEqual({ kind: 'control', verb: 'reject', control: 'rejectRevocation', incidentId: ID });
    expect(parseCommand(`discard ${ID}/U0ALICE01`)).toMatchObject({ kind: 'control', control: 'discard' });
    expect(parseCommand('')).toEqual({ kind: 'usage' });
    expect(parseCommand('frobnicate')).toEqual({ kind: 'usage', problem: 'unknown subcommand "frobnicate"' });
    expect(parseCommand('approve')).toEqual({ kind: 'usage', problem: 'approve needs an incident id' });
    expect(parseCommand("dismiss incident/x' OR 1=1")).toMatchObject({ kind: 'usage', problem: expect.stringMatching(/is not an incident id/) });
  });
});

describe('SENTINEL_OPERATORS', () => {
  let sim: SlackSimulator;
  beforeAll(async () => {
    sim = await new SlackSimulator().start();
  });
  afterAll(async () => {
    await sim?.stop();
  });

  it('takes user and user-group ids and names an entry that is neither', () => {
    expect(parseOperators(' U0ADMIN01, W0ENTERP1 ,S0SECOPS1')).toEqual({ users: new Set(['U0ADMIN01', 'W0ENTERP1']), groups: ['S0SECOPS1'] });
    expect(() => parseOperators('U0ADMIN01,@secops')).toThrow('"@secops" is neither a Slack user id (U…, W…) nor a user-group id (S…)');
    expect(loadConfig({ SENTINEL_OPERATORS: 'U0ADMIN01,S0SECOPS1' }).bridge.operators).toEqual(['U0ADMIN01', 'S0SECOPS1']);
    expect(() => loadConfig({ SENTINEL_OPERATORS: 'alice' })).toThrow(ConfigError);
    expect(() => loadConfig({ SENTINEL_OPERATORS: 'alice' })).toThrow(/SENTINEL_OPERATORS="alice": Slack user ids/);
  });

  it('admits members of a user group, reading the group once while it is fresh', async () => {
    let now = 0;
    const operators = new Operators({ users: new Set(['U0ADMIN01']), groups: ['S0SECOPS1'], slack: activityWebClient(SIM_BOT_TOKEN, sim.apiUrl), log: silentLogger, now: () => now });
    expect(await operators.check('U0ADMIN01')).toEqual({ ok: true, via: 'U0ADMIN01' });
    expect(await operators.check('U0CAROL01')).toEqual({ ok: true, via: 'S0SECOPS1' });
    expect(await operators.check('U0ALICE01')).toEqual({ ok: false, reason: 'not listed in SENTINEL_OPERATORS, directly or through a user group' });
    expect(sim.okCalls('usergroups.users.list')).toHaveLength(1);
    // Carol leaves the group: refused once the cached members are stale.
    sim.workspace.setUsergroup({ id: 'S0SECOPS1', handle: 'secops', users: ['U0BOB0001'] });
    expect(await operators.check('U0CAROL01')).toMatchObject({ ok: true });
    now += 61_000;
    expect(await operators.check('U0CAROL01')).toMatchObject({ ok: false });
    expect(await operators.check('U0BOB0001')).toEqual({ ok: true, via: 'S0SECOPS1' });
  });

  it('refuses the members of a group Slack cannot list, and everyone when no operators are configured', async () => {
    const operators = new Operators({ users: new Set(), groups: ['S0SECOPS1', 'S0UNKNOWN'], slack: activityWebClient(SIM_BOT_TOKEN, sim.apiUrl), log: silentLogger });
    sim.injectFault({ method: 'usergroups.users.list', kind: 'server_error', status: 503 });
    expect(await operators.check('U0BOB0001')).toEqual({ ok: false, reason: 'not listed in SENTINEL_OPERATORS, and the members of S0SECOPS1, S0UNKNOWN could not be read from Slack' });
    expect(sim.calls.filter((c) => c.method === 'usergroups.users.list').slice(-2).map((c) => c.error)).toEqual(['internal_error', 'no_such_subteam']);
    const nobody = new Operators({ users: new Set(), groups: [], slack: undefined, log: silentLogger });
    expect(await nobody.check('U0ADMIN01')).toEqual({ ok: false, reason: 'no operators are configured on the bridge (SENTINEL_OPERATORS)' });
  });

  it("serves Slack's limits: at most 50 blocks a message, a response_url five times", async () => {
    const bot = new WebClient(SIM_BOT_TOKEN, { slackApiUrl: sim.apiUrl, retryConfig: { retries: 0 } });
    const blocks = Array.from({ length: 51 }, () => ({ type: 'section', text: { type: 'mrkdwn', text: 'x' } }));
    await expect(bot.chat.postMessage({ channel: 'C0SECURIT', text: 'too many', blocks })).rejects.toMatchObject({ data: { error: 'invalid_blocks' } });
    const posted = await bot.chat.postMessage({ channel: 'C0SECURIT', text: 'summary', blocks: digestBlocks('h', [{ incidentId: ID, text: 's', controls: ['dismiss'] }]) });
    expect(sim.workspace.find('C0SECURIT', posted.ts!)!.blocks).toHaveLength(3);
    // No app URL and no Socket Mode app: the click has nowhere to go.
    await expect(sim.click({ user: 'U0ADMIN01', channel: 'C0SECURIT', ts: posted.ts!, action_id: 'dismiss', value: ID })).rejects.toMatchObject({ code: 'no_interactivity_url' });
    await expect(sim.click({ user: 'U0ADMIN01', channel: 'C0SECURIT', ts: posted.ts!, action_id: 'approveRevocation', value: ID })).rejects.toMatchObject({ code: 'no_such_button' });
    // Through the control surface, as the demo drives a simulator in another process.
    const control = new SimControl(sim.url);
    await control.subscribe('http://127.0.0.1:9/slack/events', 'sim-secret', { interactivityUrl: 'http://127.0.0.1:9/slack/interactivity' });
    const answer = await control.click({ user: 'U0ADMIN01', channel: 'C0SECURIT', ts: posted.ts!, action_id: 'dismiss', value: ID });
    expect(answer).toMatchObject({ via: 'http', status: 'network_error' });
    await expect(control.command({ user: 'U0ADMIN01', channel: 'C0SECURIT', text: 'incidents' })).rejects.toThrow(/no_interactivity_url/);
    await control.subscribe(undefined);
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(answer.responseUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: `note ${i}`, response_type: 'ephemeral' }) });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 404]);
    expect((await control.ephemerals('U0ADMIN01')).map((e) => e.text)).toEqual(['note 0', 'note 1', 'note 2', 'note 3', 'note 4']);
    expect((await control.responses()).map((r) => r.outcome)).toEqual(['ephemeral', 'ephemeral', 'ephemeral', 'ephemeral', 'ephemeral', 'refused']);
  });
});
