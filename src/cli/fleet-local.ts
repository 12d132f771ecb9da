/**
 * `npm run fleet -- up|down` (sentinel fleet up|down): a small production-shaped fleet on this
 * machine, from a clean clone — a dev Temporal server, a 3-node NATS cluster with R3 streams, moto,
 * the Slack simulator, then 2 detectors, 2 workers (Worker Versioning on), a KMS worker, a
 * correlator and the bridge, each a detached process with its own SENTINEL_HEALTH_PORT and log. `sentinel fleet status`
 * reports on it (and probes every process) while it runs.
 *
 * Ports: the stack's come from SENTINEL_STACK_* (as for `stack up`); the processes' from
 * SENTINEL_FLEET_PORT_BASE (default 9460): health ports base+0…, the workers' SDK metrics base+20…,
 * the bridge's Events API base+30. State and logs live in .sentinel/fleet/.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config';
import { projectRoot, sentinelHome } from '../paths';
import { StackError } from '../stack/errors';
import { portsFromEnv } from '../stack/ports';
import { devSecrets } from '../stack/secrets';
import { startStack, stopPid, type ServiceProcess } from '../stack/stack';
import { isAlive, stackEnv } from '../stack/state';
import { connectTemporal } from '../temporal/client';
import { fleetStatus, formatFleetReport } from './fleet-status';

export interface FleetProcess {
  name: string;
  component: string;
  pid: number;
  healthPort: number;
  log: string;
}

interface FleetState {
  startedAt: string;
  /** What every process of the fleet runs with (secrets are in .sentinel/dev-secrets.env, not here). */
  env: Record<string, string>;
  services: ServiceProcess[];
  processes: FleetProcess[];
}

const fleetDir = () => join(sentinelHome, 'fleet');
const stateFile = () => join(fleetDir(), 'state.json');
const say = (line: string) => void process.stdout.write(line + '\n');

/** The processes of the fleet: component (bin/run.js) and how many. */
const LAYOUT: { component: string; count: number }[] = [
  { component: 'detector', count: 2 },
  { component: 'worker', count: 2 },
  { component: 'worker:kms', count: 1 },
  { component: 'correlator', count: 1 },
  { component: 'bridge', count: 1 },
];

function readFleet(): FleetState | undefined {
  if (!existsSync(stateFile())) return undefined;
  return JSON.parse(readFileSync(stateFile(), 'utf8')) as FleetState;
}

/** The running local fleet's environment and probes, for `sentinel fleet status`; undefined when none is up. */
export function localFleet(): { env: Record<string, string>; probes: string[] } | undefined {
  const state = readFleet();
  if (!state) return undefined;
  return { env: state.env, probes: state.processes.map((p) => `${p.name}=127.0.0.1:${p.healthPort}`) };
}

function portBase(): number {
  const raw = process.env.SENTINEL_FLEET_PORT_BASE;
  if (!raw) return 9460;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65500) throw new StackError(`SENTINEL_FLEET_PORT_BASE=${JSON.stringify(raw)} is not a port (1-65500)`);
  return n;
}

function spawnComponent(component: string, env: Record<string, string>, log: string): number {
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [join(projectRoot, 'bin/run.js'), component], {
    cwd: projectRoot,
    stdio: ['ignore', fd, fd],
    detached: true,
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new StackError(`could not start ${component}`);
  return child.pid;
}

async function readyz(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2000) })).status === 200;
  } catch {
    return false;
  }
}

function tail(file: string, lines = 12): string {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '';
}

/** Starts the stack and the processes; returns once every process says ready, with the status report. */
export async function fleetUp(): Promise<number> {
  const current = readFleet();
  if (current) {
    if (current.processes.every((p) => isAlive(p.pid)) && current.services.every((s) => isAlive(s.pid))) {
      say(`the local fleet is already up (since ${current.startedAt}); "npm run fleet -- status" reports on it`);
      return 0;
    }
    say('a previous fleet is partly down; stopping what is left of it first');
    await fleetDown();
  }
  mkdirSync(join(fleetDir(), 'logs'), { recursive: true });
  const secrets = devSecrets(sentinelHome);
  say('starting the stack: Temporal dev server, 3-node NATS cluster, moto, Slack simulator');
  const stack = await startStack({
    home: sentinelHome,
    dir: join(fleetDir(), 'stack'),
    ports: portsFromEnv(),
    natsCluster: true,
    slackSim: true,
    detached: true,
    progress: (l) => say(`… ${l}`),
  });
  const base = portBase();
  const env: Record<string, string> = {
    ...stackEnv(stack.endpoints),
    SENTINEL_WORKER_VERSIONING: 'on',
    // The bridge verifies Events API requests with it: a fresh one per fleet, kept in the state file (mode 0600).
    SLACK_SIGNING_SECRET: randomBytes(16).toString('hex'),
    BRIDGE_PORT: String(base + 30),
    LOG_LEVEL: 'info',
  };
  const state: FleetState = { startedAt: new Date().toISOString(), env, services: stack.services, processes: [] };
  const save = () => writeFileSync(stateFile(), JSON.stringify(state, null, 2), { mode: 0o600 });
  save();
  try {
    let i = 0;
    let sdk = 0;
    for (const { component, count } of LAYOUT) {
      for (let n = 1; n <= count; n++) {
        const name = count > 1 ? `${component}-${n}` : component;
        const healthPort = base + i++;
        const log = join(fleetDir(), 'logs', `${name.replace(':', '-')}.log`);
        const own: Record<string, string> = { ...secrets, ...env, SENTINEL_HEALTH_PORT: String(healthPort) };
        if (component.startsWith('worker')) own.SENTINEL_SDK_METRICS_PORT = String(base + 20 + sdk++);
        const pid = spawnComponent(component, own, log);
        state.processes.push({ name, component, pid, healthPort, log });
        save();
        say(`started ${name} (pid ${pid}), ready on http://127.0.0.1:${healthPort}/readyz, log ${log}`);
      }
    }
    // Workers bundle the workflow code when there is no current build: allow for it on two cores.
    const deadline = Date.now() + 240_000;
    for (const p of state.processes) {
      while (!(await readyz(p.healthPort))) {
        if (!isAlive(p.pid)) throw new StackError(`${p.name} exited while starting; last lines of ${p.log}:\n${tail(p.log)}`);
        if (Date.now() > deadline) throw new StackError(`${p.name} was not ready within 240 s; last lines of ${p.log}:\n${tail(p.log)}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } catch (err) {
    await fleetDown();
    throw err;
  }
  say('every process is ready');
  return reportOn(state);
}

/** Prints the fleet status report for a local fleet; 0 when healthy. */
async function reportOn(state: FleetState): Promise<number> {
  const config = loadConfig({ ...process.env, ...state.env });
  const connection = await connectTemporal(config.temporal);
  try {
    // The first version becomes current a moment after the workers poll: give it that moment.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const report = await fleetStatus({ config, connection, probes: localFleet()!.probes });
      if (report.healthy || Date.now() > deadline) {
        say(formatFleetReport(report));
        return report.healthy ? 0 : 1;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  } finally {
    await connection.close();
  }
}

/** Stops the processes (SIGTERM: they drain), then the stack. */
export async function fleetDown(): Promise<number> {
  const state = readFleet();
  if (!state) {
    say('no local fleet is recorded as running');
    return 0;
  }
  await Promise.all(
    state.processes.map(async (p) => {
      await stopPid(p.pid, 30_000);
      say(`stopped ${p.name} (pid ${p.pid})`);
    }),
  );
  await Promise.all(
    state.services.map(async (s) => {
      await stopPid(s.pid);
      say(`stopped ${s.name} (pid ${s.pid})`);
    }),
  );
  rmSync(stateFile(), { force: true });
  return 0;
}
