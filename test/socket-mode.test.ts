/** Socket Mode ingest against the simulator's Socket Mode server, through the real @slack/socket-mode client. */
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSocketMode, type SocketModeIngest } from '../src/bridge/socket-mode';
import { silentLogger } from '../src/log';
import { CHAT_STREAM, ensureChatStreams } from '../src/nats/streams';
import { SlackSimulator } from '../src/slack-sim/server';
import { SIM_APP_TOKEN } from '../src/slack-sim/workspace';
import { eventually } from './support/harness';

describe('Socket Mode ingest', () => {
  let sim: SlackSimulator;
  let nc: NatsConnection;
  let ingest: SocketModeIngest;
  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    nc = await connect({ servers: inject('stack').natsUrl });
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(CHAT_STREAM).catch(() => false);
    await ensureChatStreams(jsm);
    ingest = await startSocketMode({ appToken: SIM_APP_TOKEN, slackApiUrl: sim.apiUrl, js: nc.jetstream(), log: silentLogger, publishTimeoutMs: 500 });
  });
  afterAll(async () => {
    await ingest?.stop();
    await nc?.close();
    await sim?.stop();
  });

  const stored = async (eventId: string) => {
    const jsm = await nc.jetstreamManager();
    const m = await jsm.streams.getMessage(CHAT_STREAM, { last_by_subj: 'chat.slack.T0SENTNL1.message' }).catch(() => undefined);
    return m !== undefined && m.json<{ event_id: string }>().event_id === eventId;
  };

  it('stores each event and acks its envelope only after it is stored', async () => {
    const { envelope } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'hello over a websocket');
    await eventually('the event to be stored', () => stored(envelope.event_id));
    await eventually('the envelope to be acked', () => sim.socketMode.deliveries.some((d) => d.eventId === envelope.event_id && d.acked));
    expect(sim.socketMode.deliveries.filter((d) => d.eventId === envelope.event_id)).toHaveLength(1);
  });

  it('leaves an envelope unacked while the stream cannot store it, and stores the redelivery', async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(CHAT_STREAM);
    const { envelope } = sim.postAsUser('U0BOB0001', 'C0GENERAL', 'while the stream is gone');
    await eventually('a failed store', () => ingest.stats.unacked > 0);
    expect(sim.socketMode.deliveries.filter((d) => d.eventId === envelope.event_id).every((d) => !d.acked)).toBe(true);
    await ensureChatStreams(jsm);
    await eventually('the redelivery to be stored', () => stored(envelope.event_id), 15_000);
    const attempts = sim.socketMode.deliveries.filter((d) => d.eventId === envelope.event_id);
    expect(attempts.at(-1)).toMatchObject({ acked: true });
    expect(attempts.length).toBeGreaterThan(1);
  });

  it('reconnects when Slack asks it to refresh the connection', async () => {
    sim.socketMode.refresh();
    await eventually('a new connection', () => sim.socketMode.connections === 1 && sim.calls.filter((c) => c.method === 'apps.connections.open').length >= 2, 20_000);
    const { envelope } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'after the refresh');
    await eventually('the event after reconnecting to be stored', () => stored(envelope.event_id), 15_000);
  });
});
