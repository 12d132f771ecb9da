/**
 * `npm run worker:kms`: the KMS worker and the credential worker, the only Sentinel process with
 * AWS credentials (KMS, and IAM/STS to verify and disable leaked access keys). They stop together.
 */
import { loadConfig } from '../config';
import { createLogger } from '../log';
import { runMain } from '../main';
import { connectWorker } from '../temporal/worker-connection';
import { codecFrom } from '../temporal/data-converter';
import { startOps } from '../ops/health';
import { runTogether } from './run-together';
import { installSdkTelemetry } from './telemetry';
import { buildIdOf } from './versioning';
import { createCredentialWorker, createKmsWorker } from './kms-workers';

await runMain('kms-worker', async () => {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, fields: { component: 'kms-worker' } });
  const sdkMetrics = installSdkTelemetry(config, 'kms-worker');
  const codec = codecFrom(config);
  const connection = await connectWorker(config.temporal);
  const kms = await createKmsWorker(connection, config, codec);
  const credentials = await createCredentialWorker(connection, config, codec);
  const ops = await startOps(config.healthPort, { component: 'kms-worker', log });
  if (ops) {
    for (const w of [kms, credentials]) ops.ready(`poller ${w.options.taskQueue}`, () => w.getState() === 'RUNNING' || w.getState().toLowerCase());
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => ops.drain(`${signal} received`));
  }
  log.info('KMS worker running', { taskQueue: config.kms.taskQueue, region: config.kms.region, endpoint: config.kms.endpoint ?? 'AWS', buildId: buildIdOf(config), ...(sdkMetrics ? { sdkMetrics } : {}) });
  log.info('credential worker running', { taskQueue: config.credentials.taskQueue, iam: config.credentials.iamEndpoint ?? 'AWS', github: config.credentials.githubApiUrl });
  await runTogether([kms, credentials], (taskQueue, error) => (error ? log.error('worker stopped', { taskQueue, error }) : log.info('worker stopped', { taskQueue })));
  await connection.close();
  await ops?.stop();
  log.info('KMS worker stopped');
});
