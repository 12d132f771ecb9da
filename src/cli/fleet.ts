/**
 * `sentinel fleet …`: the worker fleet as an operator sees it.
 *
 *   status [--json] [--probe [name=]host:port,…]   deployments, pollers, backlog, consumer lag, NATS, readiness
 *   promote <buildId> [--deployment NAME] [--force] [--wait SECONDS]
 *                                                     make a build the current version (new incidents go there)
 *   up | down                                         a small local fleet on this machine (fleet-local.ts)
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { connectTemporal } from '../temporal/client';
import { awaitRouting, currentBuildId, promote, ROUTING_WAIT_MS, VersioningError } from '../worker/versioning';
import { fleetStatus, formatFleetReport } from './fleet-status';

const usage = `usage: sentinel fleet <command>

  status [--json] [--probe [name=]host:port,...]
                       worker deployments and versions, task-queue pollers (with build ids) and
                       backlog, the detectors' consumer lag, the NATS cluster, and each process's
                       /readyz (its SENTINEL_HEALTH_PORT); exit 1 when anything needs a look.
                       With a local fleet up (npm run fleet -- up) and no TEMPORAL_ADDRESS/NATS_URL
                       set, it reports on that fleet and probes all of its processes.
  promote <buildId> [--deployment NAME] [--force] [--wait SECONDS]
                       make <buildId> the current version of the worker deployment (SENTINEL_DEPLOYMENT):
                       new incidents start there; running ones finish on the build that started them.
                       Then waits (--wait, default ${ROUTING_WAIT_MS / 1000} s) until the new routing has reached every
                       task queue; exit 1 if it has not by then (promote again to wait more).
                       --force: even if that build's workers do not poll every task queue yet
  up | down            start or stop a local fleet: dev Temporal, 3-node NATS, 2 detectors,
                       2 workers, a KMS worker and the bridge (npm run fleet -- up)`;

export async function fleetCommand(sub: string | undefined, args: string[]): Promise<number> {
  switch (sub) {
    case 'status':
      return status(args);
    case 'promote':
      return promoteCommand(args);
    case 'up':
    case 'down': {
      if (args.length) break;
      const local = await import('./fleet-local');
      return sub === 'up' ? local.fleetUp() : local.fleetDown();
    }
  }
  process.stderr.write(usage + '\n');
  return 2;
}

async function status(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { json: { type: 'boolean' }, probe: { type: 'string', multiple: true } }, allowPositionals: true });
  if (positionals.length) {
    process.stderr.write(usage + '\n');
    return 2;
  }
  let env: NodeJS.ProcessEnv = process.env;
  let probes = (values.probe ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
  if (!process.env.TEMPORAL_ADDRESS && !process.env.NATS_URL) {
    const { localFleet } = await import('./fleet-local');
    const local = localFleet();
    if (local) {
      env = { ...process.env, ...local.env };
      if (probes.length === 0) probes = local.probes;
    }
  }
  const config = loadConfig(env);
  const connection = await connectTemporal(config.temporal);
  try {
    const report = await fleetStatus({ config, connection, probes });
    process.stdout.write((values.json ? JSON.stringify(report, null, 2) : formatFleetReport(report)) + '\n');
    return report.healthy ? 0 : 1;
  } finally {
    await connection.close();
  }
}

async function promoteCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, options: { deployment: { type: 'string' }, force: { type: 'boolean' }, wait: { type: 'string' } }, allowPositionals: true });
  if (positionals.length !== 1) {
    process.stderr.write(usage + '\n');
    return 2;
  }
  const waitSeconds = values.wait === undefined ? ROUTING_WAIT_MS / 1000 : Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0 || values.wait?.trim() === '') {
    process.stderr.write(`fleet promote: --wait takes a number of seconds (0 or more), not ${JSON.stringify(values.wait)}\n`);
    return 2;
  }
  const buildId = positionals[0]!;
  const config = loadConfig();
  const deploymentName = values.deployment ?? config.versioning.deployment;
  const connection = await connectTemporal(config.temporal);
  try {
    const namespace = config.temporal.namespace;
    const before = await currentBuildId(connection.workflowService, namespace, deploymentName);
    if (before === buildId) {
      process.stdout.write(`${buildId} is already the current version of deployment ${deploymentName}.\n`);
    } else {
      await promote(connection.workflowService, { namespace, deploymentName, buildId, force: values.force ?? false });
      process.stdout.write(`deployment ${deploymentName}: current version ${before ?? '(none)'} -> ${buildId}.\n`);
    }
    // The new routing reaches the deployment's task queues (and their partitions) a little later:
    // until it has, a task queue may still give a new incident to the version current before.
    const started = Date.now();
    const routing = await awaitRouting(connection.workflowService, {
      namespace,
      deploymentName,
      buildId,
      timeoutMs: waitSeconds * 1000,
      onWait: (ms) => process.stderr.write(`waiting for the routing to reach every task queue (${Math.round(ms / 1000)} s)…\n`),
    });
    const took = ((Date.now() - started) / 1000).toFixed(1);
    if (routing === 'pending') {
      process.stderr.write(
        `the routing has not reached every task queue after ${took} s: until it has, some new incidents may still start on the version current before. ` +
          `Run "sentinel fleet promote ${buildId}" again to wait for it.\n`,
      );
      return 1;
    }
    const reached = routing === 'propagated' ? `The routing reached every task queue in ${took} s.` : 'The server does not report when the routing has reached every task queue.';
    process.stdout.write(
      `${reached} New incidents start on ${buildId}; incidents already running stay on their build: ` +
        `keep its workers until "sentinel fleet status" shows it drained.\n`,
    );
    return 0;
  } catch (err) {
    if (!(err instanceof VersioningError)) throw err;
    process.stderr.write(`fleet promote: ${err.message}\n`);
    return 1;
  } finally {
    await connection.close();
  }
}
