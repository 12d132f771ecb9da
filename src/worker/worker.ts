/**
 * Workers. The remediation worker runs the workflows and Sentinel's own activities, plus a second
 * worker on the Slack task queue, rate limited across the fleet so that a burst of incidents does
 * not become a storm of 429s. The KMS worker runs alone on the KMS task queue with KMS credentials.
 */
import { fileURLToPath } from 'node:url';
import { KMSClient } from '@aws-sdk/client-kms';
import type { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { NatsConnection } from 'nats';
import { createActivities, createKmsActivities, createSlackQueueActivities } from '../../activities';
import { jetStreamAudit } from '../../activities/audit';
import { jetStreamNoticeLedger } from '../../activities/notice-ledger';
import { activityWebClient } from '../../activities/slack-client';
import { required, type Config } from '../config';
import type { EncryptionCodec } from '../crypto/codec';
import { dataConverterFor } from '../temporal/data-converter';
import { ensureAuditStream } from '../nats/streams';

/** The workflow code the worker bundles (tests bundle it once per suite with bundleWorkflowCode). */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

/** The Slack task queue next to a remediation task queue. */
export const slackTaskQueue = (taskQueue: string) => `${taskQueue}-slack`;

/** Slack clients for activities, from configuration; fails fast without the admin token. */
export function slackClientsFrom(cfg: Config['slack']): { admin: WebClient; bot?: WebClient } {
  const admin = required(cfg.adminToken, 'SLACK_ADMIN_TOKEN', 'the worker deletes messages with a workspace admin user token (xoxp-…)');
  return {
    admin: activityWebClient(admin, cfg.apiUrl),
    ...(cfg.botToken ? { bot: activityWebClient(cfg.botToken, cfg.apiUrl) } : {}),
  };
}

export interface RemediationWorkerOptions {
  connection: NativeConnection;
  config: Config;
  /** For the audit trail. */
  nc: NatsConnection;
  /** For reports to offender workflows. */
  client: Client;
  /** Seals every payload the workers write (codecFrom). */
  codec: EncryptionCodec;
  /** A prebuilt bundle; without it the worker bundles workflowsPath itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/** The remediation worker and its Slack worker; run both. */
export async function createRemediationWorkers(o: RemediationWorkerOptions): Promise<Worker[]> {
  const { config } = o;
  await ensureAuditStream(await o.nc.jetstreamManager());
  const audit = jetStreamAudit(o.nc.jetstream());
  const slackQueue = slackTaskQueue(config.temporal.taskQueue);
  const dataConverter = dataConverterFor(o.codec);
  const main = await Worker.create({
    connection: o.connection,
    dataConverter,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities: createActivities({
      audit,
      offender: { temporal: o.client, taskQueue: config.temporal.taskQueue, levels: config.remediation.escalation },
      settings: { remediation: config.remediation, kms: config.kms, slackTaskQueue: slackQueue },
    }),
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath }),
  });
  const slack = await Worker.create({
    connection: o.connection,
    dataConverter,
    namespace: config.temporal.namespace,
    taskQueue: slackQueue,
    activities: createSlackQueueActivities(slackClientsFrom(config.slack), await jetStreamNoticeLedger(o.nc.jetstream()), audit),
    maxTaskQueueActivitiesPerSecond: config.slack.maxCallsPerSecond,
  });
  return [main, slack];
}

/** The KMS worker: the only process that needs KMS credentials. */
export async function createKmsWorker(connection: NativeConnection, config: Config, codec: EncryptionCodec): Promise<Worker> {
  const clients = new Map<string, KMSClient>();
  // Temporal retries: the SDK's own retries off, as for Slack.
  const clientFor = (region: string) => {
    let c = clients.get(region);
    if (!c) clients.set(region, (c = new KMSClient({ region, ...(config.kms.endpoint ? { endpoint: config.kms.endpoint } : {}), maxAttempts: 1 })));
    return c;
  };
  return Worker.create({
    connection,
    dataConverter: dataConverterFor(codec),
    namespace: config.temporal.namespace,
    taskQueue: config.kms.taskQueue,
    activities: createKmsActivities(clientFor),
  });
}
