/** `npm run correlator`: one correlator process, owning SENTINEL_CORRELATOR_PARTITIONS of FACTS (default all). */
import { loadConfig } from '../config';
import { codecFrom } from '../temporal/data-converter';
import { formatProblem } from '../engine/load';
import { RuleWatcher } from '../engine/watch';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { connectNats } from '../nats/connect';
import { ensureFactsStream } from '../nats/streams';
import { watchCorrelator } from '../ops/correlator-metrics';
import { startOps } from '../ops/health';
import { connectClient } from '../temporal/client';
import { Correlator } from './correlator';

await runMain('correlator', async () => {
  const config = loadConfig();
  const codec = codecFrom(config);
  const log = createLogger({ level: config.logLevel, fields: { component: 'correlator' } });
  const watcher = new RuleWatcher(config.rulesDir, (report, rules) => {
    for (const p of report.problems) log.error('rule file problem', { problem: formatProblem(p) });
    if (report.changed) log.info('rules loaded', { stateful: rules.stateful.active.length });
  });
  if (watcher.current().stateful.active.length === 0) log.warn('no enabled stateful rules: the correlator will match nothing until some are added', { rulesDir: config.rulesDir });
  watcher.start();
  const nc = await connectNats(config.nats, 'sentinel-correlator');
  await ensureFactsStream(await nc.jetstreamManager());
  const temporal = await connectClient(config.temporal, codec);
  const correlator = new Correlator({
    nc,
    temporal,
    taskQueue: config.temporal.taskQueue,
    rules: () => watcher.current().stateful,
    log,
    partitions: config.stateful.partitions,
    latenessMs: config.stateful.latenessMs,
    ...(config.stateful.ownedPartitions ? { owned: config.stateful.ownedPartitions } : {}),
  });
  const ops = await startOps(config.healthPort, { component: 'correlator', log });
  if (ops) watchCorrelator(ops, correlator, nc);
  onShutdown(async (signal) => {
    ops?.drain(`${signal} received`);
    log.info('stopping', { signal });
    watcher.close();
    await correlator.stop();
  });
  void nc.closed().then((err) => log.info('NATS connection closed', err ? { error: err } : {}));
  log.info('correlator started', { stateful: watcher.current().stateful.active.length, partitions: config.stateful.partitions, owned: config.stateful.ownedPartitions ?? 'all' });
  await correlator.run();
  await nc.drain();
  await temporal.connection.close();
  await ops?.stop();
  log.info('correlator stopped', { ...correlator.stats });
});
