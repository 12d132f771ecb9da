/**
 * The pipeline under test, wired to the run's private stack: the Slack simulator (real HTTP), a
 * NATS connection, a Temporal client, a remediation worker and a detector. Each suite gets its own
 * task queue and fresh CHAT/DEADLETTER streams.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime, type Worker, type WorkflowBundle } from '@temporalio/worker';
import type { NatsConnection } from 'nats';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../src/config';
import type { Correlator } from '../../src/correlator/correlator';
import type { Detector } from '../../src/detector/detector';
import { loadRules } from '../../src/engine/load';
import { createLogger, silentLogger } from '../../src/log';
import { FACTS_STREAM, chatSubject } from '../../src/nats/streams';
import { GithubSimulator } from '../../src/github-sim/server';
import { SlackSimulator } from '../../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN, type SimMessage } from '../../src/slack-sim/workspace';
import { workflowsPath } from '../../src/worker/worker';
import { failureConverterPath } from '../../src/temporal/data-converter';
import { startPipeline } from '../../src/pipeline';
import { projectRoot } from '../../src/paths';
import { join } from 'node:path';
import type { IncidentState } from '../../contract';
import { emptyChatStreams } from './streams';

let bundle: Promise<WorkflowBundle> | undefined;
let runtimeInstalled = false;

/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath, failureConverterPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } });
  return bundle;
}

export interface Harness {
  config: Config;
  sim: SlackSimulator;
  /** The GitHub API simulator leaked GitHub tokens are verified and revoked with. */
  github: GithubSimulator;
  nc: NatsConnection;
  client: Client;
  workers: Worker[];
  detector: Detector;
  /** The correlator of the stateful rules (rules/stateful.yaml), owning every FACTS partition. */
  correlator: Correlator;
  close(): Promise<void>;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Posts `text` as `user` in the simulator and publishes its event to CHAT the way the bridge does
 * (by event id), for suites that run the pipeline without a bridge. Answers the posted message.
 */
export async function postAndPublish(h: Pick<Harness, 'sim' | 'nc'>, user: string, channel: string, text: string): Promise<SimMessage> {
  const { message, envelope } = h.sim.postAsUser(user, channel, text);
  await h.nc.jetstream().publish(chatSubject('slack', envelope.team_id, 'message'), JSON.stringify(envelope), { msgID: envelope.event_id });
  return message;
}

/** The state of incident `id` as soon as its status is `status`. */
export function stateWhen(client: Client, id: string, status: IncidentState['status'], timeoutMs?: number): Promise<IncidentState> {
  return eventually(
    `${id} to be ${status}`,
    async () => {
      const s = await client.workflow.getHandle(id).query<IncidentState>('state').catch(() => undefined);
      return s?.status === status && s;
    },
    timeoutMs,
  );
}

/** The result of an incident workflow, once the detector has started it. */
export async function incidentResult<T>(client: Client, workflowId: string, timeoutMs = 30_000): Promise<T> {
  const handle = client.workflow.getHandle(workflowId);
  await eventually(`incident ${workflowId} to start`, () => handle.describe().then(() => true, () => false), timeoutMs);
  return (await handle.result()) as T;
}

/**
 * Terminates what a suite left running on its task queue. Offender workflows are per user, not
 * per task queue: one left behind would take the next suite's reports with no worker to run them.
 */
export async function terminateRunning(client: Client, taskQueue: string): Promise<void> {
  for await (const w of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) {
    await client.workflow.getHandle(w.workflowId).terminate('test suite finished').catch(() => undefined);
  }
}

/** The pipeline on the run's stack; `env` overrides configuration for this suite. */
export async function startHarness(env: Record<string, string> = {}): Promise<Harness> {
  if (!runtimeInstalled) {
    // Keep the SDK's signal handlers out of the test runner.
    Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  const stack = inject('stack');
  const sim = await new SlackSimulator().start();
  const github = await new GithubSimulator().start();
  const config = loadConfig({
    TEMPORAL_ADDRESS: stack.temporalAddress,
    NATS_URL: stack.natsUrl,
    SLACK_API_URL: sim.apiUrl,
    SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN,
    SLACK_BOT_TOKEN: SIM_BOT_TOKEN,
    SENTINEL_TASK_QUEUE: `test-${randomUUID()}`,
    SENTINEL_KMS_TASK_QUEUE: `test-kms-${randomUUID()}`,
    SENTINEL_RULES_DIR: join(projectRoot, 'rules'),
    SENTINEL_SECURITY_CHANNEL: 'C0SECURIT',
    SLACK_MAX_CALLS_PER_SECOND: '100',
    // The simulator enforces no limits unless a suite sets them; suites that test budgets and digests set these.
    SLACK_RATE_LIMITS: '*=100/s',
    SLACK_DIGEST_INTERVAL: '0s',
    AWS_ENDPOINT_URL_KMS: stack.kmsEndpoint,
    // Leaked credentials are verified and revoked against moto (IAM, STS), the Slack and the GitHub simulators.
    AWS_ENDPOINT_URL_IAM: stack.kmsEndpoint,
    AWS_ENDPOINT_URL_STS: stack.kmsEndpoint,
    GITHUB_API_URL: github.url,
    SENTINEL_CREDENTIALS_TASK_QUEUE: `test-credentials-${randomUUID()}`,
    ...inject('secrets'),
    ...env,
  });
  // moto accepts any credentials; the SDK's default chain reads these.
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';

  const rules = loadRules(config.rulesDir);
  const pipeline = await startPipeline({
    config,
    rules: () => rules,
    log: process.env.TEST_LOG ? createLogger({ level: 'debug' }) : silentLogger,
    workflowBundle: await workflowBundle(),
    // Each suite starts from empty streams (FACTS too: another suite's facts would complete matches here).
    beforeDetect: async (nc) => void (await emptyChatStreams(nc, { also: [FACTS_STREAM], recreate: false })),
  });
  const { nc, client, workers, detector, correlator } = pipeline;

  return {
    config,
    sim,
    github,
    nc,
    client,
    workers,
    detector,
    correlator,
    async close() {
      await terminateRunning(client, config.temporal.taskQueue);
      await pipeline.stop();
      await sim.stop();
      await github.stop();
    },
  };
}
