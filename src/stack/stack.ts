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
import { ensureAuditStream, ensureChatStreams, ensureFactsStream } from '../nats/streams';
import { SIM_DEV_RATE_LIMITS } from '../slack-sim/dev-limits';

/** `nats` is the single server, or the first node of a cluster; `nats-2` and `nats-3` the others. */
export type ServiceName = 'temporal' | 'nats' | 'nats-2' | 'nats-3' | 'moto' | 'slack-sim';

/** The nodes of a NATS cluster, in order: their service names and JetStream server names (n1…n3). */
export const NATS_NODES = ['nats', 'nats-2', 'nats-3'] as const;
export type NatsNode = (typeof NATS_NODES)[number];
/** JetStream's name for a node (stream and consumer info name leaders by it). */
export const natsServerName = (node: NatsNode) => `n${NATS_NODES.indexOf(node) + 1}`;
/** The service of a JetStream server name (`n2` → `nats-2`). */
export const natsNodeOf = (serverName: string): NatsNode | undefined => NATS_NODES[Number(/^n(\d)$/.exec(serverName)?.[1] ?? 0) - 1];


export interface StackPorts {
  temporal: number;
  temporalUi: number;
  nats: number;
  moto: number;
  slackSim: number;
  /** A 3-node NATS cluster (natsCluster): client ports of nodes 2 and 3 (node 1 is `nats`), and the three route ports. */
  natsCluster?: { clients: [number, number]; routes: [number, number, number] };
}

/** The defaults of `npm run stack` and the demo. NATS is not on 4222, where a machine's own NATS often runs. */
export const defaultPorts: StackPorts = { temporal: 7233, temporalUi: 8233, nats: 4223, moto: 5055, slackSim: 3055 };

/** The cluster's ports next to defaultPorts' NATS: clients on 4224 and 4225, routes on 6223-6225. */
export const defaultClusterPorts: NonNullable<StackPorts['natsCluster']> = { clients: [4224, 4225], routes: [6223, 6224, 6225] };

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
  /**
   * Three nats-server nodes on loopback instead of one (ports.natsCluster), each with JetStream and
   * its own store, routed to each other as cluster "sentinel"; CHAT, DEADLETTER, AUDIT and FACTS are
   * created with 3 replicas.
   */
  natsCluster?: boolean;
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

/** Free ports for a private stack (tests); with `natsCluster`, for the cluster's other nodes and routes too. */
export async function freePorts(natsCluster = false): Promise<StackPorts> {
  const ports: StackPorts = { temporal: await freePort(), temporalUi: await freePort(), nats: await freePort(), moto: await freePort(), slackSim: await freePort() };
  if (natsCluster) ports.natsCluster = { clients: [await freePort(), await freePort()], routes: [await freePort(), await freePort(), await freePort()] };
  return ports;
}

/** The client port of each NATS node, in NATS_NODES order (one without a cluster). */
export function natsClientPorts(ports: StackPorts): number[] {
  return ports.natsCluster ? [ports.nats, ...ports.natsCluster.clients] : [ports.nats];
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
    // Every node of a cluster, comma separated as NATS_URL takes them: clients fail over between them.
    natsUrl: natsClientPorts(ports).map((p) => `nats://${host}:${p}`).join(','),
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
  nats: { what: 'nats-server', timeoutMs: 30_000 },
  'nats-2': { what: 'nats-server node 2', timeoutMs: 30_000 },
  'nats-3': { what: 'nats-server node 3', timeoutMs: 30_000 },
  moto: { what: 'moto_server', timeoutMs: 30_000 },
  'slack-sim': { what: 'slack simulator', timeoutMs: 20_000 },
  temporal: { what: 'temporal dev server', timeoutMs: 60_000 },
};

/** True once the service answers as Sentinel needs it (JetStream up, moto's API, the simulator, Temporal with its search attributes). */
function probe(name: ServiceName, endpoints: Endpoints): () => Promise<boolean> {
  switch (name) {
    case 'nats':
    case 'nats-2':
    case 'nats-3':
      // This node alone; in a cluster JetStream answers only once a meta leader is elected.
      return async () => {
        const url = endpoints.natsUrl.split(',')[NATS_NODES.indexOf(name)];
        const nc = await connect({ servers: url, timeout: 1000, reconnect: false, ignoreClusterUpdates: true });
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
  // A single server unless a cluster is asked for: then its ports come from options or the defaults.
  const { natsCluster: clusterPorts, ...single } = options.ports;
  const ports: StackPorts = options.natsCluster ? { ...single, natsCluster: clusterPorts ?? defaultClusterPorts } : single;
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
  const cluster = ports.natsCluster;
  if (cluster) {
    for (const p of cluster.clients) await assertPortFree(p, 'NATS cluster node', 'SENTINEL_STACK_NATS_CLUSTER_PORTS');
    for (const p of cluster.routes) await assertPortFree(p, 'NATS cluster route', 'SENTINEL_STACK_NATS_CLUSTER_PORTS');
  }
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
    const natsNodes = cluster
      ? NATS_NODES.map((node, i) => {
          const routes = cluster.routes.filter((_, j) => j !== i).map((p) => `nats://${host}:${p}`);
          // https://docs.nats.io/running-a-nats-service/configuration/clustering/jetstream_clustering:
          // JetStream in a cluster needs a server name per node, a cluster name, and routes to the others.
          return {
            node,
            ...launch(node, natsClientPorts(ports)[i]!, tools.natsServer, [
              '-n', natsServerName(node),
              '-a', host,
              '-p', String(natsClientPorts(ports)[i]),
              '-js', '-sd', join(dataDir, node),
              '--cluster_name', 'sentinel',
              '--cluster', `nats://${host}:${cluster.routes[i]}`,
              '--routes', routes.join(','),
            ]),
          };
        })
      : [{ node: 'nats' as const, ...launch('nats', ports.nats, tools.natsServer, ['-a', host, '-p', String(ports.nats), '-js', '-sd', join(dataDir, 'nats')]) }];
    const moto = launch('moto', ports.moto, tools.motoServer, ['-H', host, '-p', String(ports.moto)]);
    const sim = withSim
      ? launch('slack-sim', ports.slackSim, process.execPath, ['--import', 'tsx', join(projectRoot, 'src/slack-sim/main.ts')], {
          SLACK_SIM_PORT: String(ports.slackSim),
          SLACK_SIM_HOST: host,
          SLACK_SIM_RATE_LIMITS: SIM_DEV_RATE_LIMITS,
        })
      : undefined;

    for (const n of natsNodes) await waitUntil(health[n.node].what, n.child, n.log, health[n.node].timeoutMs, probe(n.node, endpoints));
    if (cluster) await layOutClusterStreams(endpoints);
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

/**
 * Creates Sentinel's streams on a fresh cluster with 3 replicas, so that losing any one node loses
 * nothing; components that later make sure the streams exist keep that (StreamLayout).
 */
async function layOutClusterStreams(endpoints: Endpoints): Promise<void> {
  const nc = await connect({ servers: endpoints.natsUrl.split(','), timeout: 2000 });
  try {
    const jsm = await nc.jetstreamManager();
    const layout = { replicas: NATS_NODES.length };
    // Right after the meta leader is elected, a stream create can still time out: try for a while.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await ensureChatStreams(jsm, layout);
        await ensureAuditStream(jsm, layout);
        await ensureFactsStream(jsm, layout);
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new StackError(`could not create the streams with ${layout.replicas} replicas on the NATS cluster: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await nc.close();
  }
}
