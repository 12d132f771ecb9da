/**
 * The detector's failure paths on real servers: a namespace without Sentinel's search attributes is
 * refused at start-up with what to run; a start Temporal refuses for good, and an engine error, are
 * dead-lettered with their reason instead of retried forever; clean chat keeps flowing meanwhile.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Detector } from '../../src/detector/detector';
import { loadRules } from '../../src/engine/load';
import { silentLogger } from '../../src/log';
import { chatSubject, CHAT_STREAM, DEADLETTER_STREAM, DETECTOR_CONSUMER } from '../../src/nats/streams';
import { projectRoot } from '../../src/paths';
import { SlackSimulator } from '../../src/slack-sim/server';
import { missingSearchAttributes, NamespaceSetupError } from '../../src/temporal/search-attributes';
import { eventually } from '../support/harness';
import { testSecrets } from '../support/secrets';
import { emptyChatStreams } from '../support/streams';

const TEAM = 'T0SENTNL1';

describe('detector failure paths', () => {
  let nc: NatsConnection;
  let connection: Connection;
  let sim: SlackSimulator;
  const bare = `bare-${randomUUID().slice(0, 8)}`;
  const rules = loadRules(join(projectRoot, 'rules'));

  beforeAll(async () => {
    const stack = inject('stack');
    nc = await connect({ servers: stack.natsUrl });
    connection = await Connection.connect({ address: stack.temporalAddress });
    sim = await new SlackSimulator().start();
    // A namespace as a new cluster has it: no Sentinel search attributes.
    await connection.workflowService.registerNamespace({ namespace: bare, workflowExecutionRetentionPeriod: msToTs(86_400_000) });
    await eventually('the new namespace', () => connection.workflowService.describeNamespace({ namespace: bare }).then(() => true, () => false));
  });
  afterAll(async () => {
    await sim?.stop();
    await connection?.close();
    await nc?.drain();
  });

  const freshStreams = () => emptyChatStreams(nc);
  const detector = (namespace: string, rulesFn = () => rules, skipPreflight = false) =>
    new Detector({
      skipPreflight,
      nc,
      temporal: new Client({ connection, namespace }),
      taskQueue: `detector-failures-${randomUUID()}`,
      rules: rulesFn,
      fingerprint: (v) => `fp-${v.length}`,
      log: silentLogger,
    });
  const publish = (text: string) => {
    const { envelope } = sim.postAsUser('U0ALICE01', 'C0GENERAL', text);
    return nc.jetstream().publish(chatSubject('slack', TEAM, 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
  };
  const consumerIdle = () =>
    eventually('the detector to have settled every message', async () => {
      const info = await (await nc.jetstreamManager()).consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
      return info.num_pending === 0 && info.num_ack_pending === 0 && info;
    });
  const deadLetters = async () => {
    const jsm = await nc.jetstreamManager();
    const n = (await jsm.streams.info(DEADLETTER_STREAM)).state.messages;
    const reasons: string[] = [];
    for (let seq = 1; seq <= n; seq++) reasons.push((await jsm.streams.getMessage(DEADLETTER_STREAM, { seq })).header.get('Sentinel-Reason'));
    return reasons;
  };

  it('refuses to start against a namespace without the search attributes, and says what to run', async () => {
    const d = detector(bare);
    const err = await d.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NamespaceSetupError);
    expect((err as Error).message).toContain(`Temporal namespace "${bare}" lacks Sentinel's search attributes SentinelRule`);
    expect((err as Error).message).toContain('sentinel setup');
    expect((err as Error).message).toContain(`temporal operator search-attribute create --namespace ${bare} --name SentinelActions --type KeywordList`);
  });

  it('dead-letters a leak whose incident can never start, with the reason, and keeps clean chat flowing', async () => {
    await freshStreams();
    // Without the preflight, as a detector runs against a namespace whose attributes it may not read.
    const unchecked = detector(bare, () => rules, true);
    const run = unchecked.run();
    await publish('lunch at noon?');
    await publish('prod token ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8 do not share');
    await publish('see you there');
    await consumerIdle();
    await unchecked.stop();
    await run;
    expect(unchecked.stats).toMatchObject({ handled: 3, deadlettered: 1, started: 0 });
    const reasons = await deadLetters();
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(/^incident incident\/slack\/T0SENTNL1\/C0GENERAL\/[0-9.]+\/github-pat cannot start: Failed to start Workflow: INVALID_ARGUMENT: .*search attribute Sentinel/);
    expect(reasons[0]).not.toContain('ghp_a1B2');
  });

  it('dead-letters an event the rule engine fails on instead of retrying it forever', async () => {
    await freshStreams();
    const d = detector('default', () => {
      throw new TypeError('a bug in the engine');
    }, true);
    const run = d.run();
    await publish('anything at all');
    await consumerIdle();
    await d.stop();
    await run;
    expect(d.stats.deadlettered).toBe(1);
    expect(await deadLetters()).toEqual(['rule engine failed on this event: TypeError: a bug in the engine']);
  });

  it('re-creates its consumer and consume loop when the consumer is deleted under it, and says so at error', async () => {
    await freshStreams();
    const lines: string[] = [];
    const log = { ...silentLogger, error: (msg: string) => void lines.push(`error ${msg}`), warn: (msg: string) => void lines.push(`warn ${msg}`) };
    const d = new Detector({ nc, temporal: new Client({ connection }), taskQueue: `detector-failures-${randomUUID()}`, rules: () => rules, fingerprint: (v) => `fp-${v.length}`, log });
    const run = d.run();
    await publish('before the consumer goes');
    await consumerIdle();
    await (await nc.jetstreamManager()).consumers.delete(CHAT_STREAM, DETECTOR_CONSUMER);
    await eventually('the detector to re-create its consumer', () => d.stats.restarts >= 1, 60_000);
    await publish('after it came back');
    await eventually('the event after the restart to be handled', () => d.stats.handled >= 2, 60_000);
    await d.stop();
    await run;
    expect(lines.some((l) => l.startsWith('error detector consumer is gone'))).toBe(true);
  });

  it('registers the attributes with sentinel setup, after which the detector starts', async () => {
    const stack = inject('stack');
    const { stdout } = await promisify(execFile)(process.execPath, [join(projectRoot, 'bin', 'sentinel.js'), 'setup'], {
      env: { ...process.env, TEMPORAL_ADDRESS: stack.temporalAddress, TEMPORAL_NAMESPACE: bare, NATS_URL: stack.natsUrl, ...testSecrets() },
    });
    expect(stdout).toContain(`registered search attributes SentinelRule, SentinelSeverity, SentinelStatus, SentinelUser, SentinelChannel, SentinelTeam, SentinelActions, SentinelCredential in namespace ${bare}`);
    await eventually('the attributes to show', async () => (await missingSearchAttributes(connection, bare)).length === 0);
    await expect(detector(bare).preflight()).resolves.toBeUndefined();
  });
});
