/**
 * Sentinel in one process: workers (remediation, Slack, KMS), a detector publishing facts and a
 * correlator matching the stateful rules over them, sharing connections. The demo and the
 * end-to-end tests run it this way; production runs each part as its own process.
 */
import type { Client } from '@temporalio/client';
import type { Worker, WorkerOptions } from '@temporalio/worker';
import type { NatsConnection } from 'nats';
import type { Config } from './config';
import { emptyStatefulSet } from './correlate/model';
import { Correlator } from './correlator/correlator';
import { Detector, type DetectorOptions } from './detector/detector';
import type { CompiledRules } from './engine/engine';
import type { Logger } from './log';
import { connectNats } from './nats/connect';
import { ensureChatStreams, ensureFactsStream } from './nats/streams';
import { fingerprinterFrom } from './crypto/fingerprint';
import { connectClient } from './temporal/client';
import { connectWorker } from './temporal/worker-connection';
import { codecFrom } from './temporal/data-converter';
import { createCredentialWorker, createKmsWorker } from './worker/kms-workers';
import { createRemediationWorkers } from './worker/worker';

export interface PipelineOptions {
  config: Config;
  rules: () => CompiledRules;
  log: Logger;
  /** Runs before the detector starts consuming (tests reset streams here). */
  beforeDetect?: (nc: NatsConnection) => Promise<void>;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Told about every incident start, the detector's and the correlator's (stateful rules) alike. */
  onIncident?: DetectorOptions['onIncident'];
}

export interface Pipeline {
  nc: NatsConnection;
  client: Client;
  workers: Worker[];
  detector: Detector;
  /** Owns every FACTS partition: the stateful rules of `rules().stateful`. */
  correlator: Correlator;
  /** Stops the detector and the correlator, then the workers, then the connections. */
  stop(): Promise<void>;
}

export async function startPipeline(o: PipelineOptions): Promise<Pipeline> {
  const { config } = o;
  // Configuration problems first, before anything connects.
  const codec = codecFrom(config);
  const fingerprint = fingerprinterFrom(config);
  const nc = await connectNats(config.nats, 'sentinel');
  await o.beforeDetect?.(nc);
  await ensureChatStreams(await nc.jetstreamManager());
  await ensureFactsStream(await nc.jetstreamManager());
  const client = await connectClient(config.temporal, codec);
  const detector = new Detector({
    nc,
    temporal: client,
    taskQueue: config.temporal.taskQueue,
    rules: o.rules,
    fingerprint,
    log: o.log,
    concurrency: config.detector.concurrency,
    decodeDepth: config.detector.decodeDepth,
    ...(o.onIncident ? { onIncident: o.onIncident } : {}),
    skipPreflight: true,
    facts: { partitions: config.stateful.partitions, kmsChannels: new Set(Object.keys(config.kms.channelKeys)) },
  });
  const correlator = new Correlator({
    nc,
    temporal: client,
    taskQueue: config.temporal.taskQueue,
    rules: () => o.rules().stateful ?? emptyStatefulSet,
    log: o.log,
    partitions: config.stateful.partitions,
    latenessMs: config.stateful.latenessMs,
    ...(o.onIncident ? { onIncident: o.onIncident } : {}),
  });
  // Before any worker polls: a namespace incidents cannot start in is a setup error, not a run-time one.
  await detector.preflight();
  const connection = await connectWorker(config.temporal);
  const workers = [
    ...(await createRemediationWorkers({ connection, config, nc, client, codec, ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : {}) })),
    await createKmsWorker(connection, config, codec),
    await createCredentialWorker(connection, config, codec),
  ];
  const workerRuns = workers.map((w) => w.run());
  const detectorRun = detector.run();
  const correlatorRun = correlator.run();
  return {
    nc,
    client,
    workers,
    detector,
    correlator,
    async stop() {
      await Promise.all([detector.stop(), correlator.stop()]);
      await Promise.all([detectorRun, correlatorRun]);
      for (const w of workers) w.shutdown();
      await Promise.all(workerRuns);
      await connection.close();
      await client.connection.close();
      await nc.drain();
    },
  };
}
