/**
 * The credential worker is killed (SIGKILL) while its three revocations are in flight: an AWS
 * access key being set Inactive in moto's IAM, a Slack token being revoked with auth.revoke and a
 * GitHub token going through the credential-revocation API. A proxy in front of each provider
 * holds the request a few seconds and then passes it on, so each provider carries out the
 * revocation after the worker that asked for it is gone. A second worker takes the retries over.
 * Each credential ends revoked, each provider carried out exactly one revocation, and each
 * incident records its revocation once.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { connect, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CredentialKind, IncidentInput, IncidentState } from '../../contract';
import { readAuditTrail } from '../../src/incidents/audit-trail';
import { incidentInput } from '../../src/incidents/start';
import { GithubSimulator } from '../../src/github-sim/server';
import { SlackSimulator } from '../../src/slack-sim/server';
import { SIM_ADMIN_TOKEN, SIM_BOT_TOKEN } from '../../src/slack-sim/workspace';
import type { incidentWorkflow } from '../../workflows';
import { DelayProxy } from '../support/delay-proxy';
import { eventually, incidentResult, terminateRunning } from '../support/harness';
import { startProcess, type SentinelProcess } from '../support/processes';
import { testClient, testSecrets } from '../support/secrets';

const TEAM = 'T0SENTNL1';
const HOLD_MS = 4_000;

describe('credential worker crash during revocation', () => {
  const stack = inject('stack');
  const taskQueue = `credcrash-${randomUUID()}`;
  const iam = new IAMClient({ region: 'us-east-1', endpoint: stack.kmsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  let sim: SlackSimulator;
  let github: GithubSimulator;
  let client: Client;
  let nc: NatsConnection;
  let aws: DelayProxy;
  let slack: DelayProxy;
  let gh: DelayProxy;
  let env: Record<string, string>;
  const processes: SentinelProcess[] = [];

  const start = async (name: string, entry: string, ready: string) => {
    const p = startProcess(name, entry, env);
    processes.push(p);
    await p.waitFor(ready, 120_000);
    return p;
  };

  beforeAll(async () => {
    sim = await new SlackSimulator().start();
    github = await new GithubSimulator().start();
    client = await testClient();
    nc = await connect({ servers: stack.natsUrl });
    // IAM speaks the AWS query protocol: the action is in the form body.
    aws = await new DelayProxy({ target: stack.kmsEndpoint, matches: (r) => r.body.includes('Action=UpdateAccessKey'), delayMs: HOLD_MS }).start();
    const simOrigin = new URL(sim.apiUrl);
    slack = await new DelayProxy({ target: simOrigin.origin, matches: (r) => r.path.endsWith('/auth.revoke'), delayMs: HOLD_MS }).start();
    gh = await new DelayProxy({ target: github.url, matches: (r) => r.path === '/credentials/revoke', delayMs: HOLD_MS }).start();
    env = {
      TEMPORAL_ADDRESS: stack.temporalAddress,
      NATS_URL: stack.natsUrl,
      SLACK_API_URL: `${slack.url}${simOrigin.pathname}`,
      SLACK_ADMIN_TOKEN: SIM_ADMIN_TOKEN,
      SLACK_BOT_TOKEN: SIM_BOT_TOKEN,
      SENTINEL_TASK_QUEUE: taskQueue,
      SENTINEL_KMS_TASK_QUEUE: `${taskQueue}-kms`,
      SENTINEL_CREDENTIALS_TASK_QUEUE: `${taskQueue}-credentials`,
      SLACK_MAX_CALLS_PER_SECOND: '100',
      SLACK_RATE_LIMITS: '*=100/s',
      AWS_ENDPOINT_URL_KMS: stack.kmsEndpoint,
      AWS_ENDPOINT_URL_IAM: aws.url,
      AWS_ENDPOINT_URL_STS: aws.url,
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
      GITHUB_API_URL: gh.url,
      LOG_LEVEL: 'info',
      ...testSecrets(),
    };
    await start('worker', 'src/worker/main.ts', 'worker running');
    await start('kms-worker', 'src/worker/kms-main.ts', 'KMS worker running');
  }, 300_000);

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    if (client) await terminateRunning(client, taskQueue);
    await client?.connection.close();
    await nc?.drain();
    for (const s of [aws, slack, gh, sim, github]) await s?.stop();
  });

  /** An incident whose rule revokes the leaked credential without waiting for an operator. */
  const leak = (ruleId: string, kind: CredentialKind, value: string, secret?: string): IncidentInput => {
    const text = `here: ${value}`;
    const { message } = sim.postAsUser('U0ALICE01', 'C0GENERAL', text);
    const event = { source: 'slack', team: TEAM, channel: 'C0GENERAL', user: 'U0ALICE01', ts: message.ts, eventType: 'message', text: '' };
    const input = incidentInput(event, {
      ruleId,
      description: `a leaked ${kind}`,
      category: 'secret',
      severity: 'high',
      actions: ['delete', 'revoke_credential'],
      message: 'do not post credentials',
      approvalRequired: false,
      start: 6,
      end: text.length,
      redacted: `${value.slice(0, 4)}****`,
      excerpt: `here: ${value.slice(0, 4)}****`,
      fingerprint: 'hmac-sha256:00000000000000000000000000000000',
    });
    return { ...input, credential: { kind, value, ...(secret ? { secret } : {}) } };
  };

  it('revokes each credential exactly once when the worker dies with the revocations in flight', async () => {
    const user = `crash-${randomUUID().slice(0, 8)}`;
    await iam.send(new CreateUserCommand({ UserName: user }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    const slackToken = sim.workspace.issueToken('U0BOB0001', 'user');
    const githubToken = github.createToken('octo-crash');
    const inputs = [
      leak('aws-access-key-id', 'aws-access-key', key.AccessKeyId!, key.SecretAccessKey),
      leak('slack-user-token', 'slack-token', slackToken),
      leak('github-pat', 'github-token', githubToken),
    ];
    for (const input of inputs) {
      await client.workflow.start<typeof incidentWorkflow>('incidentWorkflow', { workflowId: input.incidentId, taskQueue, args: [input] });
    }

    // All three revocations reached their provider's proxy, which holds them: the worker dies now.
    await eventually('the three revocations to be in flight', () => aws.matched.length === 1 && slack.matched.length === 1 && gh.matched.length === 1, 90_000);
    const first = processes.find((p) => p.name === 'kms-worker')!;
    first.child.kill('SIGKILL');
    await new Promise((r) => (first.child.exitCode !== null || first.child.signalCode !== null ? r(undefined) : first.child.once('exit', r)));
    // The held requests still reach the providers after the worker is gone.
    await eventually('the held revocations to be carried out', () => aws.succeeded().length === 1 && slack.succeeded().length === 1 && gh.succeeded().length === 1, 30_000);

    await start('kms-worker', 'src/worker/kms-main.ts', 'KMS worker running');
    // The retry comes after the dead worker's attempt times out (credentialCall: 20 s to close).
    const states = await Promise.all(inputs.map((i) => incidentResult<IncidentState>(client, i.incidentId, 120_000)));
    for (const state of states) {
      expect(state.status).toBe('resolved');
      expect(state.credential?.outcome).toBe('live');
      const revoke = state.steps.filter((s) => s.step === 'revoke_credential');
      expect(revoke).toHaveLength(1);
      // The retry found the credential already revoked; it did not revoke it again.
      expect(revoke[0]!.outcome).toBe('already_done');
    }

    // AWS: the key is Inactive, and the retry read that instead of updating the key a second time.
    const keys = (await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata!;
    expect(keys.find((k) => k.AccessKeyId === key.AccessKeyId)?.Status).toBe('Inactive');
    expect(aws.succeeded()).toHaveLength(1);
    // Slack: one auth.revoke did it; the retry's was refused as token_revoked.
    const revokes = sim.calls.filter((c) => c.method === 'auth.revoke');
    expect(revokes.filter((c) => c.ok)).toHaveLength(1);
    expect(revokes.slice(1).map((c) => c.error)).toEqual(revokes.slice(1).map(() => 'token_revoked'));
    const later = await fetch(`${sim.apiUrl}auth.test`, { method: 'POST', headers: { authorization: `Bearer ${slackToken}` } }).then((r) => r.json());
    expect(later).toEqual({ ok: false, error: 'token_revoked' });
    // GitHub: the token is dead and the simulator revoked it once.
    expect(github.isLive(githubToken)).toBe(false);
    expect(github.revocations.filter((r) => r.login === 'octo-crash')).toHaveLength(1);

    // The trail says the revocation once per incident, with the attempt the crash cost in between at most.
    for (const input of inputs) {
      const trail = await readAuditTrail(nc, input.incidentId);
      expect(trail.filter((r) => r.kind === 'action' && r.step === 'revoke_credential').map((r) => r.outcome)).toEqual(['already_done']);
      expect(JSON.stringify(trail)).not.toContain(input.credential!.value);
    }
  }, 300_000);
});
