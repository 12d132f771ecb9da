/** `npm run worker:kms`: one KMS worker, the only Sentinel process with KMS credentials. */
import { loadConfig } from '../config';
import { createLogger } from '../log';
import { runMain } from '../main';
import { connectWorker } from '../temporal/client';
import { codecFrom } from '../temporal/data-converter';
import { createKmsWorker } from './worker';

await runMain('kms-worker', async () => {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, fields: { component: 'kms-worker' } });
  const codec = codecFrom(config);
  const connection = await connectWorker(config.temporal);
  const worker = await createKmsWorker(connection, config, codec);
  log.info('KMS worker running', { taskQueue: config.kms.taskQueue, region: config.kms.region, endpoint: config.kms.endpoint ?? 'AWS' });
  await worker.run();
  await connection.close();
  log.info('KMS worker stopped');
});
