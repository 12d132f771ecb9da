/** `npm run detector`: one detector process; any number share the durable consumer. */
import { setFlagsFromString } from 'node:v8';
import { loadConfig, ConfigError } from '../config';
import { fingerprinterFrom } from '../crypto/fingerprint';
import { formatProblem } from '../engine/load';
import { RuleWatcher } from '../engine/watch';
import { createLogger } from '../log';
import { onShutdown, runMain } from '../main';
import { connectNats } from '../nats/connect';
import { ensureChatStreams, ensureFactsStream } from '../nats/streams';
import { connectClient } from '../temporal/client';
import { codecFrom } from '../temporal/data-converter';
import { watchDetector } from '../ops/detector-metrics';
import { startOps } from '../ops/health';
import { Detector } from './detector';

/**
 * A smaller old generation between full collections: V8 collects once the heap has grown by 20%
 * since the last one, rather than letting it (and the buffers its garbage holds) grow to about
 * twice that first. The detector's live heap is small (about 35 MB), and with leaks flowing the
 * garbage was the difference between a 180 MB and a 250 MB peak in `npm run bench:pipeline`.
 *
 * Set first thing, before the rules and the clients load. It used to be set once started, to spare
 * start-up the extra collections, but that left the limit wherever start-up had put it: with its
 * packages bundled in, the detector then peaked at 240-248 MB with 1% leaks. Set first, its
 * start-up took the same CPU within the noise (nine starts each way: 0.63-0.84 s with the setting
 * from the start, 0.59-0.88 s without it). A `--heap-growing-percent` given to node itself wins.
 */
const HEAP_GROWING_PERCENT = 20;
if (!process.execArgv.some((a) => a.startsWith('--heap-growing-percent'))) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);

await runMain('detector', async () => {
  const config = loadConfig();
  const codec = codecFrom(config);
  const fingerprint = fingerprinterFrom(config);
  const log = createLogger({ level: config.logLevel, fields: { component: 'detector' } });
  const watcher = new RuleWatcher(config.rulesDir, (report, rules) => {
    for (const p of report.problems) log.error('rule file problem', { problem: formatProblem(p) });
    if (report.kept.length) log.warn('kept the last good version of changed rule files', { files: report.kept });
    if (report.changed) log.info('rules loaded', { active: rules.active.length, files: rules.files.length });
  });
  if (watcher.current().active.length === 0) throw new ConfigError(`no usable rules in SENTINEL_RULES_DIR=${config.rulesDir}`);
  watcher.start();
  const nc = await connectNats(config.nats, 'sentinel-detector');
  await ensureChatStreams(await nc.jetstreamManager());
  await ensureFactsStream(await nc.jetstreamManager());
  const temporal = await connectClient(config.temporal, codec);
  const detector = new Detector({ nc, temporal, taskQueue: config.temporal.taskQueue, rules: () => watcher.current(), fingerprint, log, concurrency: config.detector.concurrency, decodeDepth: config.detector.decodeDepth, facts: { partitions: config.stateful.partitions, kmsChannels: new Set(Object.keys(config.kms.channelKeys)) }, quarantineRetentionMs: config.remediation.quarantineRetentionMs });
  const ops = await startOps(config.healthPort, { component: 'detector', log });
  if (ops) {
    watchDetector(ops, detector, nc);
    ops.ready('rules', () => watcher.current().active.length > 0 || 'no usable rules');
  }
  onShutdown(async (signal) => {
    // Not ready from the first signal: in-flight events finish and are acked, held ones go back.
    ops?.drain(`${signal} received`);
    log.info('stopping', { signal });
    watcher.close();
    await detector.stop();
  });
  void nc.closed().then((err) => log.info('NATS connection closed', err ? { error: err } : {}));
  log.info('detector started', { rules: watcher.current().active.length, nats: config.nats.servers, temporal: config.temporal.address });
  try {
    await detector.run();
  } catch (err) {
    // A namespace without Sentinel's search attributes, or none at all: say so in the log too, then exit.
    log.error('detector cannot run', { error: err instanceof Error ? err.message : String(err) });
    watcher.close();
    await nc.close();
    await temporal.connection.close();
    throw err;
  }
  await nc.drain();
  await temporal.connection.close();
  await ops?.stop();
  log.info('detector stopped', { ...detector.stats });
});
