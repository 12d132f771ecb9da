/**
 * A detector pointed at a Temporal namespace that lacks Sentinel's search attributes (a cluster set
 * up without `sentinel setup`): every incident start is refused. It must not go quiet about it nor
 * drop events: either it refuses to start and says what to do, or it dead-letters what it cannot
 * start with a reason logged at error that names the fix; and every event stays in CHAT or
 * DEADLETTER. It runs against a private nats-server, so that it never competes with the run's own
 * detector for events.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { connect, type NatsConnection } from 'nats';
import { CHAT_STREAM, DEADLETTER_STREAM, DETECTOR_CONSUMER, ensureChatStreams } from '../src/nats/streams';
import { freePort } from '../src/stack/stack';
import { within } from './collect';
import { Component, track } from './processes';
import { TEAM } from './plan';

export interface NamespaceCheckResult {
  ok: boolean;
  /** refused: exited at start; dead-lettered; retrying: kept events and retried them; lost; skipped: could not be set up. */
  outcome: 'refused' | 'dead-lettered' | 'retrying' | 'lost' | 'skipped';
  detail: string;
  namespace: string;
  published: { leaks: number; clean: number };
  /** Leak events still in CHAT, and in DEADLETTER, when the check ended. */
  inChat: number;
  deadLettered: number;
  /** Error-level log lines of the detector (their msg and reason fields). */
  errors: string[];
  /** Its warn-level lines, counted by message. */
  warnings: Record<string, number>;
  exitCode: number | null;
  seconds: number;
}

/** What a message must name so that an operator knows what to run. */
export const FIX = /sentinel setup|temporal operator search-attribute create/i;

export interface NamespaceCheckOptions {
  temporalAddress: string;
  natsServer: string;
  dir: string;
  /** The detector's environment (keys, rules, log level); TEMPORAL_*, NATS_URL are set here. */
  env: Record<string, string>;
  progress: (line: string) => void;
  /** Messages that leak (the run's rules match them) and ordinary ones, posted onto the private CHAT. */
  leakTexts: string[];
  cleanTexts: string[];
  /** How long to watch the detector; default 40 s. */
  watchMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parseLines(output: string): { level?: string; msg?: string; [k: string]: unknown }[] {
  return output.split('\n').flatMap((l) => {
    if (!l.startsWith('{')) return [];
    try {
      return [JSON.parse(l) as { level?: string; msg?: string }];
    } catch {
      return [];
    }
  });
}

export async function namespaceCheck(o: NamespaceCheckOptions): Promise<NamespaceCheckResult> {
  const started = Date.now();
  const namespace = `chaos-no-sa-${Math.random().toString(36).slice(2, 8)}`;
  const result: NamespaceCheckResult = { ok: false, outcome: 'skipped', detail: '', namespace, published: { leaks: o.leakTexts.length, clean: o.cleanTexts.length }, inChat: 0, deadLettered: 0, errors: [], warnings: {}, exitCode: null, seconds: 0 };
  const connection = await Connection.connect({ address: o.temporalAddress });
  let nats: ChildProcess | undefined;
  let nc: NatsConnection | undefined;
  let detector: Component | undefined;
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    // A new namespace takes a few seconds to reach every service of the dev server: wait until a start works.
    const client = new Client({ connection, namespace });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const h = await client.workflow.start('chaosProbe', { taskQueue: 'chaos-probe', workflowId: 'chaos-probe' });
        await h.terminate('probe');
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`namespace ${namespace} did not become usable: ${(err as Error).message}`);
        await sleep(1000);
      }
    }
    const sa = await connection.operatorService.listSearchAttributes({ namespace });
    if (sa.customAttributes.SentinelRule !== undefined) {
      result.detail = `the new namespace ${namespace} already has SentinelRule, so it cannot show a missing setup`;
      return result;
    }
    o.progress(`namespace check: ${namespace} is up without Sentinel's search attributes; starting a private nats-server and a detector on it`);

    const port = await freePort();
    const dataDir = join(o.dir, 'nats');
    mkdirSync(dataDir, { recursive: true });
    nats = spawn(o.natsServer, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dataDir], { stdio: 'ignore', detached: true });
    track(nats);
    const natsUrl = `nats://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      try {
        nc = await connect({ servers: natsUrl, timeout: 1000, reconnect: false });
        break;
      } catch (err) {
        if (i > 40) throw new Error(`private nats-server did not start: ${(err as Error).message}`);
        await sleep(250);
      }
    }
    const jsm = await nc.jetstreamManager();
    await ensureChatStreams(jsm);
    const js = nc.jetstream();
    const texts = [...o.leakTexts, ...o.cleanTexts];
    for (const [i, text] of texts.entries()) {
      const ts = `1700000000.${String(100 + i).padStart(6, '0')}`;
      const envelope = { type: 'event_callback', team_id: TEAM, event_id: `EvNSCHECK${i}`, event: { type: 'message', channel: 'C0GENERAL', channel_type: 'channel', user: 'U0ALICE01', ts, text } };
      await js.publish(`chat.slack.${TEAM}.message`, JSON.stringify(envelope), { msgID: envelope.event_id });
    }

    detector = new Component(
      { name: 'detector-no-search-attributes', entry: 'src/detector/main.ts', ready: 'detector consuming', env: { ...o.env, TEMPORAL_ADDRESS: o.temporalAddress, TEMPORAL_NAMESPACE: namespace, NATS_URL: natsUrl } },
      join(o.dir, 'detector-no-search-attributes.log'),
    );
    const readiness = detector.start(60_000).then(
      () => true,
      () => false,
    );
    const watchUntil = Date.now() + (o.watchMs ?? 40_000);
    let dead = 0;
    let chatLeft = texts.length;
    while (Date.now() < watchUntil) {
      await sleep(1000);
      dead = (await within(2000, jsm.streams.info(DEADLETTER_STREAM)).catch(() => undefined))?.state.messages ?? dead;
      const ci = await within(2000, jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER)).catch(() => undefined);
      if (ci) chatLeft = ci.num_pending + ci.num_ack_pending;
      if (!detector.running) break;
      if (dead >= result.published.leaks && chatLeft === 0) break;
    }
    await readiness;
    const lines = parseLines(detector.output());
    result.errors = lines.filter((l) => l.level === 'error').map((l) => JSON.stringify(l).slice(0, 400));
    for (const l of lines.filter((x) => x.level === 'warn')) result.warnings[String(l.msg)] = (result.warnings[String(l.msg)] ?? 0) + 1;
    result.exitCode = detector.exitCode;
    result.inChat = chatLeft;
    result.deadLettered = dead;
    const leaks = result.published.leaks;
    const stderr = detector.output().split('\n').filter((l) => !l.startsWith('{')).join('\n').trim();

    if (!detector.running) {
      const says = FIX.test(detector.output());
      result.outcome = 'refused';
      result.ok = result.exitCode !== 0 && says && chatLeft >= leaks && dead === 0;
      result.detail = `the detector exited with ${result.exitCode} (${says ? 'naming the fix' : 'WITHOUT naming `sentinel setup` or the search-attribute command'}); ${chatLeft} events left in CHAT, ${dead} dead-lettered: ${(stderr || result.errors.join(' | ')).slice(0, 300)}`;
    } else {
      const lost = Math.max(0, leaks - dead - chatLeft);
      const named = result.errors.some((e) => FIX.test(e));
      if (lost > 0) {
        result.outcome = 'lost';
        result.detail = `${lost} of ${leaks} leak events are neither in CHAT nor in DEADLETTER`;
      } else if (dead >= leaks) {
        result.outcome = 'dead-lettered';
        result.ok = named;
        result.detail = named ? `dead-lettered all ${leaks} leak events and logged at error what to do` : `dead-lettered ${dead} events but logged no error naming \`sentinel setup\` or the search-attribute command (errors: ${result.errors.length})`;
      } else {
        result.outcome = 'retrying';
        const warns = Object.entries(result.warnings).map(([m, n]) => `"${m}" ×${n}`).join(', ');
        result.detail = `kept running for ${Math.round((Date.now() - started) / 1000)} s with ${chatLeft} events unacked in CHAT and ${dead} dead-lettered; ${named ? 'named the fix at error' : 'no error-level line naming the fix'}; warnings: ${warns || 'none'}`;
      }
    }
    return result;
  } catch (err) {
    result.detail = `could not run: ${(err as Error).message}`;
    return result;
  } finally {
    result.seconds = Math.round((Date.now() - started) / 1000);
    await detector?.stop(5000).catch(() => undefined);
    await detector?.close();
    await nc?.close().catch(() => undefined);
    if (nats?.pid) {
      try {
        process.kill(-nats.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await connection.close();
  }
}
