/**
 * What `sentinel fleet status` gathers: Temporal's worker deployments and versions (current,
 * ramping, draining), every Sentinel task queue's pollers with their build ids and backlog, the
 * detectors' consumer lag, the NATS cluster (each configured node, each stream's leader and
 * replicas), and each process's /readyz. Read-only; every part reports its own failure instead of
 * failing the whole report.
 *
 * APIs: DescribeWorkerDeployment / ListWorkerDeployments and DescribeTaskQueue (reportStats) of
 * Temporal's WorkflowService (https://docs.temporal.io/production-deployment/worker-deployments/worker-versioning);
 * JetStream stream and consumer info, `cluster.leader` and `cluster.replicas` (https://docs.nats.io/running-a-nats-service/configuration/clustering/jetstream_clustering).
 */
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import { connect, type NatsConnection } from 'nats';
import type { Config } from '../config';
import { AUDIT_STREAM, CHAT_STREAM, DEADLETTER_STREAM, DETECTOR_CONSUMER, FACTS_STREAM } from '../nats/streams';
import { slackDeleteTaskQueue, slackTaskQueue } from '../../contract/activity-types';
import { routingOf } from '../worker/versioning';

const { TaskQueueType, WorkerDeploymentVersionStatus, VersionDrainageStatus, WorkerVersioningMode } = proto.temporal.api.enums.v1;

export interface VersionReport {
  buildId: string;
  /** current, ramping, draining, drained, inactive. */
  status: string;
  drainage?: string;
}

export interface DeploymentReport {
  name: string;
  current: string | undefined;
  ramping: { buildId: string; percentage: number } | undefined;
  /**
   * Whether the routing (current and ramping version) has reached every task queue of the deployment:
   * while `propagating`, a task queue may still start new workflows on the version current before.
   * Absent when the server does not report it.
   */
  routing?: 'propagating' | 'propagated';
  versions: VersionReport[];
}

export interface PollerReport {
  identity: string;
  buildId: string | undefined;
  deployment: string | undefined;
  versioned: boolean;
  lastAccess: string | undefined;
}

export interface TaskQueueReport {
  name: string;
  /** workflow or activity. */
  type: 'workflow' | 'activity';
  pollers: PollerReport[];
  backlog: number | undefined;
  /** Age of the oldest task waiting, in seconds. */
  backlogAgeSeconds: number | undefined;
  error?: string;
}

export interface NodeReport {
  url: string;
  up: boolean;
  serverName?: string;
  version?: string;
  cluster?: string;
  jetstream?: boolean;
  error?: string;
}

export interface StreamReport {
  name: string;
  replicas: number;
  messages: number;
  leader: string | undefined;
  /** Peers other than the leader: whether each is current and how far behind (operations). */
  followers: { name: string; current: boolean; lag: number; offline: boolean }[];
  error?: string;
}

export interface ConsumerReport {
  stream: string;
  name: string;
  pending: number;
  ackPending: number;
  redelivered: number;
  waiting: number;
  leader: string | undefined;
  error?: string;
}

export interface ProbeReport {
  name: string;
  target: string;
  ready: boolean;
  status: number | undefined;
  detail: string;
}

export interface FleetReport {
  healthy: boolean;
  problems: string[];
  temporal: { address: string; namespace: string; error?: string; deployments: DeploymentReport[]; taskQueues: TaskQueueReport[] };
  nats: { servers: string[]; nodes: NodeReport[]; streams: StreamReport[]; consumers: ConsumerReport[]; error?: string };
  probes: ProbeReport[];
}

export interface StatusOptions {
  config: Config;
  /** The Temporal connection to ask (sentinel fleet status opens one). */
  connection: Connection;
  /** `[name=]host:port` of processes' ops ports to ask /readyz. */
  probes?: string[];
  /** Per request, in ms; default 3000. */
  timeoutMs?: number;
}

const versionStatusName = (s: number | null | undefined): string => {
  switch (s) {
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT:
      return 'current';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING:
      return 'ramping';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING:
      return 'draining';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED:
      return 'drained';
    case WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_INACTIVE:
      return 'inactive';
    default:
      return 'unknown';
  }
};

const drainageName = (s: number | null | undefined): string | undefined =>
  s === VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINING ? 'draining' : s === VersionDrainageStatus.VERSION_DRAINAGE_STATUS_DRAINED ? 'drained' : undefined;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Sentinel's task queues under this configuration, with the task types polled on each. */
export function sentinelTaskQueues(config: Config): { name: string; type: 'workflow' | 'activity' }[] {
  const main = config.temporal.taskQueue;
  return [
    { name: main, type: 'workflow' },
    { name: main, type: 'activity' },
    { name: slackTaskQueue(main), type: 'activity' },
    { name: slackDeleteTaskQueue(main), type: 'activity' },
    { name: config.kms.taskQueue, type: 'activity' },
    { name: config.credentials.taskQueue, type: 'activity' },
  ];
}

async function deployments(connection: Connection, config: Config): Promise<DeploymentReport[]> {
  const namespace = config.temporal.namespace;
  const names = new Set<string>([config.versioning.deployment]);
  const listed = await connection.workflowService.listWorkerDeployments({ namespace, pageSize: 100 });
  for (const d of listed.workerDeployments ?? []) if (d.name) names.add(d.name);
  const out: DeploymentReport[] = [];
  for (const name of names) {
    try {
      const r = await connection.workflowService.describeWorkerDeployment({ namespace, deploymentName: name });
      const info = r.workerDeploymentInfo;
      const routing = info?.routingConfig;
      const ramping = routing?.rampingDeploymentVersion?.buildId;
      const propagation = routingOf(info);
      out.push({
        name,
        current: routing?.currentDeploymentVersion?.buildId || undefined,
        ramping: ramping ? { buildId: ramping, percentage: routing?.rampingVersionPercentage ?? 0 } : undefined,
        ...(propagation ? { routing: propagation } : {}),
        versions: (info?.versionSummaries ?? []).map((v) => {
          const drainage = drainageName(v.drainageStatus ?? v.drainageInfo?.status);
          return { buildId: v.deploymentVersion?.buildId ?? v.version ?? '?', status: versionStatusName(v.status), ...(drainage ? { drainage } : {}) };
        }),
      });
    } catch (err) {
      // The configured deployment does not exist until a worker has registered with it.
      if ((err as { code?: number }).code === 5) continue;
      throw err;
    }
  }
  return out;
}

function pollerReport(p: proto.temporal.api.taskqueue.v1.IPollerInfo): PollerReport {
  return {
    identity: p.identity ?? '',
    buildId: p.deploymentOptions?.buildId || undefined,
    deployment: p.deploymentOptions?.deploymentName || undefined,
    versioned: p.deploymentOptions?.workerVersioningMode === WorkerVersioningMode.WORKER_VERSIONING_MODE_VERSIONED,
    lastAccess: p.lastAccessTime?.seconds != null ? new Date(Number(p.lastAccessTime.seconds) * 1000).toISOString() : undefined,
  };
}

/**
 * The pollers of every partition of a task queue, one entry per worker and build (its latest poll:
 * one process may run workers of two builds). Temporal
 * splits a task queue into partitions (4 by default) and spreads each worker's polls over them; a
 * queue described by its name alone answers for its root partition only, where a worker whose
 * polls all went elsewhere is missing. A partition that cannot be listed or described leaves the
 * root's pollers as they are.
 */
async function allPollers(connection: Connection, namespace: string, q: { name: string; type: 'workflow' | 'activity' }, root: PollerReport[]): Promise<PollerReport[]> {
  const keyOf = (p: PollerReport) => `${p.identity}\0${p.deployment ?? ''}\0${p.buildId ?? ''}`;
  const byWorker = new Map(root.map((p) => [keyOf(p), p]));
  const parts = await connection.workflowService.listTaskQueuePartitions({ namespace, taskQueue: { name: q.name } }).catch(() => undefined);
  const keys = (q.type === 'workflow' ? parts?.workflowTaskQueuePartitions : parts?.activityTaskQueuePartitions)?.map((p) => p.key ?? '').filter((k) => k && k !== q.name) ?? [];
  const taskQueueType = q.type === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;
  for (const key of keys) {
    const r = await connection.workflowService.describeTaskQueue({ namespace, taskQueue: { name: key }, taskQueueType }).catch(() => undefined);
    for (const p of (r?.pollers ?? []).map(pollerReport)) {
      const seen = byWorker.get(keyOf(p));
      if (!seen || (p.lastAccess ?? '') > (seen.lastAccess ?? '')) byWorker.set(keyOf(p), p);
    }
  }
  return [...byWorker.values()];
}

async function taskQueue(connection: Connection, namespace: string, q: { name: string; type: 'workflow' | 'activity' }): Promise<TaskQueueReport> {
  try {
    const r = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: q.name },
      taskQueueType: q.type === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      reportStats: true,
    });
    const stats = r.stats;
    const age = stats?.approximateBacklogAge;
    return {
      ...q,
      pollers: await allPollers(connection, namespace, q, (r.pollers ?? []).map(pollerReport)),
      backlog: stats?.approximateBacklogCount != null ? Number(stats.approximateBacklogCount) : undefined,
      backlogAgeSeconds: age?.seconds != null ? Number(age.seconds) + (age.nanos ?? 0) / 1e9 : undefined,
    };
  } catch (err) {
    return { ...q, pollers: [], backlog: undefined, backlogAgeSeconds: undefined, error: message(err) };
  }
}

async function node(url: string, timeoutMs: number): Promise<NodeReport> {
  let nc: NatsConnection | undefined;
  try {
    // This node only: no reconnects, no switching to another node the cluster advertises.
    nc = await connect({ servers: url, timeout: timeoutMs, reconnect: false, ignoreClusterUpdates: true });
    const info = nc.info;
    return { url, up: true, serverName: info?.server_name, version: info?.version, ...(info?.cluster ? { cluster: info.cluster } : {}), jetstream: Boolean(info?.jetstream) };
  } catch (err) {
    return { url, up: false, error: message(err) };
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

async function natsState(config: Config, timeoutMs: number): Promise<FleetReport['nats']> {
  const servers = config.nats.servers;
  const nodes = await Promise.all(servers.map((url) => node(url, timeoutMs)));
  const report: FleetReport['nats'] = { servers, nodes, streams: [], consumers: [] };
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({ servers, timeout: timeoutMs, maxReconnectAttempts: 0 });
    const jsm = await nc.jetstreamManager({ timeout: timeoutMs });
    for (const name of [CHAT_STREAM, DEADLETTER_STREAM, AUDIT_STREAM, FACTS_STREAM]) {
      try {
        const si = await jsm.streams.info(name);
        report.streams.push({
          name,
          replicas: si.config.num_replicas || 1,
          messages: si.state.messages,
          leader: si.cluster?.leader,
          followers: (si.cluster?.replicas ?? []).map((r) => ({ name: r.name, current: r.current, lag: r.lag ?? 0, offline: Boolean(r.offline) })),
        });
      } catch (err) {
        report.streams.push({ name, replicas: 0, messages: 0, leader: undefined, followers: [], error: message(err) });
      }
    }
    try {
      const ci = await jsm.consumers.info(CHAT_STREAM, DETECTOR_CONSUMER);
      report.consumers.push({
        stream: CHAT_STREAM,
        name: DETECTOR_CONSUMER,
        pending: ci.num_pending,
        ackPending: ci.num_ack_pending,
        redelivered: ci.num_redelivered,
        waiting: ci.num_waiting,
        leader: ci.cluster?.leader,
      });
    } catch (err) {
      report.consumers.push({ stream: CHAT_STREAM, name: DETECTOR_CONSUMER, pending: 0, ackPending: 0, redelivered: 0, waiting: 0, leader: undefined, error: message(err) });
    }
  } catch (err) {
    report.error = message(err);
  } finally {
    await nc?.close().catch(() => undefined);
  }
  return report;
}

/** `name=host:port` or `host:port` (named by its address). */
export function parseProbe(spec: string): { name: string; target: string } {
  const eq = spec.indexOf('=');
  const name = eq >= 0 ? spec.slice(0, eq) : spec;
  const target = eq >= 0 ? spec.slice(eq + 1) : spec;
  if (!/^[^\s:/]+:\d{1,5}$/.test(target)) throw new Error(`--probe ${JSON.stringify(spec)}: expected [name=]host:port of a process's SENTINEL_HEALTH_PORT`);
  return { name, target };
}

async function probe(spec: string, timeoutMs: number): Promise<ProbeReport> {
  const { name, target } = parseProbe(spec);
  try {
    const res = await fetch(`http://${target}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.text()).trim().split('\n');
    // The first line is ok / not ready; the rest name the checks (failing ones when not ready).
    return { name, target, ready: res.status === 200, status: res.status, detail: res.status === 200 ? `${body.length - 1} checks ok` : body.slice(1).join('; ') || body[0] || '' };
  } catch (err) {
    return { name, target, ready: false, status: undefined, detail: `no answer: ${message(err)}` };
  }
}

/** Gathers the report; `healthy` is false with the reasons in `problems` when anything needs a look. */
export async function fleetStatus(o: StatusOptions): Promise<FleetReport> {
  const { config, connection } = o;
  const timeoutMs = o.timeoutMs ?? 3000;
  const namespace = config.temporal.namespace;
  const problems: string[] = [];
  const t: FleetReport['temporal'] = { address: config.temporal.address, namespace, deployments: [], taskQueues: [] };
  try {
    t.deployments = await deployments(connection, config);
  } catch (err) {
    t.error = `worker deployments: ${message(err)}`;
    problems.push(`Temporal: ${t.error}`);
  }
  t.taskQueues = await Promise.all(sentinelTaskQueues(config).map((q) => taskQueue(connection, namespace, q)));
  const [nats, probes] = await Promise.all([natsState(config, timeoutMs), Promise.all((o.probes ?? []).map((p) => probe(p, timeoutMs)))]);

  for (const q of t.taskQueues) {
    if (q.error) problems.push(`task queue ${q.name} (${q.type}): ${q.error}`);
    else if (q.pollers.length === 0) problems.push(`task queue ${q.name} (${q.type}) has no pollers: no worker serves it`);
  }
  for (const d of t.deployments) {
    if (d.name === config.versioning.deployment && config.versioning.enabled && !d.current) problems.push(`deployment ${d.name} has no current version: run "sentinel fleet promote <buildId>"`);
  }
  for (const n of nats.nodes) if (!n.up) problems.push(`NATS node ${n.url} is down: ${n.error}`);
  if (nats.error) problems.push(`NATS: ${nats.error}`);
  for (const s of nats.streams) {
    if (s.error) {
      problems.push(`stream ${s.name}: ${s.error}`);
      continue;
    }
    if (s.replicas > 1 && !s.leader) problems.push(`stream ${s.name} has no leader`);
    for (const f of s.followers) if (f.offline || !f.current) problems.push(`stream ${s.name}: replica ${f.name} is ${f.offline ? 'offline' : `behind by ${f.lag}`}`);
  }
  for (const c of nats.consumers) if (c.error) problems.push(`consumer ${c.stream}/${c.name}: ${c.error}`);
  for (const p of probes) if (!p.ready) problems.push(`${p.name} (${p.target}) is not ready: ${p.detail}`);
  return { healthy: problems.length === 0, problems, temporal: t, nats, probes };
}

/** The report as an operator reads it: a few aligned tables. */
export function formatFleetReport(r: FleetReport): string {
  const lines: string[] = [];
  const table = (head: string[], rows: string[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
    const line = (cells: string[]) => '  ' + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    lines.push(line(head));
    for (const row of rows) lines.push(line(row));
  };
  lines.push(`Temporal ${r.temporal.address}, namespace ${r.temporal.namespace}`);
  if (r.temporal.deployments.length === 0) lines.push('  no worker deployments (workers register one when they start)');
  for (const d of r.temporal.deployments) {
    const propagating = d.routing === 'propagating' ? ' (routing still reaching its task queues: some new incidents may start on the previous version)' : '';
    lines.push(`\nDeployment ${d.name}: current ${d.current ?? '(none: unversioned workers)'}${d.ramping ? `, ramping ${d.ramping.buildId} at ${d.ramping.percentage}%` : ''}${propagating}`);
    if (d.versions.length) table(['BUILD ID', 'STATUS', 'DRAINAGE'], d.versions.map((v) => [v.buildId, v.status, v.drainage ?? '']));
  }
  lines.push('\nTask queues');
  table(
    ['QUEUE', 'TYPE', 'POLLERS', 'BACKLOG', 'BUILD IDS'],
    r.temporal.taskQueues.map((q) => {
      const builds = [...new Set(q.pollers.map((p) => `${p.buildId ?? 'unversioned'}${p.versioned ? '' : p.buildId ? ' (serves all builds)' : ''}`))];
      return [q.name, q.type, q.error ? 'error' : String(q.pollers.length), q.backlog === undefined ? '?' : `${q.backlog}${q.backlogAgeSeconds ? ` (${q.backlogAgeSeconds.toFixed(0)}s)` : ''}`, q.error ?? (builds.join(', ') || '-')];
    }),
  );
  lines.push(`\nNATS ${r.nats.servers.join(',')}`);
  table(
    ['NODE', 'STATE', 'SERVER', 'CLUSTER', 'VERSION'],
    r.nats.nodes.map((n) => [n.url, n.up ? 'up' : 'DOWN', n.serverName ?? '', n.cluster ?? '-', n.version ?? n.error ?? '']),
  );
  if (r.nats.streams.length) {
    lines.push('');
    table(
      ['STREAM', 'REPLICAS', 'MESSAGES', 'LEADER', 'FOLLOWERS'],
      r.nats.streams.map((s) => [
        s.name,
        s.error ? '-' : String(s.replicas),
        s.error ? '-' : String(s.messages),
        s.leader ?? '-',
        s.error ?? (s.followers.map((f) => `${f.name}${f.offline ? ' offline' : f.current ? ' current' : ` lag ${f.lag}`}`).join(', ') || '-'),
      ]),
    );
  }
  if (r.nats.consumers.length) {
    lines.push('');
    table(
      ['CONSUMER', 'PENDING', 'ACK PENDING', 'REDELIVERED', 'LEADER'],
      r.nats.consumers.map((c) => [`${c.stream}/${c.name}`, c.error ? '-' : String(c.pending), c.error ? '-' : String(c.ackPending), c.error ? '-' : String(c.redelivered), c.error ?? c.leader ?? '-']),
    );
  }
  if (r.probes.length) {
    lines.push('\nProcesses');
    table(['NAME', 'ADDRESS', 'READY', 'DETAIL'], r.probes.map((p) => [p.name, p.target, p.ready ? 'ready' : 'NOT READY', p.detail]));
  }
  lines.push('');
  lines.push(r.healthy ? 'fleet healthy' : `fleet NOT healthy:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`);
  return lines.join('\n');
}
