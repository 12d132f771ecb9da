/** `npm run detector`: one detector process; any number share the durable consumer. */
import { loadConfig, ConfigError } from '../config';
import { formatProblem, loadRules } from '../engine/load';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { connectNats } from '../nats/connect';
import { ensureChatStreams } from '../nats/streams';
import { connectClient } from '../temporal/client';
import { Detector } from './detector';

await runMain('detector', async () => {
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel, fields: { component: 'detector' } });
  const rules = loadRules(config.rulesDir);
  for (const p of rules.problems) log.error('rule file problem; rule skipped', { problem: formatProblem(p) });
  if (rules.rules.length === 0) throw new ConfigError(`no usable rules in SENTINEL_RULES_DIR=${config.rulesDir}`);
  const nc = await connectNats(config.nats, 'sentinel-detector');
  await ensureChatStreams(await nc.jetstreamManager());
  const temporal = await connectClient(config.temporal);
  const detector = new Detector({ nc, temporal, taskQueue: config.temporal.taskQueue, rules: () => rules, log, concurrency: config.detector.concurrency });
  onShutdown(async (signal) => {
    log.info('stopping', { signal });
    await detector.stop();
  });
  void nc.closed().then((err) => log.info('NATS connection closed', err ? { error: err } : {}));
  log.info('detector started', { rules: rules.rules.length, nats: config.nats.servers, temporal: config.temporal.address });
  await detector.run();
  await nc.drain();
  await temporal.connection.close();
  log.info('detector stopped', { ...detector.stats });
});
