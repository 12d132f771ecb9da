/**
 * Worker Versioning with Temporal Worker Deployments (https://docs.temporal.io/worker-versioning).
 *
 * Every worker registers a deployment version: the deployment name (SENTINEL_DEPLOYMENT) and a build
 * id (SENTINEL_BUILD_ID, else derived from the workflow code). With SENTINEL_WORKER_VERSIONING=on the
 * server routes by it: an incident is PINNED, it finishes on the build that started it however long
 * it waits for an approval; the offender entity is AUTO_UPGRADE (workflows/offender.ts), it moves to
 * the current version at its next workflow task and continues-as-new there. New workflows go to the
 * deployment's current version, which an operator sets with `sentinel fleet promote <buildId>`.
 * With versioning off, workers register no version.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { workflowInputsDigest } from '../../bin/dist-state.js';
import type { Config } from '../config';
import type { Logger } from '../log';
import { projectRoot } from '../paths';

/** The workers' default: incidents stay on their build. The offender entity overrides it (AUTO_UPGRADE). */
export const DEFAULT_VERSIONING_BEHAVIOR = 'PINNED' as const;

/**
 * The build id when SENTINEL_BUILD_ID is not set: `sentinel-<package version>-<12 hex>`, the hex from
 * the digest of the workflow code's inputs (workflows/, contract/, the @temporalio packages: the same
 * digest `npm run build` records for the prebuilt bundle). Two checkouts that would run the same
 * workflow code get the same id; any change that could alter a history gets a new one.
 */
export function defaultBuildId(root: string = projectRoot): string {
  const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version.replace(/[^A-Za-z0-9_-]/g, '_');
  const digest = (workflowInputsDigest(root) as string | undefined) ?? 'unknown';
  return `sentinel-${version}-${digest.slice(0, 12)}`;
}

/** The build id this process registers with. */
export function buildIdOf(config: Config): string {
  return config.versioning.buildId ?? defaultBuildId();
}

/**
 * Worker options for a worker of this process. `routed`: whether the worker takes part in version
 * routing when versioning is on (the remediation workers do; the KMS and credential workers run
 * activities only, on queues of their own, and stay unversioned so they serve every build's incidents).
 */
export function deploymentOptions(config: Config, routed = true): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  // Unversioned workers register no version at all: the server refuses a workflow task that states
  // a versioning behavior (the offender's AUTO_UPGRADE) from a worker with a version but versioning
  // off, and the offender can only tell versioned workers by their version (workflows/offender.ts).
  if (!(config.versioning.enabled && routed)) return {};
  const version = { deploymentName: config.versioning.deployment, buildId: buildIdOf(config) };
  return { workerDeploymentOptions: { version, useWorkerVersioning: true, defaultVersioningBehavior: DEFAULT_VERSIONING_BEHAVIOR } };
}

type WorkflowService = Connection['workflowService'] | NativeConnection['workflowService'];

/** The deployment's current build id: undefined when none is set (new workflows go to unversioned workers). */
export async function currentBuildId(service: WorkflowService, namespace: string, deploymentName: string): Promise<string | undefined> {
  try {
    const r = await service.describeWorkerDeployment({ namespace, deploymentName });
    return r.workerDeploymentInfo?.routingConfig?.currentDeploymentVersion?.buildId || undefined;
  } catch (err) {
    if ((err as { code?: number }).code === 5) return undefined; // NOT_FOUND: no worker has registered yet
    throw err;
  }
}

/**
 * Makes `buildId` the deployment's current version: new incidents start on it, pinned ones stay
 * where they are. The server refuses while the version's workers have not polled every task queue
 * the deployment has seen (a half-started fleet); `force` skips that check. Retries for `waitMs`
 * while the version is not known yet (its workers are starting).
 * API: SetWorkerDeploymentCurrentVersion (https://docs.temporal.io/production-deployment/worker-deployments/worker-versioning).
 */
export async function promote(
  service: WorkflowService,
  o: { namespace: string; deploymentName: string; buildId: string; identity?: string; force?: boolean; waitMs?: number },
): Promise<{ previous: string | undefined }> {
  const deadline = Date.now() + (o.waitMs ?? 0);
  for (;;) {
    try {
      const r = await service.setWorkerDeploymentCurrentVersion({
        namespace: o.namespace,
        deploymentName: o.deploymentName,
        buildId: o.buildId,
        identity: o.identity ?? 'sentinel fleet promote',
        ignoreMissingTaskQueues: o.force ?? false,
      });
      return { previous: r.previousDeploymentVersion?.buildId || undefined };
    } catch (err) {
      if (Date.now() >= deadline) throw new VersioningError(`could not make build ${o.buildId} current in deployment ${o.deploymentName}: ${(err as Error).message}`, { cause: err });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

const { RoutingConfigUpdateState } = proto.temporal.api.enums.v1;

/** How long `sentinel fleet promote` waits, by default, for the new routing to reach every task queue. */
export const ROUTING_WAIT_MS = 30_000;

/** Where a promotion's routing stands: on every task queue, still on its way after the wait, or not reported by the server. */
export type RoutingState = 'propagated' | 'pending' | 'unreported';

/**
 * Whether a deployment's routing (current and ramping version) has reached every one of its task
 * queues and their partitions, as DescribeWorkerDeployment reports it; undefined when the server
 * does not say (servers before the field).
 */
export function routingOf(info: { routingConfigUpdateState?: number | null } | null | undefined): 'propagating' | 'propagated' | undefined {
  const state = info?.routingConfigUpdateState;
  if (state === RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_IN_PROGRESS) return 'propagating';
  if (state === RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED) return 'propagated';
  return undefined;
}

/**
 * Waits until the deployment's routing (its current version) has reached every task queue of the
 * deployment and their partitions. Until then a task queue may still hand new workflows to the
 * version that was current before. `pending` when it has not within `timeoutMs`; `unreported` when
 * the server does not say (servers before the field). `onWait` hears, about once a second, how long
 * it has waited so far.
 * API: WorkerDeploymentInfo.routing_config_update_state
 * (https://github.com/temporalio/api/blob/master/temporal/api/deployment/v1/message.proto).
 */
export async function awaitRouting(
  service: WorkflowService,
  o: { namespace: string; deploymentName: string; buildId: string; timeoutMs?: number; onWait?: (waitedMs: number) => void },
): Promise<RoutingState> {
  const started = Date.now();
  const deadline = started + (o.timeoutMs ?? ROUTING_WAIT_MS);
  let told = started;
  for (;;) {
    const info = (await service.describeWorkerDeployment({ namespace: o.namespace, deploymentName: o.deploymentName })).workerDeploymentInfo;
    const routing = routingOf(info);
    if (routing === undefined) return 'unreported';
    const current = info?.routingConfig?.currentDeploymentVersion?.buildId;
    if (current !== o.buildId) throw new VersioningError(`deployment ${o.deploymentName}: current version is now ${current || '(none)'}, not ${o.buildId} (promoted again meanwhile?)`);
    if (routing === 'propagated') return 'propagated';
    const now = Date.now();
    if (now >= deadline) return 'pending';
    if (now - told >= 1000) {
      told = now;
      o.onWait?.(now - started);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A versioning call the server refused; the message says which deployment and build. */
export class VersioningError extends Error {
  override name = 'VersioningError';
}

/**
 * A fleet's first start: when the deployment has no current version yet, this worker's becomes
 * current, or no incident would ever be routed to a versioned worker. Later builds are promoted by
 * an operator. Runs in the background after the workers start polling (the version exists only then).
 */
export async function bootstrapCurrentVersion(connection: { workflowService: WorkflowService }, config: Config, log: Logger): Promise<void> {
  if (!config.versioning.enabled) return;
  const namespace = config.temporal.namespace;
  const deploymentName = config.versioning.deployment;
  const buildId = buildIdOf(config);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const current = await currentBuildId(connection.workflowService, namespace, deploymentName);
      if (current) {
        if (current !== buildId) log.info('worker deployment has another current version; this build serves pinned incidents until promoted', { deployment: deploymentName, current, buildId });
        return;
      }
      await promote(connection.workflowService, { namespace, deploymentName, buildId, identity: 'sentinel worker (first version)' });
      log.info('made this build the current version of a new worker deployment', { deployment: deploymentName, buildId });
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        log.error('could not set the first current version; run "sentinel fleet promote <buildId>"', { deployment: deploymentName, buildId, error: err });
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
