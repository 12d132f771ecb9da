/** `npm run worker`: one remediation worker. Run as many as the load needs. */
import { loadConfig } from '../config';
import { createLogger } from '../log';
import { runMain } from '../main';
import { connectWorker } from '../temporal/client';
import { createRemediationWorker } from './worker';

await runMain('worker', async () => {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, fields: { component: 'worker' } });
  const connection = await connectWorker(config.temporal);
  const worker = await createRemediationWorker({ connection, config });
  log.info('worker running', { taskQueue: config.temporal.taskQueue, temporal: config.temporal.address });
  // The SDK's runtime shuts the worker down on SIGINT/SIGTERM; run() resolves once it has drained.
  await worker.run();
  await connection.close();
  log.info('worker stopped');
});
