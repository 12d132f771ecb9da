/** The simulator speaks Slack's wire format: proven through the real @slack/web-api WebClient over HTTP. */
import { ErrorCode, WebClient, type WebAPICallError } from '@slack/web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SlackSimulator, type EventEnvelope } from '../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../src/slack-sim/workspace';
import { activityWebClient } from '../activities/slack-client';
import { normalizeSlack } from '../src/events/normalize';

describe('Slack Web API simulator', () => {
  let sim: SlackSimulator;
  let admin: WebClient;
  let bot: WebClient;
  let alice: WebClient;
  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    admin = activityWebClient(SIM_ADMIN_TOKEN, sim.apiUrl);
    bot = activityWebClient(SIM_BOT_TOKEN, sim.apiUrl);
    alice = activityWebClient('xoxp-sim-alice', sim.apiUrl);
  });
  afterAll(() => sim.stop());
  beforeEach(() => sim.clearFaults());

  const slackError = async (p: Promise<unknown>): Promise<WebAPICallError> => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e as WebAPICallError,
    );
    if (!err) throw new Error('expected the call to fail');
    return err;
  };

  it('answers auth.test for a known token and not_authed / invalid_auth otherwise', async () => {
    const me = await bot.auth.test();
    expect(me).toMatchObject({ ok: true, team_id: 'T0SENTNL1', user_id: 'U0SNTLBOT', bot_id: 'B0SNTLBOT' });
    const none = await slackError(new WebClient(undefined, { slackApiUrl: sim.apiUrl, retryConfig: { retries: 0 } }).auth.test());
    expect(none.code === ErrorCode.PlatformError && none.data.error).toBe('not_authed');
    const bad = await slackError(activityWebClient('xoxb-wrong', sim.apiUrl).auth.test());
    expect(bad.code === ErrorCode.PlatformError && bad.data.error).toBe('invalid_auth');
  });

  it('lets a bot token delete only its own messages, and an admin user token any message', async () => {
    const { message } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'hello');
    const refused = await slackError(bot.chat.delete({ channel: 'C0GENERAL', ts: message.ts }));
    expect(refused.code === ErrorCode.PlatformError && refused.data.error).toBe('cant_delete_message');

    const own = await bot.chat.postMessage({ channel: 'C0GENERAL', text: 'bot says hi' });
    await bot.chat.delete({ channel: 'C0GENERAL', ts: own.ts! });

    await admin.chat.delete({ channel: 'C0GENERAL', ts: message.ts });
    const history = await admin.conversations.history({ channel: 'C0GENERAL' });
    expect(history.messages?.map((m) => m.ts)).not.toContain(message.ts);
    expect(history.messages?.map((m) => m.ts)).not.toContain(own.ts);

    const gone = await slackError(admin.chat.delete({ channel: 'C0GENERAL', ts: message.ts }));
    expect(gone.code === ErrorCode.PlatformError && gone.data.error).toBe('message_not_found');
  });

  it('lets a user delete their own message but not somebody else\u2019s', async () => {
    const mine = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'mine').message;
    const bobs = sim.postAsUser('U0BOB0001', 'C0GENERAL', 'bob').message;
    await alice.chat.delete({ channel: 'C0GENERAL', ts: mine.ts });
    const refused = await slackError(alice.chat.delete({ channel: 'C0GENERAL', ts: bobs.ts }));
    expect(refused.code === ErrorCode.PlatformError && refused.data.error).toBe('cant_delete_message');
  });

  it('opens a DM, posts into it and posts ephemeral messages', async () => {
    const im = await bot.conversations.open({ users: 'U0ALICE01' });
    const channel = im.channel!.id!;
    expect(channel).toMatch(/^D/);
    await bot.chat.postMessage({ channel, text: 'please do not share secrets' });
    const history = await admin.conversations.history({ channel });
    expect(history.messages?.[0]).toMatchObject({ text: 'please do not share secrets', bot_id: 'B0SNTLBOT' });
    const eph = await bot.chat.postEphemeral({ channel: 'C0GENERAL', user: 'U0ALICE01', text: 'reminder' });
    expect(eph.message_ts).toBeTruthy();
    expect(sim.workspace.ephemerals.at(-1)).toMatchObject({ user: 'U0ALICE01', text: 'reminder' });
  });

  it('describes channels and users, including Slack Connect channels and managers', async () => {
    const partner = await bot.conversations.info({ channel: 'C0PARTNER' });
    expect(partner.channel).toMatchObject({ id: 'C0PARTNER', is_ext_shared: true });
    const user = await bot.users.info({ user: 'U0ALICE01' });
    expect(user.user).toMatchObject({ id: 'U0ALICE01', name: 'alice', profile: { manager: 'U0CAROL01' } });
    const missing = await slackError(bot.conversations.info({ channel: 'C0NOPE' }));
    expect(missing.code === ErrorCode.PlatformError && missing.data.error).toBe('channel_not_found');
  });

  it('edits with chat.update and emits message_changed with the previous text', async () => {
    const own = await bot.chat.postMessage({ channel: 'C0GENERAL', text: 'v1' });
    const before = sim.events.length;
    await bot.chat.update({ channel: 'C0GENERAL', ts: own.ts!, text: 'v2' });
    expect(sim.workspace.find('C0GENERAL', own.ts!)?.text).toBe('v2');
    const { message } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'draft');
    const changed = sim.editAsUser('U0ALICE01', 'C0GENERAL', message.ts, 'draft with more');
    expect(sim.events.length).toBeGreaterThan(before);
    expect(changed.event).toMatchObject({ subtype: 'message_changed', message: { text: 'draft with more' }, previous_message: { text: 'draft' } });
  });

  it("emits message_changed for an admin's chat.update too, naming the editor, and the detector leaves that edit alone", async () => {
    const { message } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'the key is hunter2hunter2');
    let changed: EventEnvelope | undefined;
    const off = sim.onEvent((e) => (changed = e));
    await admin.chat.update({ channel: 'C0GENERAL', ts: message.ts, text: ':no_entry: removed by Sentinel' });
    off();
    expect(changed?.event).toMatchObject({ subtype: 'message_changed', message: { user: 'U0ALICE01', text: ':no_entry: removed by Sentinel', edited: { user: 'U0ADMIN01' } }, previous_message: { text: 'the key is hunter2hunter2' } });
    expect(normalizeSlack(JSON.parse(JSON.stringify(changed)))).toEqual({ kind: 'ignored', reason: 'edited by someone other than its author' });
    // The author's own edit is read like any message.
    const own = sim.editAsUser('U0ALICE01', 'C0GENERAL', message.ts, 'never mind');
    expect(normalizeSlack(JSON.parse(JSON.stringify(own)))).toMatchObject({ kind: 'event', event: { eventType: 'message_changed', user: 'U0ALICE01', text: 'never mind' } });
  });

  it('emits an Events API event_callback for each posted message', async () => {
    const seen: string[] = [];
    const off = sim.onEvent((e) => seen.push(e.event_id));
    const { envelope } = sim.postAsUser('U0BOB0001', 'C0ENGINEE', 'hi');
    off();
    expect(seen).toEqual([envelope.event_id]);
    expect(envelope).toMatchObject({ type: 'event_callback', team_id: 'T0SENTNL1', event: { type: 'message', user: 'U0BOB0001', channel: 'C0ENGINEE', channel_type: 'channel' } });
  });

  it('injects 429 with Retry-After, 5xx and slow answers', async () => {
    sim.injectFault({ method: 'auth.test', kind: 'rate_limited', retryAfter: 7 });
    const limited = await slackError(bot.auth.test());
    expect(limited.code).toBe(ErrorCode.RateLimitedError);
    expect(limited.code === ErrorCode.RateLimitedError && limited.retryAfter).toBe(7);

    sim.injectFault({ method: '*', kind: 'server_error', status: 503 });
    const down = await slackError(bot.auth.test());
    expect(down.code === ErrorCode.HTTPError && down.statusCode).toBe(503);

    sim.injectFault({ method: 'auth.test', kind: 'slow', delayMs: 300 });
    const t0 = Date.now();
    await bot.auth.test();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await bot.auth.test(); // used up: normal again
  });

  it('answers unknown_method for methods it does not speak', async () => {
    const err = await slackError(bot.apiCall('admin.teams.create'));
    expect(err.code === ErrorCode.PlatformError && err.data.error).toBe('unknown_method');
  });
});
