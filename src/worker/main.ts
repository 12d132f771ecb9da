/** `npm run worker`: one remediation worker (workflows, Sentinel's activities, the Slack queue). */
import { loadConfig } from '../config';
import { createLogger } from '../log';
import { runMain } from '../main';
import { connectNats } from '../nats/connect';
import { connectClient } from '../temporal/client';
import { connectWorker } from '../temporal/worker-connection';
import { codecFrom } from '../temporal/data-converter';
import { startOps } from '../ops/health';
import { runTogether } from './run-together';
import { installSdkTelemetry } from './telemetry';
import { bootstrapCurrentVersion, buildIdOf } from './versioning';
import { createRemediationWorkers } from './worker';

await runMain('worker', async () => {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, fields: { component: 'worker' } });
  // Before the first connection: the SDK's runtime (and its Prometheus exporter) is made once per process.
  const sdkMetrics = installSdkTelemetry(config, 'worker');
  const codec = codecFrom(config);
  const connection = await connectWorker(config.temporal);
  const client = await connectClient(config.temporal, codec);
  const nc = await connectNats(config.nats, 'sentinel-worker');
  const workers = await createRemediationWorkers({ connection, config, nc, client, codec });
  const ops = await startOps(config.healthPort, { component: 'worker', log });
  if (ops) {
    // Ready while every worker polls; not ready from the first signal while they drain.
    for (const w of workers) ops.ready(`poller ${w.options.taskQueue}`, () => w.getState() === 'RUNNING' || w.getState().toLowerCase());
    ops.ready('nats', () => (nc.isClosed() ? 'connection closed' : true));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => ops.drain(`${signal} received`));
  }
  log.info('worker running', {
    taskQueue: config.temporal.taskQueue,
    temporal: config.temporal.address,
    codecKey: codec.activeKeyId,
    deployment: config.versioning.deployment,
    buildId: buildIdOf(config),
    versioning: config.versioning.enabled ? 'on' : 'off',
    ...(sdkMetrics ? { sdkMetrics } : {}),
  });
  // A new deployment gets this build as its first current version once the workers poll (versioning on).
  void bootstrapCurrentVersion(connection, config, log);
  // The SDK's runtime shuts the workers down on SIGINT/SIGTERM; run() resolves once they have drained.
  // If one of them stops or fails on its own, the other is stopped too and the process exits non-zero.
  await runTogether(workers, (taskQueue, error) => (error ? log.error('worker failed; stopping the others', { taskQueue, error }) : log.info('worker stopped', { taskQueue })));
  await nc.drain();
  await client.connection.close();
  await connection.close();
  await ops?.stop();
  log.info('worker stopped');
});
