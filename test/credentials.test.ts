/**
 * Verifying and revoking leaked credentials with their providers, through the real AWS SDK clients
 * against moto (IAM, STS) and real HTTP against the GitHub simulator.
 */
import { randomUUID } from 'node:crypto';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCredentialActivities } from '../activities/credentials';
import { FailureType } from '../contract';
import { GithubSimulator } from '../src/github-sim/server';
import { SlackSimulator } from '../src/slack-sim/server';

const region = 'us-east-1';

describe('credential verification and revocation', () => {
  const endpoint = inject('stack').kmsEndpoint;
  const own = { region, endpoint, credentials: { accessKeyId: 'sentinel-test', secretAccessKey: 'sentinel-test' } };
  const iam = new IAMClient(own);
  let github: GithubSimulator;
  let slack: SlackSimulator;
  let activities: ReturnType<typeof createCredentialActivities>;

  beforeAll(async () => {
    github = await new GithubSimulator().start();
    slack = await new SlackSimulator().start();
    activities = createCredentialActivities({
      iam,
      sts: new STSClient(own),
      stsAs: (accessKeyId, secretAccessKey) => new STSClient({ region, endpoint, credentials: { accessKeyId, secretAccessKey } }),
      slackApiUrl: slack.apiUrl,
      githubApiUrl: github.url,
    });
  });
  afterAll(async () => {
    await github?.stop();
    await slack?.stop();
  });

  const newKey = async () => {
    const user = `leaker-${randomUUID().slice(0, 8)}`;
    await iam.send(new CreateUserCommand({ UserName: user }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    return { user, id: key.AccessKeyId!, secret: key.SecretAccessKey! };
  };
  const statusOf = async (user: string, id: string) => (await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata!.find((k) => k.AccessKeyId === id)!.Status;

  it('finds a leaked AWS key of its own account live, sets it Inactive once, and then calls it invalid', async () => {
    const k = await newKey();
    const incidentId = 'incident/test';
    const live = await activities.verifyCredential({ incidentId, kind: 'aws-access-key', value: k.id, secret: k.secret });
    expect(live).toMatchObject({ outcome: 'live', revocable: true, principal: `arn:aws:iam::123456789012:user/${k.user}` });
    // Without the secret: IAM alone knows the key of its own account.
    expect(await activities.verifyCredential({ incidentId, kind: 'aws-access-key', value: k.id })).toMatchObject({ outcome: 'live' });
    expect(await activities.revokeCredential({ incidentId, kind: 'aws-access-key', value: k.id })).toMatchObject({ outcome: 'revoked' });
    expect(await statusOf(k.user, k.id)).toBe('Inactive');
    expect(await activities.revokeCredential({ incidentId, kind: 'aws-access-key', value: k.id })).toMatchObject({ outcome: 'already_revoked' });
    expect(await activities.verifyCredential({ incidentId, kind: 'aws-access-key', value: k.id, secret: k.secret })).toMatchObject({ outcome: 'invalid' });
    // Nothing in what the activities answer carries the secret.
    expect(JSON.stringify(live)).not.toContain(k.secret);
  });

  it('calls a made-up AWS key invalid (with its secret) or unknown (without), and revokes nothing', async () => {
    const fake = { id: 'AKIAQ3EGRHJKLMNOPQRS', secret: 'wJalrXUtnFEMIK7MDENGbPxRfiCYzEXAMPLEKEYq' };
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'aws-access-key', value: fake.id, secret: fake.secret })).toMatchObject({ outcome: 'invalid', revocable: false });
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'aws-access-key', value: fake.id })).toMatchObject({ outcome: 'unknown', revocable: false });
    expect(await activities.revokeCredential({ incidentId: 'i', kind: 'aws-access-key', value: fake.id })).toMatchObject({ outcome: 'not_revocable' });
  });

  it('verifies a GitHub token with GET /user and revokes it through POST /credentials/revoke', async () => {
    const token = github.createToken('octocat');
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'github-token', value: token })).toMatchObject({ outcome: 'live', principal: 'octocat', revocable: true });
    expect(await activities.revokeCredential({ incidentId: 'i', kind: 'github-token', value: token })).toMatchObject({ outcome: 'revoked' });
    expect(github.isLive(token)).toBe(false);
    expect(github.revocations).toHaveLength(1);
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'github-token', value: token })).toMatchObject({ outcome: 'invalid' });
    // The revocation request goes out unauthenticated, as GitHub requires.
    expect(github.calls.filter((c) => c.path === '/credentials/revoke').map((c) => c.status)).toEqual([202]);
    // Revoking it again asks GitHub first and finds nothing to do: no second revocation request.
    expect(await activities.revokeCredential({ incidentId: 'i', kind: 'github-token', value: token })).toMatchObject({ outcome: 'already_revoked' });
    expect(github.calls.filter((c) => c.path === '/credentials/revoke')).toHaveLength(1);
  });

  it('calls a made-up GitHub token invalid', async () => {
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'github-token', value: `ghp_${'a1B2'.repeat(9)}` })).toMatchObject({ outcome: 'invalid', revocable: false });
  });

  it('retries GitHub outages and its hourly revocation limit, and fails for good on a refused request', async () => {
    github.fault('/user', 503);
    const err = await activities.verifyCredential({ incidentId: 'i', kind: 'github-token', value: github.createToken('u') }).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: FailureType.CredentialTransient, nonRetryable: false });
    const limited = await new GithubSimulator({ revokesPerHour: 0 }).start();
    try {
      const a = createCredentialActivities({ iam, sts: new STSClient(own), stsAs: () => new STSClient(own), slackApiUrl: 'http://127.0.0.1:9/api/', githubApiUrl: limited.url });
      const spammed = await a.revokeCredential({ incidentId: 'i', kind: 'github-token', value: limited.createToken('u') }).catch((e: unknown) => e);
      expect(spammed).toMatchObject({ type: FailureType.CredentialTransient });
    } finally {
      await limited.stop();
    }
    github.fault('/credentials/revoke', 400);
    const refused = await activities.revokeCredential({ incidentId: 'i', kind: 'github-token', value: github.createToken('u') }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ type: FailureType.CredentialPermanent, nonRetryable: true });
    expect((refused as Error).message).not.toContain('ghp_');
  });

  it('verifies a Slack token with auth.test and revokes it with auth.revoke; later calls with it fail token_revoked', async () => {
    const token = slack.workspace.issueToken('U0ALICE01', 'user');
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'slack-token', value: token })).toMatchObject({ outcome: 'live', principal: 'U0ALICE01@T0SENTNL1', revocable: true });
    expect(await activities.revokeCredential({ incidentId: 'i', kind: 'slack-token', value: token })).toMatchObject({ outcome: 'revoked' });
    const later = await fetch(`${slack.apiUrl}conversations.list`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
    expect(later).toEqual({ ok: false, error: 'token_revoked' });
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'slack-token', value: token })).toMatchObject({ outcome: 'invalid', detail: 'auth.test: token_revoked' });
    expect(await activities.revokeCredential({ incidentId: 'i', kind: 'slack-token', value: token })).toMatchObject({ outcome: 'already_revoked' });
    // A made-up token of the right shape is invalid and nothing is revoked.
    expect(await activities.verifyCredential({ incidentId: 'i', kind: 'slack-token', value: `xoxb-${'1'.repeat(12)}-${'2'.repeat(13)}-${'a'.repeat(24)}` })).toMatchObject({ outcome: 'invalid', detail: 'auth.test: invalid_auth' });
  });

  it('says installation tokens cannot be revoked on request', async () => {
    expect(await activities.revokeCredential({ incidentId: 'i', kind: 'github-token', value: `ghs_${'x'.repeat(36)}` })).toMatchObject({ outcome: 'not_revocable' });
  });
});
