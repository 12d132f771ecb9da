/**
 * Stateful rules end to end on the shared stack: detectors publish facts to FACTS, correlators
 * match them over event time and start incidents with ids derived from the match. Each shipped
 * rule fires exactly once for its scenario and not for near misses, across detector and correlator
 * restarts, with two detectors on one stream, and with late events inside and outside the bound.
 * Then through Slack itself (the simulator, the bridge, the enricher, the in-process pipeline's
 * detector and correlator): a file deleted between the shares cancels reshare-to-outsiders.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { activityWebClient } from '../../activities/slack-client';
import { FileEnricher } from '../../src/bridge/enrich';
import { ENRICH_STREAM } from '../../src/bridge/route';
import { BridgeServer } from '../../src/bridge/server';
import { Correlator } from '../../src/correlator/correlator';
import { Detector } from '../../src/detector/detector';
import { loadRules } from '../../src/engine/load';
import { silentLogger } from '../../src/log';
import { chatSubject, CHAT_STREAM, DETECTOR_CONSUMER, ensureFactsStream, FACTS_STREAM } from '../../src/nats/streams';
import { projectRoot } from '../../src/paths';
import { SIM_BOT_TOKEN } from '../../src/slack-sim/workspace';
import { eventually, startHarness, terminateRunning, type Harness } from '../support/harness';
import { emptyChatStreams } from '../support/streams';

const TEAM = 'T0SENTNL1';
const MIN = 60_000;
const PARTITIONS = 8;
const KMS_CHANNEL = 'C0FINANCE';
const LEAKS = ['token ghp_s8GvvaXdnv6asntY3ymqYw93Aqpw1oaZNSGe', 'and ghp_XlTdbUD2fN7NgL7QBsE5LowAzYosJrBy0uYO', 'also ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8'];

type Kind = 'public' | 'private' | 'im' | 'external';
interface Post {
  user: string;
  channel: string;
  kind: Kind;
  /** Event time, ms since the epoch. */
  at: number;
  text?: string;
  file?: { id: string; name: string };
}

describe('stateful rules end to end', () => {
  let nc: NatsConnection;
  let connection: Connection;
  let client: Client;
  const taskQueue = `stateful-${randomUUID()}`;
  const rules = loadRules(join(projectRoot, 'rules'));
  let running: { stop(): Promise<void> }[] = [];
  /** Every incident start any correlator made, in order. */
  let starts: { incidentId: string; ruleId: string; outcome: string }[] = [];
  let seq = 0;

  beforeAll(async () => {
    nc = await connect({ servers: inject('stack').natsUrl });
    connection = await Connection.connect({ address: inject('stack').temporalAddress });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await terminateRunning(client, taskQueue);
    await connection?.close();
    await nc?.drain();
  });
  beforeEach(async () => {
    await ensureFactsStream(await emptyChatStreams(nc, { also: [FACTS_STREAM] }));
    starts = [];
  });
  afterEach(async () => {
    for (const r of running.reverse()) await r.stop();
    running = [];
  });

  /** A detector publishing facts (no worker: incidents only need to start). */
  function detector(): Detector {
    const d = new Detector({
      nc,
      temporal: client,
      taskQueue,
      rules: () => rules,
      fingerprint: (v) => `fp-${v.length}`,
      log: silentLogger,
      skipPreflight: true,
      facts: { partitions: PARTITIONS, kmsChannels: new Set([KMS_CHANNEL]) },
    });
    const run = d.run();
    running.push({ stop: () => d.stop().then(() => run) });
    return d;
  }

  function correlator(): Correlator {
    const c = new Correlator({ nc, temporal: client, taskQueue, rules: () => rules.stateful, log: silentLogger, partitions: PARTITIONS, latenessMs: 5 * MIN, onIncident: (e) => void starts.push(e) });
    const run = c.run();
    running.push({ stop: () => c.stop().then(() => run) });
    return c;
  }

  async function stopAll(): Promise<void> {
    for (const r of running.reverse()) await r.stop();
    running = [];
  }

  /** Publishes one Slack message event (a file share when `file` is given); returns its ts. */
  async function post(p: Post): Promise<string> {
    seq += 1;
    const ts = `${Math.floor(p.at / 1000)}.${String(seq).padStart(6, '0')}`;
    const channelType = { public: 'channel', private: 'group', im: 'im', external: 'channel' }[p.kind];
    const envelope = {
      type: 'event_callback',
      team_id: TEAM,
      event_id: `Ev${randomUUID().replaceAll('-', '').slice(0, 16)}`,
      event_time: Math.floor(p.at / 1000),
      ...(p.kind === 'external' ? { is_ext_shared_channel: true } : {}),
      event: { type: 'message', channel: p.channel, channel_type: channelType, user: p.user, ts, text: p.text ?? '', ...(p.file ? { files: [{ id: p.file.id, name: p.file.name, title: p.file.name }] } : {}) },
    };
    await nc.jetstream().publish(chatSubject('slack', TEAM, 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
    return ts;
  }

  const detectorsIdle = () =>
    eventually('the detectors to have settled every event', async () => {
      const info = await (await nc.jetstreamManager()).consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }, 60_000);
  const factsStored = async () => (await (await nc.jetstreamManager()).streams.info(FACTS_STREAM)).state.messages;
  /** Waits until the correlators have read every fact stored, then a little for their starts. */
  const correlated = async (...cs: Correlator[]) => {
    await detectorsIdle();
    const stored = await factsStored();
    await eventually('the correlators to have read every fact', () => cs.reduce((n, c) => n + c.stats.facts, 0) >= stored, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
  };
  const startedFor = (ruleId: string) => starts.filter((s) => s.ruleId === ruleId && s.outcome === 'started');
  const exists = (id: string) => client.workflow.getHandle(id).describe().then(() => true, () => false);

  it('reshare-to-outsiders fires once across a detector and correlator restart, and not for near misses', async () => {
    const now = Date.now();
    detector();
    let c = correlator();
    const first = await post({ user: 'U0ALICE01', channel: 'C0GENERAL', kind: 'public', at: now - 60 * MIN, file: { id: 'F0PLAN001', name: 'plan.pdf' } });
    // Near misses: another file in a DM; a file shared in a channel and into a DM 25 hours apart.
    await post({ user: 'U0ALICE01', channel: 'C0GENERAL', kind: 'public', at: now - 26 * 60 * MIN, file: { id: 'F0OLD0001', name: 'old.pdf' } });
    await post({ user: 'U0BOB0001', channel: 'D0BOB0001', kind: 'im', at: now - 59 * MIN, file: { id: 'F0OTHER01', name: 'other.pdf' } });
    await correlated(c);
    expect(startedFor('reshare-to-outsiders')).toHaveLength(0);
    await stopAll();

    // Both restarted between the steps: the new correlator rebuilds the first step from FACTS.
    await post({ user: 'U0BOB0001', channel: 'D0BOB0001', kind: 'im', at: now - 30 * MIN, file: { id: 'F0PLAN001', name: 'plan.pdf' } });
    await post({ user: 'U0BOB0001', channel: 'D0BOB0001', kind: 'im', at: now - 29 * MIN, file: { id: 'F0OLD0001', name: 'old.pdf' } });
    detector();
    c = correlator();
    await correlated(c);
    const id = `incident/slack/${TEAM}/C0GENERAL/${first}/reshare-to-outsiders/F0PLAN001`;
    expect(startedFor('reshare-to-outsiders').map((s) => s.incidentId)).toEqual([id]);
    expect(await exists(id)).toBe(true);

    // A third correlator replaying the same facts finds the same match, and Temporal refuses the second start.
    await stopAll();
    c = correlator();
    await eventually('the replay to find the match again', () => starts.some((s) => s.incidentId === id && s.outcome === 'exists'), 30_000);
    expect(startedFor('reshare-to-outsiders')).toHaveLength(1);
    expect(c.stats.matches).toBe(1);
  });

  it('secret-burst fires once with two detectors sharing the stream, and not for other users or spread-out leaks', async () => {
    const now = Date.now();
    detector();
    detector();
    const c = correlator();
    const firstTs = await post({ user: 'U0BURST01', channel: 'C0GENERAL', kind: 'public', at: now - 4 * MIN, text: LEAKS[0] });
    await post({ user: 'U0BURST01', channel: 'C0RANDOM1', kind: 'public', at: now - 3 * MIN, text: LEAKS[1] });
    await post({ user: 'U0BURST01', channel: 'C0GENERAL', kind: 'public', at: now - 2 * MIN, text: LEAKS[2] });
    await post({ user: 'U0BURST01', channel: 'C0GENERAL', kind: 'public', at: now - 1 * MIN, text: LEAKS[0] });
    for (const [i, user] of ['U0ONE0001', 'U0TWO0001', 'U0THREE01'].entries()) await post({ user, channel: 'C0GENERAL', kind: 'public', at: now - 3 * MIN + i, text: LEAKS[i] });
    for (const [i, min] of [50, 35, 20].entries()) await post({ user: 'U0SLOW001', channel: 'C0GENERAL', kind: 'public', at: now - min * MIN, text: LEAKS[i] });
    for (let i = 0; i < 20; i++) await post({ user: 'U0BURST01', channel: 'C0GENERAL', kind: 'public', at: now - 4 * MIN + i, text: `lunch plans ${i}?` });
    await correlated(c);
    expect(startedFor('secret-burst').map((s) => s.incidentId)).toEqual([`incident/slack/${TEAM}/C0GENERAL/${firstTs}/secret-burst/U0BURST01`]);
    expect(c.stats.suppressed).toBe(0);
  });

  it('confidential-file-to-external fires once for the user who worked in the KMS channel, with the key channel on the input', async () => {
    const now = Date.now();
    detector();
    const c = correlator();
    const first = await post({ user: 'U0ALICE01', channel: KMS_CHANNEL, kind: 'private', at: now - 30 * MIN, text: 'numbers for Q3' });
    await post({ user: 'U0ALICE01', channel: 'C0PARTNER', kind: 'external', at: now - 10 * MIN, file: { id: 'F0Q3PLAN1', name: 'Q3-plan-CONFIDENTIAL.pdf' } });
    // Near misses: another user shares it without having posted in the KMS channel; a file not marked confidential.
    await post({ user: 'U0BOB0001', channel: 'C0PARTNER', kind: 'external', at: now - 9 * MIN, file: { id: 'F0Q3PLAN2', name: 'Q3-plan-confidential.pdf' } });
    await post({ user: 'U0CAROL01', channel: KMS_CHANNEL, kind: 'private', at: now - 8 * MIN, text: 'ok' });
    await post({ user: 'U0CAROL01', channel: 'C0PARTNER', kind: 'external', at: now - 7 * MIN, file: { id: 'F0MENU001', name: 'lunch-menu.pdf' } });
    await correlated(c);
    const id = `incident/slack/${TEAM}/${KMS_CHANNEL}/${first}/confidential-file-to-external/U0ALICE01`;
    expect(startedFor('confidential-file-to-external').map((s) => s.incidentId)).toEqual([id]);
    const [input] = (await client.workflow.getHandle(id).fetchHistory()).events![0]!.workflowExecutionStartedEventAttributes!.input!.payloads!;
    const decoded = JSON.parse(Buffer.from(input!.data!).toString('utf8')) as { keyChannel?: string; channel: string; rule: { approvalRequired: boolean }; steps: unknown[] };
    expect(decoded).toMatchObject({ channel: 'C0PARTNER', keyChannel: KMS_CHANNEL, rule: { approvalRequired: true } });
    expect(decoded.steps).toHaveLength(2);
  });

  it('completes a match with a late event inside the lateness bound and counts one beyond it', async () => {
    const now = Date.now();
    detector();
    const c = correlator();
    // The DM share arrives first; the channel share it follows arrives after, 2 minutes older: inside the 5-minute bound.
    await post({ user: 'U0BOB0001', channel: 'D0BOB0001', kind: 'im', at: now - 10 * MIN, file: { id: 'F0LATE001', name: 'late.pdf' } });
    const first = await post({ user: 'U0ALICE01', channel: 'C0GENERAL', kind: 'public', at: now - 12 * MIN, file: { id: 'F0LATE001', name: 'late.pdf' } });
    await correlated(c);
    expect(startedFor('reshare-to-outsiders').map((s) => s.incidentId)).toEqual([`incident/slack/${TEAM}/C0GENERAL/${first}/reshare-to-outsiders/F0LATE001`]);
    // Same shape for another file (hence, possibly, another partition), with the channel share 20 minutes older than the
    // newest fact of its partition: counted as late, not used. Make its partition's watermark recent first.
    await post({ user: 'U0BOB0001', channel: 'D0BOB0001', kind: 'im', at: now - 1 * MIN, file: { id: 'F0LATE002', name: 'late2.pdf' } });
    await post({ user: 'U0ALICE01', channel: 'C0GENERAL', kind: 'public', at: now - 21 * MIN, file: { id: 'F0LATE002', name: 'late2.pdf' } });
    await correlated(c);
    expect(c.stats.late).toBe(1);
    expect(startedFor('reshare-to-outsiders')).toHaveLength(1);
  });
});

describe('reshare-to-outsiders through Slack: a file deleted between the shares', () => {
  let h: Harness;
  let bridge: BridgeServer;
  let enricher: FileEnricher;
  /** The file's owner deletes it with her own token, through the real WebClient. */
  const ALICE_TOKEN = 'xoxp-sim-alice';
  let dm: string;
  beforeAll(async () => {
    h = await startHarness();
    const jsm = await h.nc.jetstreamManager();
    await jsm.streams.delete(ENRICH_STREAM).catch(() => false);
    bridge = await new BridgeServer({ js: h.nc.jetstream(), signingSecret: 'stateful-delete-secret', log: silentLogger }).start();
    enricher = await new FileEnricher({ nc: h.nc, slack: activityWebClient(SIM_BOT_TOKEN, h.sim.apiUrl), log: silentLogger }).start();
    h.sim.subscribe({ url: bridge.eventsUrl, signingSecret: 'stateful-delete-secret' });
    dm = h.sim.workspace.openIm('U0BOB0001').id;
  });
  afterAll(async () => {
    h?.sim.subscribe(undefined);
    await bridge?.stop();
    await enricher?.stop();
    await h?.close();
  });

  const reshareId = (channel: string, ts: string, file: string) => `incident/slack/${TEAM}/${channel}/${ts}/reshare-to-outsiders/${file}`;
  const exists = (id: string) => h.client.workflow.getHandle(id).describe().then(() => true, () => false);
  /** Waits until Slack's deliveries are stored, the detector has settled them and the correlator has read every fact. */
  async function settled(): Promise<void> {
    await h.sim.settled();
    await eventually('the file events to leave ENRICH', async () => (await (await h.nc.jetstreamManager()).streams.info(ENRICH_STREAM)).state.messages === 0);
    const jsm = await h.nc.jetstreamManager();
    await eventually('the detector to have settled every event', async () => {
      const info = await jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending === 0;
    });
    const stored = (await jsm.streams.info(FACTS_STREAM)).state.messages;
    await eventually('the correlator to have read every fact', () => h.correlator.stats.facts >= stored);
    await new Promise((r) => setTimeout(r, 1000));
  }

  /**
   * A share of `file` into Bob's DM at `ts`, as the bridge stores Slack's file_share message. Slack
   * refuses to share a deleted file again, so a share after the deletion can only come this way: it
   * stands for the second step arriving after the deletion in event time.
   */
  async function dmShare(file: string, ts: string): Promise<void> {
    const event = { type: 'message', subtype: 'file_share', channel: dm, channel_type: 'im', user: 'U0BOB0001', ts, text: '', files: [{ id: file, name: 'plan.pdf', title: 'plan.pdf' }] };
    const envelope = { type: 'event_callback', team_id: TEAM, event_id: `Ev${randomUUID().replaceAll('-', '').slice(0, 16)}`, event_time: Number(ts.split('.')[0]), event };
    await h.nc.jetstream().publish(chatSubject('slack', TEAM, 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
  }

  it('fires once when a file shared in a channel is shared into a DM, every event through the bridge', async () => {
    const { file, message } = h.sim.uploadFile('U0ALICE01', 'C0GENERAL', { name: 'roadmap.pdf' });
    h.sim.uploadFile('U0BOB0001', dm, { fileId: file.id });
    const id = reshareId('C0GENERAL', message.ts, file.id);
    await eventually(`incident ${id} to start`, () => exists(id));
    await settled();
    expect(h.correlator.stats.started).toBe(1);
  });

  it('does not fire when the file is deleted between the shares (file_deleted through the bridge), and fires for a file that was not', async () => {
    const before = { ...h.correlator.stats };
    const kept = h.sim.uploadFile('U0ALICE01', 'C0GENERAL', { name: 'plan-kept.pdf' });
    const gone = h.sim.uploadFile('U0ALICE01', 'C0GENERAL', { name: 'plan-gone.pdf' });
    await settled();
    await activityWebClient(ALICE_TOKEN, h.sim.apiUrl).files.delete({ file: gone.file.id });
    const deletion = h.sim.events.at(-1)!;
    expect(deletion.event).toEqual({ type: 'file_deleted', file_id: gone.file.id, event_ts: expect.any(String) });
    // The deletion names the file only; the detector turns it into a fact that reaches the file's sequence.
    await eventually('the correlator to cancel the sequence of the deleted file', () => h.correlator.stats.cancelled > before.cancelled);
    const after = `${Number((deletion.event as { event_ts: string }).event_ts.split('.')[0]) + 1}.000100`;
    await dmShare(gone.file.id, after);
    await dmShare(kept.file.id, after.replace(/00$/, '01'));
    await settled();
    expect(await exists(reshareId('C0GENERAL', kept.message.ts, kept.file.id))).toBe(true);
    expect(await exists(reshareId('C0GENERAL', gone.message.ts, gone.file.id))).toBe(false);
    expect(h.correlator.stats.started - before.started).toBe(1);
    expect(h.correlator.stats.cancelled - before.cancelled).toBe(1);
  });
});
