/**
 * /livez, /readyz and /metrics of the long-running processes, started as real child processes on
 * the test stack: ready only once they do their job, metrics a Prometheus scraper can read, and
 * never ready again once SIGTERM arrives, while they drain.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OpsServer } from '../../src/ops/health';
import { chatSubject } from '../../src/nats/streams';
import { projectRoot } from '../../src/paths';
import { SlackSimulator } from '../../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../../src/slack-sim/workspace';
import { eventually } from '../support/harness';
import { startProcess, type SentinelProcess } from '../support/processes';
import { testSecrets } from '../support/secrets';

/** The ops URL a process logged ("health and metrics served"), with a loopback host. */
const opsUrl = (p: SentinelProcess) => {
  const m = /"health and metrics served".*?"url":"(http:\/\/[^"]+)"/.exec(p.output());
  if (!m) throw new Error(`${p.name} did not log its ops URL:\n${p.output().slice(-1500)}`);
  return m[1]!.replace('0.0.0.0', '127.0.0.1');
};
const get = async (url: string) => {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
};

/** Probes /readyz every few ms from SIGTERM until the process exits: the statuses it answered. */
async function readinessWhileStopping(p: SentinelProcess, url: string): Promise<number[]> {
  const seen: number[] = [];
  const stopped = p.stop(30_000);
  // A probe already on its way as the signal is sent may be answered first: give the signal a moment.
  await new Promise((resolve) => setTimeout(resolve, 100));
  let done = false;
  void stopped.then(() => (done = true));
  while (!done) {
    const r = await get(`${url}/readyz`).catch(() => undefined);
    if (r) seen.push(r.status);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await stopped;
  return seen;
}

describe('health and metrics endpoints', () => {
  let nc: NatsConnection;
  let sim: SlackSimulator;
  const procs: SentinelProcess[] = [];

  beforeAll(async () => {
    nc = await connect({ servers: inject('stack').natsUrl });
    sim = await new SlackSimulator().start();
  });
  afterAll(async () => {
    for (const p of procs) await p.stop(2000);
    await sim?.stop();
    await nc?.drain();
  });

  const env = (extra: Record<string, string>) => ({
    TEMPORAL_ADDRESS: inject('stack').temporalAddress,
    NATS_URL: inject('stack').natsUrl,
    SENTINEL_RULES_DIR: join(projectRoot, 'rules'),
    SENTINEL_HEALTH_PORT: '0',
    LOG_LEVEL: 'info',
    ...testSecrets(),
    ...extra,
  });

  it('says ready only while it is, and not ready from the moment it is told to stop', async () => {
    const ops = await new OpsServer({ component: 'unit', port: 0, host: '127.0.0.1' }).start();
    try {
      let up = false;
      ops.ready('dependency', () => up || 'not connected yet');
      ops.ready('slow', () => new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 10)));
      expect(await get(`${ops.url}/readyz`)).toEqual({ status: 503, body: 'not ready\ndependency: not connected yet\n' });
      up = true;
      expect(await get(`${ops.url}/readyz`)).toEqual({ status: 200, body: 'ok\ndependency: ok\nslow: ok\n' });
      ops.drain('SIGTERM received');
      expect(await get(`${ops.url}/readyz`)).toEqual({ status: 503, body: 'not ready\ndraining: SIGTERM received\n' });
      expect((await get(`${ops.url}/livez`)).status).toBe(200);
      expect((await get(`${ops.url}/nothing`)).status).toBe(404);
    } finally {
      await ops.stop();
    }
  });

  it('serves the detector: ready once consuming, its counters and consumer lag in /metrics, 503 while it drains', async () => {
    const detector = startProcess('detector', 'src/detector/main.ts', env({ SENTINEL_TASK_QUEUE: `health-${randomUUID()}` }));
    procs.push(detector);
    await detector.waitFor('health and metrics served');
    const url = opsUrl(detector);
    expect((await get(`${url}/livez`)).status).toBe(200);
    await eventually('the detector to be ready', async () => (await get(`${url}/readyz`)).status === 200, 60_000);
    const { envelope } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'lunch at noon?');
    await nc.jetstream().publish(chatSubject('slack', 'T0SENTNL1', 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
    const metrics = await eventually(
      'the event in the detector’s metrics',
      async () => {
        const body = (await get(`${url}/metrics`)).body;
        return /sentinel_detector_events_total\{outcome="handled",component="detector"\} [1-9]/.test(body) && body;
      },
      30_000,
    );
    expect(metrics).toContain('# TYPE sentinel_detector_consumer_pending gauge');
    expect(metrics).toMatch(/sentinel_detector_consumer_ack_pending\{component="detector"\} \d+/);
    expect(metrics).toContain('sentinel_incident_starts_total{outcome="new",component="detector"}');
    expect(metrics).toContain('sentinel_process_resident_memory_bytes{component="detector"}');
    const seen = await readinessWhileStopping(detector, url);
    expect(seen.filter((s) => s !== 503)).toEqual([]);
    expect(detector.child.exitCode).toBe(0);
  });

  it('serves the correlator: ready once it has replayed its partitions and follows live, 503 while it stops', async () => {
    const correlator = startProcess('correlator', 'src/correlator/main.ts', env({ SENTINEL_TASK_QUEUE: `health-${randomUUID()}` }));
    procs.push(correlator);
    await correlator.waitFor('health and metrics served');
    const url = opsUrl(correlator);
    const ready = await eventually('the correlator to be ready', async () => {
      const r = await get(`${url}/readyz`);
      return r.status === 200 && r.body;
    }, 60_000);
    expect(ready).toBe('ok\nnats: ok\nfollowing live: ok\n');
    const metrics = (await get(`${url}/metrics`)).body;
    expect(metrics).toContain('sentinel_correlator_live{component="correlator"} 1');
    expect(metrics).toContain('sentinel_correlator_facts_total{outcome="late",component="correlator"}');
    const seen = await readinessWhileStopping(correlator, url);
    expect(seen.filter((s) => s !== 503)).toEqual([]);
    expect(correlator.child.exitCode).toBe(0);
  });

  it('serves the codec server on a port of its own: ready while it listens, 503 while it stops', async () => {
    const codecServer = startProcess('codec-server', 'src/codec-server/main.ts', env({ SENTINEL_CODEC_SERVER_PORT: '0', SENTINEL_CODEC_SERVER_TOKEN: `health-${randomUUID()}` }));
    procs.push(codecServer);
    await codecServer.waitFor('health and metrics served');
    const url = opsUrl(codecServer);
    expect(await get(`${url}/readyz`)).toEqual({ status: 200, body: 'ok\nlistening: ok\n' });
    expect((await get(`${url}/metrics`)).body).toContain('sentinel_process_resident_memory_bytes{component="codec-server"}');
    const seen = await readinessWhileStopping(codecServer, url);
    expect(seen.filter((s) => s !== 503)).toEqual([]);
    expect(codecServer.child.exitCode).toBe(0);
  });

  it('serves the worker: ready while all three workers poll, Slack calls counted, 503 while it drains', async () => {
    const worker = startProcess(
      'worker',
      'src/worker/main.ts',
      env({ SENTINEL_TASK_QUEUE: `health-${randomUUID()}`, SLACK_API_URL: sim.apiUrl, SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN, SLACK_BOT_TOKEN: SIM_BOT_TOKEN, SLACK_RATE_LIMITS: '*=100/s' }),
    );
    procs.push(worker);
    await worker.waitFor('health and metrics served');
    const url = opsUrl(worker);
    const ready = await eventually('the worker to be ready', async () => {
      const r = await get(`${url}/readyz`);
      return r.status === 200 && r.body;
    }, 60_000);
    expect(ready).toMatch(/poller health-[0-9a-f-]+-slack-delete: ok/);
    const metrics = (await get(`${url}/metrics`)).body;
    expect(metrics).toContain('# TYPE sentinel_slack_calls_total counter');
    expect(metrics).toContain('# TYPE sentinel_remediation_steps_total counter');
    const seen = await readinessWhileStopping(worker, url);
    expect(seen.filter((s) => s !== 503)).toEqual([]);
    expect(worker.child.exitCode).toBe(0);
  });
});
