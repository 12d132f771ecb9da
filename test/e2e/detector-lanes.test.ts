/**
 * The detector's two lanes on real servers: clean chat is acked in the consume loop; events that
 * open incidents go to a start pool of bounded size, while later arrivals wait, in order, in a
 * bounded held queue (past it they go back to JetStream); stop() hands the held events back so
 * another detector finishes them. Nothing lost, nothing started twice.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { Detector, type PullSettings } from '../../src/detector/detector';
import { loadRules } from '../../src/engine/load';
import { silentLogger } from '../../src/log';
import { chatSubject, CHAT_STREAM, DETECTOR_CONSUMER } from '../../src/nats/streams';
import { projectRoot } from '../../src/paths';
import { SlackSimulator } from '../../src/slack-sim/server';
import { eventually } from '../support/harness';
import { emptyChatStreams } from '../support/streams';

const TEAM = 'T0SENTNL1';
const LEAK = 'prod token ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 do not share';

describe('detector lanes', () => {
  let nc: NatsConnection;
  let connection: Connection;
  let sim: SlackSimulator;
  const rules = loadRules(join(projectRoot, 'rules'));

  beforeAll(async () => {
    nc = await connect({ servers: inject('stack').natsUrl });
    connection = await Connection.connect({ address: inject('stack').temporalAddress });
    sim = await new SlackSimulator().start();
  });
  afterAll(async () => {
    await sim?.stop();
    await connection?.close();
    await nc?.drain();
  });
  beforeEach(() => emptyChatStreams(nc));

  /** A detector with its own task queue (no worker: the incidents only need to start). */
  const detector = (concurrency: number, order: string[], pull?: PullSettings) =>
    new Detector({
      nc,
      temporal: new Client({ connection }),
      taskQueue: `detector-lanes-${randomUUID()}`,
      rules: () => rules,
      fingerprint: (v) => `fp-${v.length}`,
      log: silentLogger,
      concurrency,
      ...(pull ? { pull } : {}),
      onIncident: (e) => void order.push(e.incidentId),
    });
  /** Publishes one message and returns the ts Slack gave it (incident ids carry it). */
  const publish = async (text: string) => {
    const { envelope } = sim.postAsUser('U0ALICE01', 'C0GENERAL', text);
    await nc.jetstream().publish(chatSubject('slack', TEAM, 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
    return (envelope.event as { ts: string }).ts;
  };
  const consumerIdle = () =>
    eventually(
      'the detector to have settled every message',
      async () => {
        const info = await (await nc.jetstreamManager()).consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
        return info.num_pending === 0 && info.num_ack_pending === 0 && info;
      },
      60_000,
    );
  const tsOf = (incidentId: string) => incidentId.split('/')[4];

  it('acks clean chat in the loop and starts incidents one pool slot at a time, in the order they came', async () => {
    const leaks: string[] = [];
    let clean = 0;
    for (let i = 0; i < 40; i++) {
      leaks.push(await publish(LEAK));
      for (let j = 0; j < 10; j++, clean++) await publish(`lunch plans ${i}.${j}, anyone?`);
    }
    const order: string[] = [];
    const d = detector(1, order);
    const run = d.run();
    await consumerIdle();
    await d.stop();
    await run;
    expect(d.stats).toMatchObject({ handled: 40 + clean, started: 40, alreadyStarted: 0, deadlettered: 0, retried: 0, sentBack: 0, peakInFlight: 1 });
    // While the one start was in flight, later events waited their turn in the held queue.
    expect(d.stats.peakHeld).toBeGreaterThan(0);
    expect(order.map(tsOf)).toEqual(leaks);
  });

  it('sends arrivals back to JetStream past its held bound, and still starts each incident once', async () => {
    const leaks: string[] = [];
    for (let i = 0; i < 60; i++) leaks.push(await publish(LEAK));
    const order: string[] = [];
    // Pulls of 4: the held queue takes 16 at most.
    const d = detector(1, order, { maxMessages: 4, thresholdMessages: 1 });
    const run = d.run();
    await consumerIdle();
    await d.stop();
    await run;
    expect(d.stats.peakHeld).toBeLessThanOrEqual(16);
    expect(d.stats.sentBack).toBeGreaterThan(0);
    expect(d.stats).toMatchObject({ handled: 60, started: 60, alreadyStarted: 0, peakInFlight: 1 });
    expect([...order].map(tsOf).sort()).toEqual([...leaks].sort());
  });

  it('hands its held events back when stopped, and a second detector finishes them', async () => {
    const leaks: string[] = [];
    for (let i = 0; i < 60; i++) leaks.push(await publish(LEAK));
    const order: string[] = [];
    let stopping: Promise<void> | undefined;
    const first = new Detector({
      nc,
      temporal: new Client({ connection }),
      taskQueue: `detector-lanes-${randomUUID()}`,
      rules: () => rules,
      fingerprint: (v) => `fp-${v.length}`,
      log: silentLogger,
      concurrency: 2,
      onIncident: (e) => {
        order.push(e.incidentId);
        // Stopped after its fifth start, with most of the 60 still held behind the pool.
        if (order.length === 5) stopping = first.stop();
      },
    });
    await first.run();
    await stopping;
    expect(first.stats.peakHeld).toBeGreaterThan(0);
    expect(first.stats.started).toBeLessThan(60);
    const second = detector(4, order);
    const secondRun = second.run();
    await consumerIdle();
    await second.stop();
    await secondRun;
    expect(first.stats.started + second.stats.started).toBe(60);
    expect(second.stats.alreadyStarted).toBe(0);
    expect([...order].map(tsOf).sort()).toEqual([...leaks].sort());
  });
});
