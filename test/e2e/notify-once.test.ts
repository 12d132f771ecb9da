/**
 * A notification goes out once per incident whatever the number of messages since: the notice
 * ledger (a JetStream key-value bucket) answers by key, and only the window between an intent and
 * its outcome (a worker killed mid-post) is settled by reading the channel, by time and page by page.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { jetStreamNoticeLedger, type NoticeLedger } from '../../activities/notice-ledger';
import { activityWebClient } from '../../activities/slack-client';
import { createSlackActivities } from '../../activities/slack';
import { notifyKey } from '../../contract';
import { SlackSimulator } from '../../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../../src/slack-sim/workspace';

describe('notification idempotency', () => {
  let sim: SlackSimulator;
  let nc: NatsConnection;
  let ledger: NoticeLedger;
  let slack: ReturnType<typeof createSlackActivities>;
  const bot = () => activityWebClient(SIM_BOT_TOKEN, sim.apiUrl);

  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    nc = await connect({ servers: inject('stack').natsUrl });
    ledger = await jetStreamNoticeLedger(nc.jetstream());
    slack = createSlackActivities({ admin: activityWebClient(SIM_ADMIN_TOKEN, sim.apiUrl), bot: bot() }, ledger);
  });
  afterAll(async () => {
    await nc?.drain();
    await sim?.stop();
  });

  const im = 'D0ALICE01';
  const notice = (incidentId: string) => ({ incidentId, user: 'U0ALICE01', channel: 'C0GENERAL', text: '<@U0ALICE01>, please do not post secrets.', mode: 'dm' as const });
  const posts = (key: string) => sim.workspace.history(im).filter((m) => m.metadata?.event_payload?.key === key);
  const chatter = async (n: number) => {
    for (let i = 0; i < n; i++) await bot().chat.postMessage({ channel: im, text: `unrelated message ${i}` });
  };

  it('finds the earlier post by key after more messages than any recent-history read would show', async () => {
    const id = `incident/test/${randomUUID()}`;
    expect(await slack.notifyUser(notice(id))).toBe('posted');
    await chatter(60);
    expect(await slack.notifyUser(notice(id))).toBe('already_posted');
    expect(posts(notifyKey(id))).toHaveLength(1);
  });

  it('settles a post made just before a crash by reading the channel since the intent, page by page', async () => {
    const id = `incident/test/${randomUUID()}`;
    const key = notifyKey(id);
    // The worker wrote its intent and posted, then died before writing the outcome.
    await ledger.put(key, { state: 'intent', at: Date.now() - 1000 });
    await bot().chat.postMessage({ channel: im, text: 'the notice', metadata: { event_type: 'sentinel_notice', event_payload: { key } } });
    await chatter(250);
    const historyReads = () => sim.calls.filter((c) => c.method === 'conversations.history').length;
    const before = historyReads();
    expect(await slack.notifyUser(notice(id))).toBe('already_posted');
    expect(historyReads() - before).toBeGreaterThanOrEqual(2); // more than one page
    expect(posts(key)).toHaveLength(1);
    // Settled: the next retry answers from the ledger without reading the channel.
    const settled = historyReads();
    expect(await slack.notifyUser(notice(id))).toBe('already_posted');
    expect(historyReads()).toBe(settled);
  });

  it('posts when the intent was written but the post never went out', async () => {
    const id = `incident/test/${randomUUID()}`;
    await ledger.put(notifyKey(id), { state: 'intent', at: Date.now() - 1000 });
    expect(await slack.notifyUser(notice(id))).toBe('posted');
    expect(posts(notifyKey(id))).toHaveLength(1);
  });

  it('reads no history on the common path: one conversations.open per user, one post per notice', async () => {
    const calls = () => sim.calls.map((c) => c.method);
    const start = calls().length;
    for (let i = 0; i < 5; i++) await slack.notifyUser(notice(`incident/test/${randomUUID()}`));
    const made = calls().slice(start);
    expect(made.filter((m) => m === 'conversations.history')).toHaveLength(0);
    expect(made.filter((m) => m === 'chat.postMessage')).toHaveLength(5);
    expect(made.filter((m) => m === 'conversations.open').length).toBeLessThanOrEqual(1);
  });

  it('posts an ephemeral note once per key when nothing failed in between', async () => {
    const id = `incident/test/${randomUUID()}`;
    const n = { ...notice(id), mode: 'ephemeral' as const };
    expect(await slack.notifyUser(n)).toBe('posted');
    expect(await slack.notifyUser(n)).toBe('already_posted');
    expect(sim.calls.filter((c) => c.method === 'chat.postEphemeral' && c.ok)).toHaveLength(1);
  });
});
