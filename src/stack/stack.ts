/**
 * The dev stack: a real Temporal dev server, nats-server with JetStream, moto (KMS) and the Slack
 * simulator, each a child process with its own port, data folder and log file. Tests start a
 * private one on free ports; `npm run stack -- up` starts a long-lived one; the demo starts one
 * unless one is already up.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { connect } from 'nats';
import { allSearchAttributes } from '../../contract';
import { projectRoot } from '../paths';
import { StackError } from './errors';
import { isAlive } from './state';
import { ensureToolchain } from './toolchain';
import { SIM_DEV_RATE_LIMITS } from '../slack-sim/dev-limits';

export type ServiceName = 'temporal' | 'nats' | 'moto' | 'slack-sim';

export interface StackPorts {
  temporal: number;
  temporalUi: number;
  nats: number;
  moto: number;
  slackSim: number;
}

/** The defaults of `npm run stack` and the demo. NATS is not on 4222, where a machine's own NATS often runs. */
export const defaultPorts: StackPorts = { temporal: 7233, temporalUi: 8233, nats: 4223, moto: 5055, slackSim: 3055 };

export interface StackOptions {
  /** Working folder: venv, data and logs go below it. */
  home: string;
  /** Folder for this stack's data and logs; default `<home>/stack`. */
  dir?: string;
  ports: StackPorts;
  /** Serve the Temporal Web UI (off in tests). */
  ui?: boolean;
  /** The codec server the Web UI decodes payloads with (`npm run codec-server`); UI only. */
  uiCodecEndpoint?: string;
  /** Keep running after this process exits (`stack up`). */
  detached?: boolean;
  /** Run the Slack simulator as part of the stack (tests run their own in-process). */
  slackSim?: boolean;
  progress?: (line: string) => void;
}

export interface Endpoints {
  temporalAddress: string;
  temporalUiUrl: string | undefined;
  natsUrl: string;
  kmsEndpoint: string;
  slackApiUrl: string | undefined;
  slackSimUrl: string | undefined;
}

export interface ServiceProcess {
  name: ServiceName;
  pid: number;
  port: number;
  log: string;
}

const host = '127.0.0.1';

/** Finds a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Free ports for a private stack (tests). */
export async function freePorts(): Promise<StackPorts> {
  return { temporal: await freePort(), temporalUi: await freePort(), nats: await freePort(), moto: await freePort(), slackSim: await freePort() };
}

async function assertPortFree(port: number, what: string, variable: string): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, host, () => s.close(() => resolve(true)));
  });
  if (!free) throw new StackError(`port ${port} (${what}) is already in use on ${host}; stop what listens there or set ${variable} to another port`);
}

export function endpointsOf(ports: StackPorts, ui: boolean, slackSim: boolean): Endpoints {
  return {
    temporalAddress: `${host}:${ports.temporal}`,
    temporalUiUrl: ui ? `http://${host}:${ports.temporalUi}` : undefined,
    natsUrl: `nats://${host}:${ports.nats}`,
    kmsEndpoint: `http://${host}:${ports.moto}`,
    slackApiUrl: slackSim ? `http://${host}:${ports.slackSim}/api/` : undefined,
    slackSimUrl: slackSim ? `http://${host}:${ports.slackSim}` : undefined,
  };
}

function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

async function waitUntil(what: string, child: ChildProcess | undefined, log: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new StackError(`${what} exited with code ${child.exitCode} while starting; last lines of ${log}:\n${tail(log)}`);
    try {
      if (await probe()) return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new StackError(`${what} did not become healthy within ${timeoutMs / 1000}s (${String(last ?? 'no answer')}); last lines of ${log}:\n${tail(log)}`);
}

/** Sends SIGTERM to a process group, then SIGKILL if it is still there after `graceMs`. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  const alive = () => isAlive(pid);
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pid, s);
    } catch {
      try {
        process.kill(pid, s);
      } catch {
        /* already gone */
      }
    }
  };
  if (!alive()) return;
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (alive()) signal('SIGKILL');
}

/** What each service is called in messages, how long it may take to become healthy, and how to tell. */
const health: Record<ServiceName, { what: string; timeoutMs: number }> = {
  nats: { what: 'nats-server', timeoutMs: 20_000 },
  moto: { what: 'moto_server', timeoutMs: 30_000 },
  'slack-sim': { what: 'slack simulator', timeoutMs: 20_000 },
  temporal: { what: 'temporal dev server', timeoutMs: 60_000 },
};

/** True once the service answers as Sentinel needs it (JetStream up, moto's API, the simulator, Temporal with its search attributes). */
function probe(name: ServiceName, endpoints: Endpoints): () => Promise<boolean> {
  switch (name) {
    case 'nats':
      return async () => {
        const nc = await connect({ servers: endpoints.natsUrl, timeout: 1000, reconnect: false });
        try {
          await (await nc.jetstreamManager()).getAccountInfo();
          return true;
        } finally {
          await nc.close();
        }
      };
    case 'moto':
      return async () => (await fetch(`${endpoints.kmsEndpoint}/moto-api/`)).ok;
    case 'slack-sim':
      return async () => (await fetch(`${endpoints.slackSimUrl}/_sim/events`)).ok;
    case 'temporal':
      return async () => {
        const conn = await Connection.connect({ address: endpoints.temporalAddress, connectTimeout: 1000 });
        try {
          await conn.workflowService.describeNamespace({ namespace: 'default' });
          const sa = await conn.operatorService.listSearchAttributes({ namespace: 'default' });
          return allSearchAttributes.every((k) => sa.customAttributes[k.name] !== undefined);
        } finally {
          await conn.close();
        }
      };
  }
}

/** How a service was started: enough to start it again on the same port, data folder and log. */
interface Launch {
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  detached: boolean;
  child: ChildProcess;
}

function spawnService(cmd: string, args: string[], env: NodeJS.ProcessEnv, log: string): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(cmd, args, {
    cwd: projectRoot,
    stdio: ['ignore', fd, fd],
    detached: true, // own process group, so stopping it also stops anything it forked
    env: { ...process.env, ...env },
  });
  closeSync(fd);
  return child;
}

export class RunningStack {
  /** Filled by startStack: what kill() and start() need to crash and restart one service. */
  private readonly launches = new Map<ServiceName, Launch>();

  constructor(
    readonly endpoints: Endpoints,
    readonly services: ServiceProcess[],
    readonly dir: string,
  ) {}

  /** Stops every service (in parallel: each takes a second or two to shut down cleanly). */
  async stop(): Promise<void> {
    await Promise.all(this.services.map((s) => stopPid(s.pid)));
  }

  /** @internal startStack records each launch here. */
  recordLaunch(name: ServiceName, launch: Launch): void {
    this.launches.set(name, launch);
  }

  private service(name: ServiceName): { service: ServiceProcess; launch: Launch } {
    const service = this.services.find((s) => s.name === name);
    const launch = this.launches.get(name);
    if (!service || !launch) throw new StackError(`this stack runs no ${name}`);
    return { service, launch };
  }

  /**
   * Crashes one service: `signal` (SIGKILL by default, no chance to clean up) to its process
   * group; resolves once the process is gone. Its port, data folder and log stay for start().
   */
  async kill(name: ServiceName, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const { service, launch } = this.service(name);
    const { child } = launch;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      process.kill(-service.pid, signal);
    } catch {
      child.kill(signal);
    }
    await exited;
  }

  /**
   * Starts a service that kill() stopped, with the same command: the same port, data folder
   * (Temporal's SQLite file, NATS's store) and log (appended to). Resolves once it is healthy,
   * with the milliseconds that took. The stack's pid record follows the new process.
   */
  async start(name: ServiceName): Promise<number> {
    const { service, launch } = this.service(name);
    if (launch.child.exitCode === null && launch.child.signalCode === null) throw new StackError(`${name} is still running (pid ${service.pid}); kill it first`);
    const started = Date.now();
    const child = spawnService(launch.cmd, launch.args, launch.env, service.log);
    if (child.pid === undefined) throw new StackError(`could not start ${name} (${launch.cmd})`);
    if (launch.detached) child.unref();
    launch.child = child;
    service.pid = child.pid;
    const { what, timeoutMs } = health[name];
    await waitUntil(what, child, service.log, timeoutMs, probe(name, this.endpoints));
    return Date.now() - started;
  }
}

/** Starts every service and waits until each answers; on any failure stops what it started. */
export async function startStack(options: StackOptions): Promise<RunningStack> {
  const progress = options.progress ?? (() => {});
  const { ports } = options;
  const ui = options.ui ?? false;
  const withSim = options.slackSim ?? false;
  const dir = options.dir ?? join(options.home, 'stack');
  const dataDir = join(dir, 'data');
  const logDir = join(dir, 'logs');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(logDir, { recursive: true });

  await assertPortFree(ports.temporal, 'Temporal frontend', 'SENTINEL_STACK_TEMPORAL_PORT');
  if (ui) await assertPortFree(ports.temporalUi, 'Temporal Web UI', 'SENTINEL_STACK_TEMPORAL_UI_PORT');
  await assertPortFree(ports.nats, 'NATS', 'SENTINEL_STACK_NATS_PORT');
  await assertPortFree(ports.moto, 'moto (KMS)', 'SENTINEL_STACK_MOTO_PORT');
  if (withSim) await assertPortFree(ports.slackSim, 'Slack simulator', 'SENTINEL_STACK_SLACK_PORT');

  const tools = await ensureToolchain(options.home, progress);
  const endpoints = endpointsOf(ports, ui, withSim);
  const services: ServiceProcess[] = [];
  const children: ChildProcess[] = [];
  const stack = new RunningStack(endpoints, services, dir);
  if (!options.detached) {
    // A crash of this process must not leave servers behind: kill their groups on the way out.
    process.once('exit', () => {
      for (const s of services) {
        try {
          process.kill(-s.pid, 'SIGKILL');
        } catch {
          /* already stopped */
        }
      }
    });
  }

  const launch = (name: ServiceName, port: number, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) => {
    const log = join(logDir, `${name}.log`);
    const child = spawnService(cmd, args, env, log);
    if (child.pid === undefined) throw new StackError(`could not start ${name} (${cmd})`);
    if (options.detached) child.unref();
    children.push(child);
    services.push({ name, pid: child.pid, port, log });
    stack.recordLaunch(name, { cmd, args, env, detached: options.detached ?? false, child });
    progress(`started ${name} (pid ${child.pid}) on port ${port}, log ${log}`);
    return { child, log };
  };

  try {
    const saFlags = allSearchAttributes.flatMap((k) => ['--search-attribute', `${k.name}=${k.type === 'KEYWORD_LIST' ? 'KeywordList' : 'Keyword'}`]);
    const temporal = launch('temporal', ports.temporal, tools.temporal, [
      'server', 'start-dev',
      '--ip', host,
      '--port', String(ports.temporal),
      '--db-filename', join(dataDir, 'temporal.sqlite'),
      // Write-ahead log, synced at checkpoints: a commit is one append instead of a rollback
      // journal and two fsyncs. It survives a killed server (SIGKILL); a power cut may lose the
      // last commits, which a development stack can live with.
      '--sqlite-pragma', 'journal_mode=wal',
      '--sqlite-pragma', 'synchronous=normal',
      '--log-level', 'warn',
      ...(ui ? ['--ui-port', String(ports.temporalUi), '--ui-disable-news-fetch'] : ['--headless']),
      ...(ui && options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
      ...saFlags,
    ]);
    const nats = launch('nats', ports.nats, tools.natsServer, ['-a', host, '-p', String(ports.nats), '-js', '-sd', join(dataDir, 'nats')]);
    const moto = launch('moto', ports.moto, tools.motoServer, ['-H', host, '-p', String(ports.moto)]);
    const sim = withSim
      ? launch('slack-sim', ports.slackSim, process.execPath, ['--import', 'tsx', join(projectRoot, 'src/slack-sim/main.ts')], {
          SLACK_SIM_PORT: String(ports.slackSim),
          SLACK_SIM_HOST: host,
          SLACK_SIM_RATE_LIMITS: SIM_DEV_RATE_LIMITS,
        })
      : undefined;

    await waitUntil(health.nats.what, nats.child, nats.log, health.nats.timeoutMs, probe('nats', endpoints));
    await waitUntil(health.moto.what, moto.child, moto.log, health.moto.timeoutMs, probe('moto', endpoints));
    if (sim && endpoints.slackSimUrl) {
      await waitUntil(health['slack-sim'].what, sim.child, sim.log, health['slack-sim'].timeoutMs, probe('slack-sim', endpoints));
    }
    await waitUntil(health.temporal.what, temporal.child, temporal.log, health.temporal.timeoutMs, probe('temporal', endpoints));
    progress('all services are healthy');
    return stack;
  } catch (err) {
    await stack.stop();
    throw err;
  }
}
