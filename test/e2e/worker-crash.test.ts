/**
 * A remediation worker process is killed (SIGKILL) in the middle of an incident; another one
 * takes over. The incident completes and each side effect happens once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { incidentInput } from '../../src/incidents/start';
import { projectRoot } from '../../src/paths';
import { SlackSimulator } from '../../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../../src/slack-sim/workspace';
import type { incidentWorkflow } from '../../workflows';
import type { IncidentState } from '../../contract';
import { eventually, terminateRunning } from '../support/harness';
import { testClient, testSecrets } from '../support/secrets';

describe('worker crash', () => {
  let sim: SlackSimulator;
  let client: Client;
  const children: ChildProcess[] = [];
  const taskQueue = `crash-${randomUUID()}`;

  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    client = await testClient();
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    // The offender workflow this suite's incident reported to would otherwise take later suites' reports with no worker to run them.
    if (client) await terminateRunning(client, taskQueue);
    await client?.connection.close();
    await sim?.stop();
  });

  const startWorker = () => {
    const stack = inject('stack');
    const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'src/worker/main.ts')], {
      cwd: projectRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: stack.temporalAddress,
        NATS_URL: stack.natsUrl,
        SLACK_API_URL: sim.apiUrl,
        SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN,
        SLACK_BOT_TOKEN: SIM_BOT_TOKEN,
        SENTINEL_TASK_QUEUE: taskQueue,
        SENTINEL_SECURITY_CHANNEL: 'C0SECURIT',
        SLACK_MAX_CALLS_PER_SECOND: '100',
        SLACK_RATE_LIMITS: '*=100/s',
        LOG_LEVEL: 'error',
        ...testSecrets(),
      },
    });
    children.push(child);
    return child;
  };

  it('completes the incident with each side effect done once after the worker is killed mid-notification', async () => {
    const { message } = sim.postAsUser('U0ALICE01', 'C0GENERAL', 'leaked leakword');
    const event = { source: 'slack', team: 'T0SENTNL1', channel: 'C0GENERAL', user: 'U0ALICE01', ts: message.ts, eventType: 'message', text: '' };
    const input = incidentInput(event, {
      ruleId: 'leakword',
      description: 'a test leak',
      category: 'secret',
      severity: 'medium',
      actions: ['delete', 'notify'],
      message: '<@U0ALICE01>, do not post leakwords.',
      approvalRequired: false,
      start: 7,
      end: 15,
      redacted: 'l*******',
      excerpt: 'leaked l*******',
      fingerprint: 'hmac-sha256:00000000000000000000000000000000',
    });
    // The DM is slow to post: the worker will be killed while it waits.
    sim.injectFault({ method: 'chat.postMessage', kind: 'slow', delayMs: 3000 });
    const first = startWorker();
    await client.workflow.start<typeof incidentWorkflow>('incidentWorkflow', { workflowId: input.incidentId, taskQueue, args: [input] });

    await eventually('the delete', () => sim.okCalls('chat.delete').length === 1, 60_000);
    await eventually('the notification to be in flight', () => sim.calls.some((c) => c.method === 'conversations.open'), 30_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));

    startWorker();
    const state = (await client.workflow.getHandle(input.incidentId).result()) as IncidentState;
    expect(state.status).toBe('resolved');
    expect(state.steps.map((s) => [s.step, s.outcome])).toEqual([
      ['delete', 'done'],
      ['notify', expect.stringMatching(/^(done|already_done)$/)],
      ['summary', 'done'],
      ['report', 'done'],
    ]);
    expect(sim.okCalls('chat.delete')).toHaveLength(1);
    const dms = sim.workspace.history('D0ALICE01').filter((m) => m.text === '<@U0ALICE01>, do not post leakwords.');
    expect(dms).toHaveLength(1);
    expect(sim.workspace.history('C0SECURIT').filter((m) => m.text.includes(input.incidentId))).toHaveLength(1);
  }, 120_000);
});
