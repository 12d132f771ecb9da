/**
 * Worker Versioning on the dev server: incidents are pinned to the build that started them, new
 * incidents go to the deployment's current version, and `sentinel fleet promote` moves it.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { IncidentState } from '../../contract';
import type { FleetReport } from '../../src/cli/fleet-status';
import { projectRoot } from '../../src/paths';
import { connectWorker } from '../../src/temporal/worker-connection';
import { codecFrom } from '../../src/temporal/data-converter';
import { bootstrapCurrentVersion } from '../../src/worker/versioning';
import { createRemediationWorkers } from '../../src/worker/worker';
import { silentLogger } from '../../src/log';
import { eventually, startHarness, workflowBundle, type Harness, postAndPublish, stateWhen } from '../support/harness';
import { INCIDENT_RULES, rulesDir } from '../support/incident-rules';

const run = promisify(execFile);
const TEAM = 'T0SENTNL1';

/** The build ids of the workers that completed each workflow task of an execution. */
async function buildsThatRan(client: Client, workflowId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => (e.workflowTaskCompletedEventAttributes ? [e.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId ?? 'unversioned'] : []));
}

describe('worker versioning', () => {
  const deployment = `test-${randomUUID().slice(0, 8)}`;
  let h: Harness;
  let v2: Worker[] = [];
  let v2Runs: Promise<void>[] = [];
  let v2Close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    h = await startHarness({ SENTINEL_RULES_DIR: rulesDir(INCIDENT_RULES), SENTINEL_WORKER_VERSIONING: 'on', SENTINEL_DEPLOYMENT: deployment, SENTINEL_BUILD_ID: 'v1' });
    // What worker/main.ts does at start: a new deployment gets its first build as current.
    await bootstrapCurrentVersion(h.client.connection, h.config, silentLogger);
  });
  afterAll(async () => {
    for (const w of v2) if (w.getState() === 'RUNNING') w.shutdown();
    await Promise.all(v2Runs);
    await v2Close?.();
    await h?.close();
  });

  const cli = (...args: string[]) =>
    run(process.execPath, [join(projectRoot, 'bin/sentinel.js'), 'fleet', ...args], {
      cwd: projectRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TEMPORAL_ADDRESS: inject('stack').temporalAddress, NATS_URL: inject('stack').natsUrl, SENTINEL_DEPLOYMENT: deployment, SENTINEL_WORKER_VERSIONING: 'on', SENTINEL_TASK_QUEUE: h.config.temporal.taskQueue, SENTINEL_KMS_TASK_QUEUE: h.config.kms.taskQueue },
    }).catch((err: { stdout: string; stderr: string; code: number }) => ({ stdout: err.stdout, stderr: err.stderr, code: err.code }));
  const post = (channel: string, text: string) => postAndPublish(h, 'U0ALICE01', channel, text);
  const idOf = (channel: string, ts: string, rule: string) => `incident/slack/${TEAM}/${channel}/${ts}/${rule}`;
  const statusOf = (id: string, status: IncidentState['status']) => stateWhen(h.client, id, status);

  it('finishes a v1 incident waiting for approval on v1 after v2 becomes current, and starts new incidents on v2', async () => {
    const kms = new KMSClient({ region: 'us-east-1', endpoint: inject('stack').kmsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const arn = (await kms.send(new CreateKeyCommand({ Description: 'versioning test key' }))).KeyMetadata!.Arn!;
    const first = await post('C0GENERAL', `the key is ${arn}`);
    const oldId = idOf('C0GENERAL', first.ts, 'kms-approval');
    await statusOf(oldId, 'awaiting_approval');
    expect(new Set(await buildsThatRan(h.client, oldId))).toEqual(new Set(['v1']));

    // v2 starts beside v1 (same task queues, same deployment), then becomes current.
    const connection = await connectWorker(h.config.temporal);
    const config = { ...h.config, versioning: { ...h.config.versioning, buildId: 'v2' } };
    v2 = await createRemediationWorkers({ connection, config, nc: h.nc, client: h.client, codec: codecFrom(config), workflowBundle: await workflowBundle() });
    v2Runs = v2.map((w) => w.run());
    v2Close = () => connection.close();
    // The server refuses a version whose workers have not polled every task queue yet: retry until they have.
    const promoted = await eventually('v2 to be promoted', async () => {
      const r = await cli('promote', 'v2');
      return 'code' in r && r.code ? false : r.stdout;
    }, 60_000);
    expect(promoted).toContain(`deployment ${deployment}: current version v1 -> v2.`);
    // It returns once the new routing has reached every task queue: no new incident goes to v1 after.
    expect(promoted).toMatch(/The routing reached every task queue in \d+\.\d s\. New incidents start on v2;/);
    const again = await cli('promote', 'v2');
    expect('code' in again ? again.code : 0).toBe(0);
    expect(again.stdout).toContain(`v2 is already the current version of deployment ${deployment}.`);
    expect(again.stdout).toMatch(/The routing reached every task queue in \d+\.\d s\./);

    await h.client.workflow.getHandle(oldId).executeUpdate('approveRevocation', { args: [{ by: 'U0ADMIN01', reason: 'confirmed' }] });
    const state = await h.client.workflow.getHandle(oldId).result() as IncidentState;
    expect(state.status).toBe('resolved');
    expect(new Set(await buildsThatRan(h.client, oldId))).toEqual(new Set(['v1']));
    const oldInfo = (await h.client.workflow.getHandle(oldId).describe()).raw.workflowExecutionInfo?.versioningInfo;
    expect(oldInfo?.deploymentVersion?.buildId).toBe('v1');

    const second = await post('C0ENGINEE', 'a leakword here');
    const newId = idOf('C0ENGINEE', second.ts, 'leakword');
    await eventually(`${newId} to finish`, () => h.client.workflow.getHandle(newId).result().then(() => true, () => false), 60_000);
    expect(new Set(await buildsThatRan(h.client, newId))).toEqual(new Set(['v2']));

    const status = await cli('status', '--json');
    const report = JSON.parse(status.stdout) as FleetReport;
    const d = report.temporal.deployments.find((x) => x.name === deployment);
    expect(d?.current).toBe('v2');
    expect(d?.routing).toBe('propagated');
    expect(d?.versions.map((v) => v.buildId).sort()).toEqual(['v1', 'v2']);
    const main = report.temporal.taskQueues.find((q) => q.name === h.config.temporal.taskQueue && q.type === 'workflow');
    expect(new Set(main?.pollers.map((p) => p.buildId))).toEqual(new Set(['v1', 'v2']));
    expect(main?.pollers.every((p) => p.versioned && p.deployment === deployment)).toBe(true);
  }, 120_000);

  it('refuses a --wait that is not a number of seconds, before touching the deployment', async () => {
    for (const wait of ['soon', '-1', '']) {
      const r = await cli('promote', 'v2', `--wait=${wait}`);
      expect('code' in r ? r.code : 0).toBe(2);
      expect(r.stderr).toContain(`fleet promote: --wait takes a number of seconds (0 or more), not ${JSON.stringify(wait)}`);
    }
  });
});
