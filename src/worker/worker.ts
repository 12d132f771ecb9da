/**
 * Workers. The remediation worker runs the workflows and Sentinel's own activities, plus a second
 * worker on the Slack task queue, rate limited across the fleet so that a burst of incidents does
 * not become a storm of 429s. The KMS and credential workers (kms-workers.ts) run apart, with the
 * only AWS credentials: this module does not load the AWS SDK, so neither does a remediation worker,
 * and those workers do not load this module's (NATS, Slack, the workflow bundle).
 */
import { fileURLToPath } from 'node:url';
import type { WebClient } from '@slack/web-api';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { NatsConnection } from 'nats';
import { createActivities, createSlackQueueActivities } from '../../activities';
import { jetStreamAudit } from '../../activities/audit';
import { jetStreamNoticeLedger } from '../../activities/notice-ledger';
import { createQuarantineActivities } from '../../activities/quarantine';
import { ensureQuarantineStream, quarantineVault } from '../../activities/quarantine-vault';
import { activityWebClient } from '../../activities/slack-client';
import { budgetOf, slackDeleteTaskQueue, slackTaskQueue } from '../../contract';
import { required, type Config } from '../config';
import type { EncryptionCodec } from '../crypto/codec';
import { dataConverterFor } from '../temporal/data-converter';
import { workflowBundleOption } from './bundle';
import { sharedOptions } from './shared-options';
import { ensureAuditStream } from '../nats/streams';

/** The workflow code the worker bundles (tests bundle it once per suite with bundleWorkflowCode). */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

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

/**
 * The share of a remediation worker's workflow-task polls that wait for new incidents' first tasks;
 * the rest wait on its sticky queue (later tasks of incidents it holds). With 20 polls, in
 * `npm run bench:pipeline -- --only latency` runs of one afternoon: half (10 + 10) took the p99
 * of a burst of 200 from 5.6-6.4 s (SDK defaults, 2 + 8) to 4.7-5.9 s, three runs each. All of them but one (19 + 1)
 * did a little better still, but left one poll for every incident already under way.
 */
export const WORKFLOW_POLLS_NON_STICKY = 0.5;

/** The remediation worker, its Slack worker and its deletion worker; run all three (runTogether). */
export async function createRemediationWorkers(o: RemediationWorkerOptions): Promise<Worker[]> {
  const { config } = o;
  await ensureAuditStream(await o.nc.jetstreamManager());
  await ensureQuarantineStream(await o.nc.jetstreamManager(), config.remediation.quarantineRetentionMs);
  const audit = jetStreamAudit(o.nc.jetstream());
  const slackQueue = slackTaskQueue(config.temporal.taskQueue);
  const deleteQueue = slackDeleteTaskQueue(config.temporal.taskQueue);
  const shared = sharedOptions(o.connection, config, dataConverterFor(o.codec), true);
  const main = await Worker.create({
    ...shared,
    taskQueue: config.temporal.taskQueue,
    // A burst of leaks is a burst of first workflow tasks, on the task queue itself rather than this
    // worker's sticky queue: the SDK's defaults poll it twice at a time (10 polls, a fifth of them),
    // half of 20 here. See WORKFLOW_POLLS_NON_STICKY.
    maxConcurrentWorkflowTaskPolls: config.temporal.workflowTaskPolls,
    nonStickyToStickyPollRatio: WORKFLOW_POLLS_NON_STICKY,
    activities: createActivities({
      audit,
      offender: { temporal: o.client, taskQueue: config.temporal.taskQueue, levels: config.remediation.escalation },
      settings: { remediation: config.remediation, kms: config.kms, slackTaskQueue: slackQueue, slackDeleteTaskQueue: deleteQueue, credentialsTaskQueue: config.credentials.taskQueue },
    }),
    // The bundle `npm run build` prebuilt, when it matches the sources; else the worker bundles them itself.
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : workflowBundleOption()),
  });
  // One set of Slack activities for both queues: one budget per method, one cache of DM channels, one digest per channel.
  const ledger = await jetStreamNoticeLedger(o.nc.jetstream());
  const slackActivities = createSlackQueueActivities(slackClientsFrom(config.slack), ledger, audit, {
    budgets: config.slack.budgets,
    digestIntervalMs: config.slack.digestIntervalMs,
  });
  // A quarantined message's review: the copy opens with the workers' codec, the restore posts once through the ledger.
  const quarantine = createQuarantineActivities({ vault: quarantineVault(o.nc, [o.codec], { retentionMs: config.remediation.quarantineRetentionMs }), post: slackActivities.postSecurityNotice, ledger });
  const slack = await Worker.create({
    ...shared,
    taskQueue: slackQueue,
    activities: { ...slackActivities, ...quarantine },
    maxTaskQueueActivitiesPerSecond: config.slack.maxCallsPerSecond,
  });
  // Removals never wait behind notifications: their own queue, pollers and fleet-wide rate (chat.delete's
  // budget; chat.update, for redact and tombstone, is Tier 3 too).
  const deletions = await Worker.create({
    ...shared,
    taskQueue: deleteQueue,
    activities: { deleteMessage: slackActivities.deleteMessage, updateMessage: slackActivities.updateMessage },
    maxTaskQueueActivitiesPerSecond: budgetOf(config.slack.budgets, 'chat.delete'),
  });
  return [main, slack, deletions];
}
