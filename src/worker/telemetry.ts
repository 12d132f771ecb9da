/**
 * The Temporal SDK's own metrics (poll and task latencies, schedule-to-start, slots, sticky cache…)
 * through the Core runtime's Prometheus exporter, on SENTINEL_SDK_METRICS_PORT, next to the process's
 * own /metrics. Every series carries the build id and deployment, so a dashboard can compare two
 * versions while they run side by side. RuntimeOptions.telemetryOptions: https://typescript.temporal.io/api/interfaces/worker.RuntimeOptions
 */
import { Runtime } from '@temporalio/worker';
import type { Config } from '../config';
import { buildIdOf } from './versioning';

/**
 * Installs the SDK runtime with the exporter when SENTINEL_SDK_METRICS_PORT is set (before any
 * connection: the runtime is process-wide and made once). Without it the runtime keeps its defaults.
 * Returns the address it serves on, or undefined.
 */
export function installSdkTelemetry(config: Config, component: string): string | undefined {
  if (config.sdkMetricsPort === undefined) return undefined;
  const bindAddress = `0.0.0.0:${config.sdkMetricsPort}`;
  Runtime.install({
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress },
        globalTags: { component, build_id: buildIdOf(config), deployment: config.versioning.deployment },
      },
    },
  });
  return bindAddress;
}
