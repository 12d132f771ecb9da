/**
 * Leaked credentials verified and revoked end to end on real servers: the detector finds them, the
 * incident deletes the message, asks the provider whether the credential is live (moto's STS and
 * IAM, the Slack simulator's auth.test, the GitHub simulator's GET /user), tells the security
 * channel, waits for an operator's approval and disables it there — once. A made-up credential of
 * the right shape is called invalid and nothing is revoked. The secret is never in the state, the
 * audit trail, the search attributes or the summary.
 */
import { randomUUID } from 'node:crypto';
import { CreateAccessKeyCommand, CreateUserCommand, IAMClient, ListAccessKeysCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { IncidentState } from '../../contract';
import { readAuditTrail } from '../../src/incidents/audit-trail';
import { GithubSimulator } from '../../src/github-sim/server';
import { eventually, incidentResult, startHarness, type Harness, postAndPublish, stateWhen } from '../support/harness';

const TEAM = 'T0SENTNL1';

describe('leaked credentials verified and revoked', () => {
  let h: Harness;
  const iam = new IAMClient({ region: 'us-east-1', endpoint: inject('stack').kmsEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  const post = (text: string) => postAndPublish(h, 'U0ALICE01', 'C0GENERAL', text);
  const idOf = (ts: string, rule: string) => `incident/slack/${TEAM}/C0GENERAL/${ts}/${rule}`;
  const stateOf = (id: string, status: IncidentState['status']) => stateWhen(h.client, id, status, 60_000);
  const approve = (id: string) => h.client.workflow.getHandle(id).executeUpdate('approveRevocation', { args: [{ by: 'U0ADMIN01', reason: 'confirmed leak' }] });
  /** Everything an operator or a log reader could see of the incident, as one string. */
  const visible = async (id: string) => {
    const handle = h.client.workflow.getHandle(id);
    const [state, description, trail] = await Promise.all([handle.query<IncidentState>('state'), handle.describe(), readAuditTrail(h.nc, id)]);
    const summaries = h.sim.workspace.history('C0SECURIT').map((m) => m.text);
    return JSON.stringify({ state, searchAttributes: description.searchAttributes, trail, summaries });
  };

  it('verifies a leaked AWS key pair live with STS, sets it Inactive in IAM once approved, and never shows the secret', async () => {
    const user = `leaker-${randomUUID().slice(0, 8)}`;
    await h.client.connection.ensureConnected();
    await iam.send(new CreateUserCommand({ UserName: user }));
    const key = (await iam.send(new CreateAccessKeyCommand({ UserName: user }))).AccessKey!;
    const message = await post(`prod creds, do not share:\naws_access_key_id = ${key.AccessKeyId}\naws_secret_access_key = ${key.SecretAccessKey}`);
    const id = idOf(message.ts, 'aws-access-key-id');
    const waiting = await stateOf(id, 'awaiting_approval');
    expect(waiting.credential).toMatchObject({ kind: 'aws-access-key', outcome: 'live', revocable: true, principal: `arn:aws:iam::123456789012:user/${user}` });
    expect(waiting.severity).toBe('critical');
    // The message also opened the secret-key rule's incident: whichever deleted it first, it is gone once.
    expect(waiting.steps.map((s) => s.step)).toEqual(['delete', 'notify', 'verify', 'summary', 'report']);
    expect(waiting.steps.filter((s) => s.outcome === 'failed')).toEqual([]);
    expect(h.sim.okCalls('chat.delete').filter((c) => c.args.ts === message.ts)).toHaveLength(1);
    expect((await h.client.workflow.getHandle(id).describe()).searchAttributes.SentinelCredential).toEqual(['live']);
    await eventually('the summary to say the key is live', () => h.sim.workspace.history('C0SECURIT').some((m) => m.text.includes(id) && m.text.includes('LIVE')));
    await approve(id);
    const done = await incidentResult<IncidentState>(h.client, id);
    expect(done.status).toBe('resolved');
    expect(done.steps.at(-1)).toMatchObject({ step: 'revoke_credential', outcome: 'done' });
    const keys = (await iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata!;
    expect(keys.find((k) => k.AccessKeyId === key.AccessKeyId)?.Status).toBe('Inactive');
    const seen = await visible(id);
    expect(seen).not.toContain(key.SecretAccessKey);
    expect(seen).not.toContain(key.AccessKeyId);
    const trail = await readAuditTrail(h.nc, id);
    expect(trail.filter((r) => r.step === 'revoke_credential' && r.kind === 'action').map((r) => r.outcome)).toEqual(['done']);
  });

  it('revokes a live GitHub token through the GitHub API once approved', async () => {
    const token = h.github.createToken('octo-leaker');
    const message = await post(`CI token: ${token}`);
    const id = idOf(message.ts, 'github-pat');
    const waiting = await stateOf(id, 'awaiting_approval');
    expect(waiting.credential).toMatchObject({ kind: 'github-token', outcome: 'live', principal: 'octo-leaker' });
    await approve(id);
    expect((await incidentResult<IncidentState>(h.client, id)).status).toBe('resolved');
    expect(h.github.isLive(token)).toBe(false);
    expect(h.github.revocations.filter((r) => r.login === 'octo-leaker')).toHaveLength(1);
    expect(await visible(id)).not.toContain(token);
  });

  it('revokes a live Slack token with auth.revoke once approved: later calls with it fail token_revoked', async () => {
    const token = h.sim.workspace.issueToken('U0BOB0001', 'user');
    const message = await post(`try my token ${token}`);
    const id = idOf(message.ts, 'slack-user-token');
    const waiting = await stateOf(id, 'awaiting_approval');
    expect(waiting.credential).toMatchObject({ kind: 'slack-token', outcome: 'live', principal: 'U0BOB0001@T0SENTNL1' });
    await approve(id);
    expect((await incidentResult<IncidentState>(h.client, id)).status).toBe('resolved');
    const later = await fetch(`${h.sim.apiUrl}auth.test`, { method: 'POST', headers: { authorization: `Bearer ${token}` } }).then((r) => r.json());
    expect(later).toEqual({ ok: false, error: 'token_revoked' });
    expect(await visible(id)).not.toContain(token);
  });

  it('calls a made-up token of the right shape invalid, revokes nothing and asks no one', async () => {
    // The right shape, never issued: the simulator does not know it.
    const fake = new GithubSimulator().createToken('nobody');
    const revocationsBefore = h.github.revocations.length;
    const message = await post(`old token ${fake}`);
    const id = idOf(message.ts, 'github-pat');
    const state = await incidentResult<IncidentState>(h.client, id);
    expect(state.status).toBe('resolved');
    expect(state.credential).toMatchObject({ kind: 'github-token', outcome: 'invalid' });
    expect(state.severity).toBeUndefined();
    expect(state.steps.find((s) => s.step === 'revoke_credential')).toMatchObject({ outcome: 'skipped', detail: 'credential invalid: nothing to revoke' });
    expect(h.github.revocations.length).toBe(revocationsBefore);
  });
});
