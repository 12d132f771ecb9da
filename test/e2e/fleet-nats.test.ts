/**
 * The dev stack's 3-node NATS cluster (stack up --nats-cluster): streams at 3 replicas, and the
 * node leading the detectors' consumer killed with SIGKILL while events flow. Nothing is lost (every
 * leak opens its incident, CHAT drains), nothing is doubled (publishes retried through the failover
 * land once; one incident per leak), and consumption resumes within a bound, well before the pull's
 * heartbeats would have been missed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { fingerprinterFrom } from '../../src/crypto/fingerprint';
import { Detector } from '../../src/detector/detector';
import { loadRules } from '../../src/engine/load';
import { silentLogger } from '../../src/log';
import { AUDIT_STREAM, CHAT_STREAM, chatSubject, DETECTOR_CONSUMER, FACTS_STREAM } from '../../src/nats/streams';
import { sentinelHome } from '../../src/paths';
import { SlackSimulator } from '../../src/slack-sim/server';
import { freePorts, natsNodeOf, startStack, type RunningStack } from '../../src/stack/stack';
import { connectClient } from '../../src/temporal/client';
import { codecFrom } from '../../src/temporal/data-converter';
import { eventually } from '../support/harness';
import { rulesDir } from '../support/incident-rules';

const TEAM = 'T0SENTNL1';
const RULES = `rules:
  - id: leakword
    description: a test leak
    category: secret
    severity: medium
    match: { keywords: [leakword] }
    actions: [delete, notify]
    message: "do not post leakwords"
`;
/** Events published, one every PUBLISH_EVERY_MS; every LEAK_EVERY-th is a leak. */
const EVENTS = Number(process.env.FLEET_EVENTS ?? 240);
const PUBLISH_EVERY_MS = 25;
const LEAK_EVERY = 8;
/** From the kill to consumption of new events: leader elections (a few seconds) plus the detectors' re-pull. */
const RESUME_BOUND_MS = 20_000;

describe('NATS cluster failover', () => {
  let stack: RunningStack;
  let dir: string;
  let sim: SlackSimulator;
  let admin: NatsConnection;
  let temporal: Client;
  const detectors: { detector: Detector; nc: NatsConnection; run: Promise<void> }[] = [];
  const starts: { id: string; at: number }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-cluster-'));
    stack = await startStack({ home: sentinelHome, dir, ports: await freePorts(true), natsCluster: true });
    sim = await new SlackSimulator().start();
    admin = await connect({ servers: stack.endpoints.natsUrl.split(',') });
    const config = loadConfig({
      TEMPORAL_ADDRESS: stack.endpoints.temporalAddress,
      NATS_URL: stack.endpoints.natsUrl,
      SENTINEL_TASK_QUEUE: `cluster-${randomUUID()}`,
      SENTINEL_RULES_DIR: rulesDir(RULES),
      ...inject('secrets'),
    });
    temporal = await connectClient(config.temporal, codecFrom(config));
    const rules = loadRules(config.rulesDir);
    for (let i = 0; i < 2; i++) {
      const nc = await connect({ servers: config.nats.servers, name: `detector-${i}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
      const detector = new Detector({
        nc,
        temporal,
        taskQueue: config.temporal.taskQueue,
        rules: () => rules,
        fingerprint: fingerprinterFrom(config),
        log: silentLogger,
        onIncident: (e) => starts.push({ id: e.incidentId, at: Date.now() }),
      });
      detectors.push({ detector, nc, run: detector.run() });
    }
  });

  afterAll(async () => {
    for (const d of detectors) await d.detector.stop().catch(() => undefined);
    await Promise.all(detectors.map((d) => d.run.catch(() => undefined)));
    for (const d of detectors) await d.nc.close().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    await temporal?.connection.close().catch(() => undefined);
    await sim?.stop();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Publishes until JetStream acks it; the event id as msgID makes every retry land once (as the bridge does). */
  const publish = async (payload: string, msgID: string) => {
    for (;;) {
      try {
        await admin.jetstream({ timeout: 2000 }).publish(chatSubject('slack', TEAM, 'message'), payload, { msgID });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };

  it('lays the streams out at 3 replicas, one per node', async () => {
    const jsm = await admin.jetstreamManager();
    for (const name of [CHAT_STREAM, AUDIT_STREAM, FACTS_STREAM]) {
      const info = await jsm.streams.info(name);
      expect(info.config.num_replicas).toBe(3);
      expect(info.cluster?.replicas?.length).toBe(2);
    }
    const consumer = await jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
    expect(natsNodeOf(consumer.cluster?.leader ?? '')).toBeDefined();
  });

  it('loses and doubles nothing when the node leading the consumer is killed while events flow, and resumes within the bound', async () => {
    const jsm = await admin.jetstreamManager();
    const leaks: string[] = [];
    /** When each leak published after the kill was acked by JetStream. */
    const publishedAfterKill = new Map<string, number>();
    let killedAt = 0;
    let killed = '';
    for (let i = 0; i < EVENTS; i++) {
      const leak = i % LEAK_EVERY === 0;
      const { message, envelope } = sim.postAsUser('U0ALICE01', 'C0GENERAL', leak ? `leakword number ${i}` : `just chatting ${i}`);
      if (leak) leaks.push(`incident/slack/${TEAM}/C0GENERAL/${message.ts}/leakword`);
      await publish(JSON.stringify(envelope), envelope.event_id);
      if (leak && killedAt) publishedAfterKill.set(leaks[leaks.length - 1]!, Date.now());
      if (i === Math.floor(EVENTS / 3)) {
        const leader = (await jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER)).cluster?.leader ?? '';
        const node = natsNodeOf(leader);
        if (!node) throw new Error(`no leader node for the detector consumer (${leader})`);
        killed = node;
        killedAt = Date.now();
        await stack.kill(node, 'SIGKILL');
      }
      await new Promise((r) => setTimeout(r, PUBLISH_EVERY_MS));
    }
    expect(killed).not.toBe('');

    // Nothing lost: every leak opened its incident and the work queue drained (acks lost in the
    // failover come back after ack_wait and are acked again).
    await eventually('every leak to open its incident', () => new Set(starts.map((s) => s.id)).size >= leaks.length, 120_000);
    await eventually(
      'CHAT to drain',
      async () => {
        const c = await jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER).catch(() => undefined);
        const s = await jsm.streams.info(CHAT_STREAM).catch(() => undefined);
        return c?.num_pending === 0 && c.num_ack_pending === 0 && s?.state.messages === 0;
      },
      120_000,
    );
    for (const id of leaks) expect((await temporal.workflow.getHandle(id).describe()).workflowId).toBe(id);

    // Nothing doubled: retried publishes landed once each, and each leak's incident was started once
    // (a redelivered leak finds its incident already there).
    const chat = await jsm.streams.info(CHAT_STREAM);
    expect(chat.state.last_seq).toBe(EVENTS);
    const started = detectors.reduce((n, d) => n + d.detector.stats.started, 0);
    expect(started).toBe(leaks.length);
    expect(new Set(starts.map((s) => s.id))).toEqual(new Set(leaks));

    // Resumed within the bound: from the kill to the incident of the first leak published after it
    // (publishing itself waits for the streams' new leaders), and no such leak waited long once published.
    const after = [...publishedAfterKill].map(([id, at]) => ({ at, started: starts.find((s) => s.id === id)!.at }));
    expect(after.length).toBeGreaterThan(0);
    const resumeMs = Math.min(...after.map((a) => a.started)) - killedAt;
    const longest = Math.max(...after.map((a) => a.started - a.at));
    process.stderr.write(
      `[fleet-nats] killed ${killed}; first incident of a leak published after the kill ${resumeMs} ms after it; longest wait of such a leak ${longest} ms; detector restarts ${detectors.map((d) => d.detector.stats.restarts).join(',')}\n`,
    );
    expect(resumeMs).toBeLessThan(RESUME_BOUND_MS);
    expect(longest).toBeLessThan(RESUME_BOUND_MS);

    // The node comes back with its store and catches up: every replica current again.
    await stack.start(killed as Parameters<RunningStack['start']>[0]);
    await eventually(
      'the replicas to catch up',
      async () => {
        const info = await jsm.streams.info(CHAT_STREAM).catch(() => undefined);
        return info?.cluster?.replicas?.length === 2 && info.cluster.replicas.every((r) => r.current && !r.offline);
      },
      60_000,
    );
  }, 300_000);
});
