/**
 * Slack file events end to end: the simulator answers files.info, conversations.list/history/replies
 * the way Slack documents them; the bridge stores file events in ENRICH; the enricher looks each
 * file up through the real WebClient and hands it, enriched, to the detectors; a lookup that can
 * never succeed is dead-lettered with its reason, a transient one is retried.
 */
import { ErrorCode, type WebAPICallError, type WebClient } from '@slack/web-api';
import { AckPolicy, DeliverPolicy, type JsMsg } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activityWebClient } from '../activities/slack-client';
import { FileEnricher } from '../src/bridge/enrich';
import { ENRICH_STREAM } from '../src/bridge/route';
import { BridgeServer } from '../src/bridge/server';
import { normalize } from '../src/events/normalize';
import { silentLogger } from '../src/log';
import { DEADLETTER_STREAM } from '../src/nats/streams';
import { SlackSimulator } from '../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../src/slack-sim/workspace';
import { rng, secretValues } from './corpus/generators';
import { eventually, incidentResult, startHarness, type Harness } from './support/harness';

const TEAM = 'T0SENTNL1';

describe('Slack simulator: files and conversations', () => {
  let sim: SlackSimulator;
  let admin: WebClient;
  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    admin = activityWebClient(SIM_ADMIN_TOKEN, sim.apiUrl);
    sim.workspace.addChannel({ id: 'G0PRIVAT1', name: 'finance', kind: 'group' });
    sim.workspace.addChannel({ id: 'G0MPIM001', name: 'mpdm-alice--bob-1', kind: 'mpim' });
  });
  afterAll(() => sim.stop());

  it('sends file_shared with ids only and answers files.info with name, title, preview, conversations and shares', async () => {
    const { file, message, fileShared, filePublic } = sim.uploadFile('U0ALICE01', 'C0ENGINEE', { name: 'notes.txt', title: 'Deploy notes', content: 'line one\nline two' });
    expect(fileShared!.event).toEqual({ type: 'file_shared', channel_id: 'C0ENGINEE', file_id: file.id, user_id: 'U0ALICE01', file: { id: file.id }, event_ts: expect.any(String) });
    expect(filePublic!.event).toMatchObject({ type: 'file_public', file_id: file.id, file: { id: file.id } });
    expect(message).toMatchObject({ subtype: 'file_share', files: [{ id: file.id, name: 'notes.txt', title: 'Deploy notes' }] });
    sim.uploadFile('U0BOB0001', 'C0PARTNER', { fileId: file.id });
    sim.uploadFile('U0BOB0001', 'G0PRIVAT1', { fileId: file.id });
    const info = await admin.files.info({ file: file.id });
    expect(info.file).toMatchObject({ id: file.id, name: 'notes.txt', title: 'Deploy notes', filetype: 'txt', preview: 'line one\nline two', channels: ['C0ENGINEE', 'C0PARTNER'], groups: ['G0PRIVAT1'], ims: [], is_ext_shared: true, is_public: true });
    expect(info.file!.shares!.public!['C0ENGINEE']![0]).toMatchObject({ ts: message.ts, share_user_id: 'U0ALICE01' });
    const missing = await admin.files.info({ file: 'F0NOPE' }).catch((e: WebAPICallError) => e);
    expect((missing as WebAPICallError).code === ErrorCode.PlatformError && (missing as { data: { error: string } }).data.error).toBe('file_not_found');
  });

  it('sends file_change and file_comment_added with the file by id only', () => {
    const { file } = sim.uploadFile('U0ALICE01', 'G0PRIVAT1', { name: 'plan.txt', content: 'x' });
    expect(sim.changeFile('U0ALICE01', file.id, { title: 'Plan v2' }).event).toMatchObject({ type: 'file_change', file_id: file.id, file: { id: file.id } });
    expect(sim.commentOnFile('U0BOB0001', file.id, 'looks good').event).toMatchObject({ type: 'file_comment_added', file_id: file.id, comment: { user: 'U0BOB0001', comment: 'looks good' } });
    expect(sim.workspace.fileInfo(file.id)).toMatchObject({ title: 'Plan v2', comments_count: 1, is_public: false });
  });

  it('lists conversations by type with cursor pagination', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await admin.conversations.list({ types: 'public_channel,private_channel,mpim', limit: 2, ...(cursor ? { cursor } : {}) });
      seen.push(...page.channels!.map((c) => c.id!));
      cursor = page.response_metadata?.next_cursor || undefined;
      pages += 1;
    } while (cursor);
    expect(pages).toBeGreaterThan(2);
    expect(seen).toEqual(expect.arrayContaining(['C0GENERAL', 'C0PARTNER', 'G0PRIVAT1', 'G0MPIM001']));
    const onlyPublic = await admin.conversations.list({});
    expect(onlyPublic.channels!.every((c) => c.is_channel)).toBe(true);
    const mpim = (await admin.conversations.list({ types: 'mpim' })).channels!;
    expect(mpim).toEqual([expect.objectContaining({ id: 'G0MPIM001', is_mpim: true, is_private: true })]);
  });

  it('reads history within oldest/latest by cursor, leaves thread replies to conversations.replies', async () => {
    const day = 86_400_000;
    const base = Date.now() - 5 * day;
    sim.workspace.addChannel({ id: 'C0HISTORY', name: 'history', kind: 'channel' });
    const old = sim.seedMessage('U0ALICE01', 'C0HISTORY', 'too old', { at: base - 10 * day });
    const parent = sim.seedMessage('U0ALICE01', 'C0HISTORY', 'parent', { at: base });
    for (let i = 0; i < 5; i++) sim.seedMessage('U0BOB0001', 'C0HISTORY', `m${i}`, { at: base + (i + 1) * 1000 });
    const reply = sim.seedMessage('U0BOB0001', 'C0HISTORY', 'a reply', { at: base + 60_000, threadTs: parent.ts });
    const got: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await admin.conversations.history({ channel: 'C0HISTORY', oldest: String((base - day) / 1000), limit: 2, ...(cursor ? { cursor } : {}) });
      got.push(...page.messages!.map((m) => m.text!));
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    expect(got).toEqual(['m4', 'm3', 'm2', 'm1', 'm0', 'parent']);
    expect(got).not.toContain(old.text);
    const h = await admin.conversations.history({ channel: 'C0HISTORY', oldest: String((base - day) / 1000) });
    expect(h.messages!.find((m) => m.ts === parent.ts)).toMatchObject({ reply_count: 1, thread_ts: parent.ts, latest_reply: reply.ts });
    const thread = await admin.conversations.replies({ channel: 'C0HISTORY', ts: parent.ts });
    expect(thread.messages!.map((m) => m.text)).toEqual(['parent', 'a reply']);
  });

  it('rate-limits the new methods per second with 429 and Retry-After', async () => {
    sim.rateLimit('files.info', 1);
    const { file } = sim.uploadFile('U0ALICE01', 'C0GENERAL', { name: 'a.bin' });
    await admin.files.info({ file: file.id });
    const limited = await admin.files.info({ file: file.id }).catch((e: WebAPICallError) => e);
    expect((limited as WebAPICallError).code).toBe(ErrorCode.RateLimitedError);
    sim.rateLimit('files.info', undefined);
  });
});

describe('file events through the bridge and the enricher', () => {
  let h: Harness;
  let bridge: BridgeServer;
  let enricher: FileEnricher;
  beforeAll(async () => {
    h = await startHarness();
    h.sim.workspace.addChannel({ id: 'G0PRIVAT2', name: 'legal', kind: 'group' });
    const jsm = await h.nc.jetstreamManager();
    await jsm.streams.delete(ENRICH_STREAM).catch(() => false);
    bridge = await new BridgeServer({ js: h.nc.jetstream(), signingSecret: 'file-events-secret', log: silentLogger }).start();
    enricher = await new FileEnricher({ nc: h.nc, slack: activityWebClient(SIM_BOT_TOKEN, h.sim.apiUrl), log: silentLogger, maxAttempts: 3, retryDelayMs: () => 200 }).start();
    h.sim.subscribe({ url: bridge.eventsUrl, signingSecret: 'file-events-secret' });
  });
  afterAll(async () => {
    h?.sim.subscribe(undefined);
    await bridge?.stop();
    await enricher?.stop();
    await h?.close();
  });

  /** The dead-lettered messages so far, with their headers. */
  const deadletters = async (): Promise<JsMsg[]> => {
    const jsm = await h.nc.jetstreamManager();
    const name = `dl-${Date.now()}`;
    await jsm.consumers.add(DEADLETTER_STREAM, { name, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 5e9 });
    const c = await h.nc.jetstream().consumers.get(DEADLETTER_STREAM, name);
    const out: JsMsg[] = [];
    const pending = (await c.info()).num_pending;
    if (pending === 0) return out;
    const batch = await c.fetch({ max_messages: pending, expires: 2000 });
    for await (const m of batch) out.push(m);
    return out;
  };

  it('finds a secret in the preview of a file shared into a Slack Connect channel, through files.info alone', async () => {
    const pat = secretValues['github-pat']!(rng(91));
    // The message event carries the name only: the secret is in the text file, which only files.info shows.
    const { message, fileShared } = h.sim.uploadFile('U0BOB0001', 'C0PARTNER', { name: 'ci-notes.txt', title: 'CI notes', content: `deploy with ${pat}` });
    expect(fileShared!.event).not.toHaveProperty('file.name');
    const state = await incidentResult<{ status: string }>(h.client, `incident/slack/${TEAM}/C0PARTNER/${message.ts}/github-pat`);
    expect(state.status).toBe('resolved');
    expect(enricher.stats.enriched).toBeGreaterThanOrEqual(1);
    expect(h.sim.okCalls('files.info').length).toBeGreaterThanOrEqual(1);
  });

  it('turns an enriched file_shared into an event with the file name, id and the channel kinds, Slack Connect included', async () => {
    const { file, message } = h.sim.uploadFile('U0ALICE01', 'C0PARTNER', { name: 'Q4-confidential-pricing.pdf', title: 'Pricing' });
    await eventually('the file events to be enriched', () => enricher.stats.enriched >= 3);
    const info = h.sim.workspace.fileInfo(file.id);
    const envelope = {
      type: 'event_callback',
      team_id: TEAM,
      event_id: 'EvX',
      event: { type: 'file_shared', channel_id: 'C0PARTNER', file_id: file.id, user_id: 'U0ALICE01', file: info, event_ts: '1.000001' },
      sentinel_enrichment: { v: 1, channel: 'C0PARTNER', ts: message.ts, user: 'U0ALICE01', channel_kinds: ['public', 'external'] },
    };
    const n = normalize(`chat.slack.${TEAM}.file_shared`, new TextEncoder().encode(JSON.stringify(envelope)));
    expect(n).toMatchObject({ kind: 'event', event: { eventType: 'file_shared', channel: 'C0PARTNER', ts: message.ts, files: [file.id], channelKinds: ['public', 'external'], text: 'Q4-confidential-pricing.pdf\nPricing' } });
    const state = await incidentResult<{ status: string }>(h.client, `incident/slack/${TEAM}/C0PARTNER/${message.ts}/tutorial-confidential`);
    expect(state.status).toBe('resolved');
  });

  it('dead-letters a file event whose lookup can never succeed, with the reason', async () => {
    h.sim.injectFault({ method: 'files.info', kind: 'error', error: 'file_not_found', times: 1 });
    const before = enricher.stats.deadlettered;
    // A private channel: file_shared only (no file_public), so the one fault meets this event.
    const { fileShared } = h.sim.uploadFile('U0ALICE01', 'G0PRIVAT2', { name: 'gone.txt', content: 'x' });
    await eventually('the lookup to be dead-lettered', () => enricher.stats.deadlettered > before);
    const dl = await deadletters();
    const mine = dl.find((m) => (JSON.parse(new TextDecoder().decode(m.data)) as { event_id: string }).event_id === fileShared!.event_id);
    expect(mine?.subject).toBe(`deadletter.chat.slack.${TEAM}.file_shared`);
    expect(mine?.headers?.get('Sentinel-Reason')).toBe('files.info answered file_not_found');
  });

  it('retries a lookup that fails for now, honouring Retry-After, and loses nothing', async () => {
    h.sim.injectFault({ method: 'files.info', kind: 'server_error', status: 503, times: 2 });
    h.sim.injectFault({ method: 'files.info', kind: 'rate_limited', retryAfter: 1, times: 1 });
    const pat = secretValues['github-pat']!(rng(92));
    const retriedBefore = enricher.stats.retried;
    const deadBefore = enricher.stats.deadlettered;
    const { message } = h.sim.uploadFile('U0ALICE01', 'G0PRIVAT2', { name: 'retry.txt', content: `token ${pat}` });
    const state = await incidentResult<{ status: string }>(h.client, `incident/slack/${TEAM}/G0PRIVAT2/${message.ts}/github-pat`);
    expect(enricher.stats.deadlettered).toBe(deadBefore);
    expect(h.sim.calls.filter((c) => c.method === 'files.info' && c.status === 429).length).toBeGreaterThanOrEqual(1);
    expect(state.status).toBe('resolved');
    expect(enricher.stats.retried).toBeGreaterThan(retriedBefore);
  });

  it('dead-letters a lookup still failing after the bound', async () => {
    h.sim.injectFault({ method: 'files.info', kind: 'error', error: 'internal_error', times: 10 });
    const { fileShared } = h.sim.uploadFile('U0ALICE01', 'G0PRIVAT2', { name: 'flaky.bin' });
    const mine = await eventually(
      'the lookup to give up',
      async () => (await deadletters()).find((m) => (JSON.parse(new TextDecoder().decode(m.data)) as { event_id: string }).event_id === fileShared!.event_id),
      20_000,
    );
    h.sim.clearFaults();
    expect(mine?.headers?.get('Sentinel-Reason')).toBe('files.info answered internal_error; still failing after 3 attempts');
  });
});
