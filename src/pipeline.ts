/**
 * Sentinel in one process: workers (remediation, Slack, KMS) and a detector sharing connections.
 * The demo and the end-to-end tests run it this way; production runs each part as its own process.
 */
import type { Client } from '@temporalio/client';
import type { Worker, WorkerOptions } from '@temporalio/worker';
import type { NatsConnection } from 'nats';
import type { Config } from './config';
import { Detector, type DetectorOptions } from './detector/detector';
import type { CompiledRules } from './engine/engine';
import type { Logger } from './log';
import { connectNats } from './nats/connect';
import { ensureChatStreams } from './nats/streams';
import { fingerprinterFrom } from './crypto/fingerprint';
import { connectClient, connectWorker } from './temporal/client';
import { codecFrom } from './temporal/data-converter';
import { createCredentialWorker, createKmsWorker, createRemediationWorkers } from './worker/worker';

export interface PipelineOptions {
  config: Config;
  rules: () => CompiledRules;
  log: Logger;
  /** Runs before the detector starts consuming (tests reset streams here). */
  beforeDetect?: (nc: NatsConnection) => Promise<void>;
  workflowBundle?: WorkerOptions['workflowBundle'];
  onIncident?: DetectorOptions['onIncident'];
}

export interface Pipeline {
  nc: NatsConnection;
  client: Client;
  workers: Worker[];
  detector: Detector;
  /** Stops the detector, then the workers, then the connections. */
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
  return {
    nc,
    client,
    workers,
    detector,
    async stop() {
      await detector.stop();
      await detectorRun;
      for (const w of workers) w.shutdown();
      await Promise.all(workerRuns);
      await connection.close();
      await client.connection.close();
      await nc.drain();
    },
  };
}
