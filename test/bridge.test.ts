/**
 * The Events API bridge against a private nats-server it can stop and restart: signed deliveries
 * stored once, forgeries and junk refused with the right 4xx, 503 while NATS is down.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BridgeServer } from '../src/bridge/server';
import { signature } from '../src/bridge/verify';
import { silentLogger } from '../src/log';
import { CHAT_STREAM, ensureChatStreams } from '../src/nats/streams';
import { sentinelHome } from '../src/paths';
import { freePort, stopPid } from '../src/stack/stack';
import { ensureToolchain } from '../src/stack/toolchain';
import { eventually } from './support/harness';

const SECRET = 'test-signing-secret';

describe('Slack Events API bridge', () => {
  let natsPort: number;
  let storeDir: string;
  let natsServer: string;
  let nats: ChildProcess | undefined;
  let nc: NatsConnection;
  let bridge: BridgeServer;

  const startNats = async () => {
    nats = spawn(natsServer, ['-a', '127.0.0.1', '-p', String(natsPort), '-js', '-sd', storeDir], { stdio: 'ignore', detached: true });
    await eventually('nats-server to listen', async () => {
      const probe = await connect({ servers: `nats://127.0.0.1:${natsPort}`, reconnect: false }).catch(() => undefined);
      await probe?.close();
      return probe !== undefined;
    });
  };

  beforeAll(async () => {
    natsServer = (await ensureToolchain(sentinelHome)).natsServer;
    natsPort = await freePort();
    storeDir = mkdtempSync(join(tmpdir(), 'sentinel-bridge-nats-'));
    await startNats();
    nc = await connect({ servers: `nats://127.0.0.1:${natsPort}`, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
    await ensureChatStreams(await nc.jetstreamManager());
    bridge = await new BridgeServer({ js: nc.jetstream(), signingSecret: SECRET, log: silentLogger, maxBodyBytes: 64 * 1024, publishTimeoutMs: 1000 }).start();
  });
  afterAll(async () => {
    await bridge?.stop();
    await nc?.close();
    if (nats?.pid) await stopPid(nats.pid);
  });

  let n = 0;
  const envelope = (text = 'hello') => ({
    token: 'x',
    team_id: 'T0SENTNL1',
    api_app_id: 'A1',
    type: 'event_callback',
    event_id: `EvBRIDGE${++n}`,
    event_time: 1,
    event: { type: 'message', channel: 'C0GENERAL', user: 'U0ALICE01', ts: `1700000000.00000${n}`, text },
  });
  const deliver = (body: string | Buffer, headers: Record<string, string> = {}, ts = String(Math.floor(Date.now() / 1000))) =>
    fetch(bridge.eventsUrl, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-slack-request-timestamp': ts, 'x-slack-signature': signature(SECRET, ts, body), ...headers },
    });
  const stored = async () => (await (await nc.jetstreamManager()).streams.info(CHAT_STREAM)).state.messages;

  it('stores a signed event once even when Slack delivers it four times', async () => {
    const before = await stored();
    const body = JSON.stringify(envelope());
    const answers = [];
    for (let retry = 0; retry < 4; retry++) answers.push((await deliver(body, retry ? { 'x-slack-retry-num': String(retry), 'x-slack-retry-reason': 'http_timeout' } : {})).status);
    expect(answers).toEqual([200, 200, 200, 200]);
    expect(await stored()).toBe(before + 1);
    const msg = await (await nc.jetstreamManager()).streams.getMessage(CHAT_STREAM, { last_by_subj: 'chat.slack.T0SENTNL1.message' });
    expect(new TextDecoder().decode(msg.data)).toBe(body); // the raw JSON, unchanged
  });

  it('answers the url_verification challenge', async () => {
    const res = await deliver(JSON.stringify({ type: 'url_verification', token: 'x', challenge: 'c-123' }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ challenge: 'c-123' });
  });

  it.each([
    ['a bad signature', () => deliver(JSON.stringify(envelope()), { 'x-slack-signature': 'v0=' + '0'.repeat(64) }), 401, /bad X-Slack-Signature/],
    ['a missing signature', () => deliver(JSON.stringify(envelope()), { 'x-slack-signature': '' }), 401, /missing or malformed X-Slack-Signature/],
    ['a stale timestamp', () => deliver(JSON.stringify(envelope()), {}, String(Math.floor(Date.now() / 1000) - 301)), 401, /stale/],
    ['an oversized body', () => deliver(JSON.stringify(envelope('x'.repeat(70 * 1024)))), 413, /body over 65536 bytes/],
    ['malformed JSON', () => deliver('{"type":"event_callback",'), 400, /malformed JSON/],
    ['an unknown payload type', () => deliver(JSON.stringify({ type: 'block_actions' })), 400, /unknown payload type "block_actions"/],
  ])('refuses %s and stores nothing', async (_name, request, status, error) => {
    const before = await stored();
    const res = await request();
    expect(res.status).toBe(status);
    expect(((await res.json()) as { error: string }).error).toMatch(error);
    expect(await stored()).toBe(before);
  });

  it('answers 503 while NATS is down, and stores the retried delivery once NATS is back', async () => {
    const body = JSON.stringify(envelope('while down'));
    await stopPid(nats!.pid!);
    const down = await deliver(body);
    expect(down.status).toBe(503);

    await startNats();
    await eventually('the bridge to reconnect', () => !nc.isClosed() && nc.info !== undefined);
    const before = await eventually('JetStream to answer', () => stored().catch(() => undefined));
    const retried = await eventually('the retried delivery to be stored', async () => {
      const res = await deliver(body, { 'x-slack-retry-num': '1', 'x-slack-retry-reason': 'http_error' });
      return res.status === 200 && res;
    });
    expect(retried.status).toBe(200);
    expect(await stored()).toBe(before + 1);
  });
});
