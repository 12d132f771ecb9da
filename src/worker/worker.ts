/** The remediation worker: incident workflows and the Slack activities, on the remediation task queue. */
import { fileURLToPath } from 'node:url';
import { WebClient } from '@slack/web-api';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { activityWebClient } from '../../activities/slack-client';
import { required, type Config } from '../config';

/** The workflow code the worker bundles (tests bundle it once per suite with bundleWorkflowCode). */
export const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));

export interface RemediationWorkerOptions {
  connection: NativeConnection;
  config: Config;
  /** A prebuilt bundle; without it the worker bundles workflowsPath itself. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

/** Slack clients for activities, from configuration; fails fast without the admin token. */
export function slackClientsFrom(cfg: Config['slack']): { admin: WebClient; bot?: WebClient } {
  const admin = required(cfg.adminToken, 'SLACK_ADMIN_TOKEN', 'the worker deletes messages with a workspace admin user token (xoxp-…)');
  return {
    admin: activityWebClient(admin, cfg.apiUrl),
    ...(cfg.botToken ? { bot: activityWebClient(cfg.botToken, cfg.apiUrl) } : {}),
  };
}

export async function createRemediationWorker(o: RemediationWorkerOptions): Promise<Worker> {
  const activities = createActivities({ slack: slackClientsFrom(o.config.slack) });
  return Worker.create({
    connection: o.connection,
    namespace: o.config.temporal.namespace,
    taskQueue: o.config.temporal.taskQueue,
    activities,
    ...(o.workflowBundle ? { workflowBundle: o.workflowBundle } : { workflowsPath }),
  });
}
