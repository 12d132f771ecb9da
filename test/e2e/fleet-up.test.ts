/**
 * The documented local fleet (`npm run fleet -- up|status|down`), from the commands a new user
 * types: dev Temporal, a 3-node NATS cluster, 2 detectors, 2 workers, a KMS worker, a correlator and the bridge,
 * each ready on its own health port, and `sentinel fleet status` calling it healthy.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { FleetReport } from '../../src/cli/fleet-status';
import { projectRoot, sentinelHome } from '../../src/paths';
import { freePorts } from '../../src/stack/stack';
import { isAlive } from '../../src/stack/state';

const run = promisify(execFile);

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });

/**
 * A base with the 31 ports the fleet's processes take above it free, below Linux's ephemeral range
 * (32768 on): a port there that is free now can still be handed to some process's outgoing
 * connection before the fleet listens on it (a correlator once failed with EADDRINUSE so).
 */
async function freeBase(): Promise<number> {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * (32_768 - 31 - 20_000));
    const all = await Promise.all(Array.from({ length: 31 }, (_, i) => portFree(base + i)));
    if (all.every(Boolean)) return base;
  }
}

describe('the local fleet', () => {
  // Its own home (state, logs, keys) sharing the checkout's installed servers.
  const home = mkdtempSync(join(tmpdir(), 'sentinel-fleet-'));
  symlinkSync(join(sentinelHome, 'venv'), join(home, 'venv'));
  let env: Record<string, string> = {};
  const fleet = (...args: string[]) =>
    run(process.execPath, [join(projectRoot, 'bin/sentinel.js'), 'fleet', ...args], { cwd: projectRoot, env, timeout: 360_000, maxBuffer: 16 << 20 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  afterAll(async () => {
    await fleet('down');
    rmSync(home, { recursive: true, force: true });
  });

  it('comes up healthy with every process ready, reports on itself, and goes down', async () => {
    const ports = await freePorts(true);
    const base = await freeBase();
    env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      SENTINEL_HOME: home,
      SENTINEL_STACK_TEMPORAL_PORT: String(ports.temporal),
      SENTINEL_STACK_TEMPORAL_UI_PORT: String(ports.temporalUi),
      SENTINEL_STACK_NATS_PORT: String(ports.nats),
      SENTINEL_STACK_NATS_CLUSTER_PORTS: [...ports.natsCluster!.clients, ...ports.natsCluster!.routes].join(','),
      SENTINEL_STACK_MOTO_PORT: String(ports.moto),
      SENTINEL_STACK_SLACK_PORT: String(ports.slackSim),
      SENTINEL_FLEET_PORT_BASE: String(base),
    };
    const up = await fleet('up');
    expect(up.stderr + up.stdout).toContain('fleet healthy');
    expect(up.code).toBe(0);

    const status = await fleet('status', '--json');
    expect(status.code).toBe(0);
    const report = JSON.parse(status.stdout) as FleetReport;
    expect(report.problems).toEqual([]);
    expect(report.probes.map((p) => p.name).sort()).toEqual(['bridge', 'correlator', 'detector-1', 'detector-2', 'worker-1', 'worker-2', 'worker:kms']);
    expect(report.probes.every((p) => p.ready)).toBe(true);
    expect(report.nats.nodes.filter((n) => n.up && n.jetstream && n.cluster === 'sentinel')).toHaveLength(3);
    expect(report.nats.streams.find((s) => s.name === 'CHAT')?.replicas).toBe(3);
    expect(report.nats.consumers[0]).toMatchObject({ name: 'detector', pending: 0 });
    const deployment = report.temporal.deployments.find((d) => d.name === 'sentinel');
    expect(deployment?.current).toMatch(/^sentinel-/);
    const workflows = report.temporal.taskQueues.find((q) => q.name === 'sentinel-remediation' && q.type === 'workflow');
    expect(workflows?.pollers.length).toBeGreaterThanOrEqual(2);
    expect(workflows?.pollers.every((p) => p.buildId === deployment?.current && p.versioned)).toBe(true);

    // The SDK's own metrics, tagged with the build id, on the first worker's SDK metrics port.
    const sdk = await (await fetch(`http://127.0.0.1:${base + 20}/metrics`)).text();
    expect(sdk).toMatch(new RegExp(`temporal_\\w+\\{[^}]*build_id="${deployment!.current}"`));

    const human = await fleet('status');
    expect(human.stdout).toMatch(/Deployment sentinel: current sentinel-/);
    expect(human.stdout).toContain('fleet healthy');

    const pids = report.probes.length;
    expect(pids).toBe(7);
    const down = await fleet('down');
    expect(down.code).toBe(0);
    expect(down.stdout).toContain('stopped worker-1');
    const after = await fleet('status');
    expect(after.code).not.toBe(0);
    expect(isAlive(process.pid)).toBe(true);
  }, 600_000);
});
