/** The JetStream layout: raw chat is kept only until a detector has handled it. */
import { connect, RetentionPolicy, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHAT_STREAM, DEADLETTER_MAX_AGE_MS, DEADLETTER_STREAM, ensureChatStreams } from '../src/nats/streams';

describe('chat streams', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: inject('stack').natsUrl });
  });
  afterAll(async () => {
    const jsm = await nc.jetstreamManager();
    for (const s of [CHAT_STREAM, DEADLETTER_STREAM]) await jsm.streams.delete(s).catch(() => false);
    await nc.drain();
  });

  it('makes CHAT a work queue and bounds how long DEADLETTER keeps raw events', async () => {
    const jsm = await nc.jetstreamManager();
    for (const s of [CHAT_STREAM, DEADLETTER_STREAM]) await jsm.streams.delete(s).catch(() => false);
    await ensureChatStreams(jsm);
    await ensureChatStreams(jsm); // idempotent
    expect((await jsm.streams.info(CHAT_STREAM)).config.retention).toBe(RetentionPolicy.Workqueue);
    expect((await jsm.streams.info(DEADLETTER_STREAM)).config.max_age).toBe(DEADLETTER_MAX_AGE_MS * 1_000_000);
  });

  it('refuses to run on a CHAT stream that keeps events forever, and says how to fix it', async () => {
    const jsm = await nc.jetstreamManager();
    await jsm.streams.delete(CHAT_STREAM).catch(() => false);
    await jsm.streams.add({ name: CHAT_STREAM, subjects: ['chat.>'], retention: RetentionPolicy.Limits });
    await expect(ensureChatStreams(jsm)).rejects.toThrow(/retention "limits".*nats stream rm CHAT/s);
  });
});
