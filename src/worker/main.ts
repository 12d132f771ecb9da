/** `npm run worker`: one remediation worker (workflows, Sentinel's activities, the Slack queue). */
import { loadConfig } from '../config';
import { createLogger } from '../log';
import { runMain } from '../main';
import { connectNats } from '../nats/connect';
import { connectClient, connectWorker } from '../temporal/client';
import { codecFrom } from '../temporal/data-converter';
import { runTogether } from './run-together';
import { createRemediationWorkers } from './worker';

await runMain('worker', async () => {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, fields: { component: 'worker' } });
  const codec = codecFrom(config);
  const connection = await connectWorker(config.temporal);
  const client = await connectClient(config.temporal, codec);
  const nc = await connectNats(config.nats, 'sentinel-worker');
  const workers = await createRemediationWorkers({ connection, config, nc, client, codec });
  log.info('worker running', { taskQueue: config.temporal.taskQueue, temporal: config.temporal.address, codecKey: codec.activeKeyId });
  // The SDK's runtime shuts the workers down on SIGINT/SIGTERM; run() resolves once they have drained.
  // If one of them stops or fails on its own, the other is stopped too and the process exits non-zero.
  await runTogether(workers, (taskQueue, error) => (error ? log.error('worker failed; stopping the others', { taskQueue, error }) : log.info('worker stopped', { taskQueue })));
  await nc.drain();
  await client.connection.close();
  await connection.close();
  log.info('worker stopped');
});
