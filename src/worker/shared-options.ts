/** What every Sentinel worker is created with, whatever it runs (worker.ts, kms-workers.ts). */
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import type { Config } from '../config';
import { deploymentOptions } from './versioning';

/**
 * On SIGTERM a worker stops polling and gives the activities it is running this long to finish
 * before cancelling them (they are retried elsewhere). Orchestrators' grace periods must be longer.
 */
export const SHUTDOWN_GRACE = '20s';

/**
 * The connection, the namespace, the codec, the drain time, and the deployment version (`routed`:
 * whether it takes part in version routing, see deploymentOptions).
 */
export function sharedOptions(connection: NativeConnection, config: Config, dataConverter: WorkerOptions['dataConverter'], routed: boolean) {
  return {
    connection,
    dataConverter,
    namespace: config.temporal.namespace,
    shutdownGraceTime: SHUTDOWN_GRACE,
    ...deploymentOptions(config, routed),
  };
}
