/**
 * Verifying and revoking leaked credentials with their providers. Runs only on the credentials task
 * queue, whose workers alone hold the outbound credentials (IAM rights in Sentinel's AWS account).
 * Each call is idempotent: verification changes nothing, and revoking what is already revoked says
 * so. Errors the provider will not get over (access denied to Sentinel itself, a malformed request)
 * fail for good, for an operator; network errors, 5xx and throttling are retried by Temporal. The
 * credential is never logged and never put into an error message: only kinds, principals and
 * provider error codes are.
 *
 * Provider behaviour used here:
 * - AWS: STS GetCallerIdentity with the leaked key pair answers who it is, or
 *   InvalidClientTokenId / SignatureDoesNotMatch for a key that is unknown, inactive or deleted
 *   (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html). With
 *   Sentinel's own rights, IAM GetAccessKeyLastUsed names the user that owns a key of its account
 *   (NoSuchEntity otherwise), ListAccessKeys gives the key's Status, and UpdateAccessKey sets it
 *   Inactive (https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAccessKey.html).
 *   moto answers GetCallerIdentity for any key (without its optional auth), so the verdict also
 *   asks IAM whenever the key claims Sentinel's own account, where IAM knows every key.
 * - Slack: auth.test with the token (ok, or invalid_auth / token_revoked / account_inactive /
 *   token_expired / not_authed), auth.revoke with the token itself (https://api.slack.com/methods/auth.revoke).
 * - GitHub: GET /user with the token (200 or 401), and POST /credentials/revoke, unauthenticated,
 *   `{"credentials": [token]}` → 202 (https://docs.github.com/en/rest/credentials/revoke).
 */
import { GetAccessKeyLastUsedCommand, IAMServiceException, ListAccessKeysCommand, UpdateAccessKeyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSServiceException, type STSClient } from '@aws-sdk/client-sts';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType, type CredentialActivities, type LeakedCredential, type Revocation, type Verification } from '../contract';
import { activityMetrics } from './metrics';

export interface CredentialClients {
  /** IAM with Sentinel's own credentials. */
  iam: IAMClient;
  /** STS with Sentinel's own credentials (which account Sentinel runs in). */
  sts: STSClient;
  /** STS signing with the leaked key pair. */
  stsAs: (accessKeyId: string, secretAccessKey: string) => STSClient;
  /** Slack Web API base URL, ending in `/` (https://slack.com/api/). */
  slackApiUrl: string;
  /** GitHub REST API base URL (https://api.github.com). */
  githubApiUrl: string;
  /** Per-request timeout of the HTTP providers; default 10 s. */
  timeoutMs?: number;
}

/** Slack's answers that mean the token does not authenticate (https://api.slack.com/methods/auth.test#errors). */
const SLACK_DEAD = new Set(['invalid_auth', 'token_revoked', 'account_inactive', 'token_expired', 'not_authed', 'no_permission', 'org_login_required', 'ekm_access_denied']);
/** AWS error codes meaning the leaked key pair does not authenticate. */
const AWS_DEAD = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'ExpiredToken', 'UnrecognizedClientException']);
/** AWS error codes about Sentinel's own rights or request: retrying will not help. */
const AWS_PERMANENT = new Set(['AccessDenied', 'AccessDeniedException', 'InvalidClientTokenId', 'SignatureDoesNotMatch', 'ValidationError', 'InvalidInput', 'MalformedPolicyDocument']);

const transient = (message: string) => ApplicationFailure.create({ type: FailureType.CredentialTransient, message });
const permanent = (message: string) => ApplicationFailure.create({ type: FailureType.CredentialPermanent, nonRetryable: true, message });

function awsName(err: unknown): string {
  if (err instanceof IAMServiceException || err instanceof STSServiceException) return err.name;
  return (err as { name?: string })?.name ?? 'Error';
}

/** Sentinel's own AWS call failed: permanent for its rights, transient for the rest. */
function ownAwsFailure(what: string, err: unknown): ApplicationFailure {
  const name = awsName(err);
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const message = `${what}: AWS ${name}${status ? ` (HTTP ${status})` : ''}`;
  return AWS_PERMANENT.has(name) ? permanent(`${message}; check Sentinel's IAM rights`) : transient(message);
}

export function createCredentialActivities(c: CredentialClients) {
  const timeout = c.timeoutMs ?? 10_000;
  let ownAccount: Promise<string> | undefined;
  const account = (): Promise<string> => {
    ownAccount ??= c.sts.send(new GetCallerIdentityCommand({})).then(
      (r) => r.Account ?? '',
      (err: unknown) => {
        ownAccount = undefined;
        throw ownAwsFailure('GetCallerIdentity with Sentinel’s credentials', err);
      },
    );
    return ownAccount;
  };

  /** The owner and status of a key of Sentinel's account, or undefined when the account has no such key. */
  async function ownKey(accessKeyId: string): Promise<{ user: string; status: string } | undefined> {
    let user: string | undefined;
    try {
      user = (await c.iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: accessKeyId }))).UserName;
    } catch (err) {
      if (awsName(err) === 'NoSuchEntity' || awsName(err) === 'NoSuchEntityException') return undefined;
      throw ownAwsFailure('GetAccessKeyLastUsed', err);
    }
    if (!user) return undefined;
    try {
      const keys = (await c.iam.send(new ListAccessKeysCommand({ UserName: user }))).AccessKeyMetadata ?? [];
      const key = keys.find((k) => k.AccessKeyId === accessKeyId);
      return key ? { user, status: key.Status ?? 'Unknown' } : undefined;
    } catch (err) {
      if (awsName(err) === 'NoSuchEntity' || awsName(err) === 'NoSuchEntityException') return undefined;
      throw ownAwsFailure('ListAccessKeys', err);
    }
  }

  async function verifyAws(cred: LeakedCredential): Promise<Verification> {
    const mine = await account();
    const own = await ownKey(cred.value);
    if (own) {
      const principal = `arn:aws:iam::${mine}:user/${own.user}`;
      if (own.status !== 'Active') return { outcome: 'invalid', principal, revocable: true, detail: `key of ${principal} is ${own.status}` };
      return { outcome: 'live', principal, revocable: true, detail: `active key of ${principal}` };
    }
    if (!cred.secret) {
      return { outcome: 'unknown', revocable: false, detail: `not a key of account ${mine}; without its secret Sentinel cannot ask AWS whether it is live elsewhere` };
    }
    try {
      const who = await c.stsAs(cred.value, cred.secret).send(new GetCallerIdentityCommand({}));
      // AWS never authenticates a key of this account that IAM does not know; an emulator may.
      if (who.Account === mine) return { outcome: 'invalid', revocable: false, detail: `account ${mine} has no such key` };
      return { outcome: 'live', principal: who.Arn ?? `account ${who.Account}`, revocable: false, detail: `live key of another account (${who.Account}); only its owner can disable it` };
    } catch (err) {
      const name = awsName(err);
      if (AWS_DEAD.has(name)) return { outcome: 'invalid', revocable: false, detail: `AWS answered ${name}` };
      throw transient(`GetCallerIdentity with the leaked key: AWS ${name}`);
    }
  }

  async function revokeAws(cred: LeakedCredential): Promise<Revocation> {
    const own = await ownKey(cred.value);
    if (!own) return { outcome: 'not_revocable', detail: `not a key of account ${await account()}` };
    if (own.status === 'Inactive') return { outcome: 'already_revoked', detail: `key of user ${own.user} already Inactive` };
    try {
      await c.iam.send(new UpdateAccessKeyCommand({ UserName: own.user, AccessKeyId: cred.value, Status: 'Inactive' }));
    } catch (err) {
      throw ownAwsFailure('UpdateAccessKey', err);
    }
    return { outcome: 'revoked', detail: `key of user ${own.user} set Inactive` };
  }

  async function http(url: string, init: RequestInit, what: string): Promise<Response> {
    try {
      return await fetch(url, { ...init, signal: AbortSignal.timeout(timeout) });
    } catch (err) {
      throw transient(`${what}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${timeout} ms` : 'network error'}`);
    }
  }

  async function slack(method: 'auth.test' | 'auth.revoke', token: string): Promise<{ ok: boolean; error?: string; user_id?: string; team_id?: string; revoked?: boolean }> {
    const res = await http(new URL(method, c.slackApiUrl).toString(), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' }, body: '' }, `Slack ${method}`);
    if (res.status === 429 || res.status >= 500) throw transient(`Slack ${method}: HTTP ${res.status}`);
    const body = (await res.json().catch(() => undefined)) as { ok: boolean; error?: string } | undefined;
    if (!body || typeof body.ok !== 'boolean') throw transient(`Slack ${method}: HTTP ${res.status} without a Slack answer`);
    if (!body.ok && (body.error === 'ratelimited' || body.error === 'internal_error' || body.error === 'fatal_error' || body.error === 'service_unavailable')) throw transient(`Slack ${method}: ${body.error}`);
    return body;
  }

  async function verifySlack(cred: LeakedCredential): Promise<Verification> {
    const r = await slack('auth.test', cred.value);
    if (r.ok) return { outcome: 'live', principal: `${r.user_id ?? '?'}@${r.team_id ?? '?'}`, revocable: true, detail: 'auth.test ok' };
    if (r.error && SLACK_DEAD.has(r.error)) return { outcome: 'invalid', revocable: false, detail: `auth.test: ${r.error}` };
    return { outcome: 'unknown', revocable: false, detail: `auth.test: ${r.error ?? 'no error code'}` };
  }

  async function revokeSlack(cred: LeakedCredential): Promise<Revocation> {
    const r = await slack('auth.revoke', cred.value);
    if (r.ok) return { outcome: r.revoked === false ? 'already_revoked' : 'revoked', detail: 'auth.revoke ok' };
    if (r.error && SLACK_DEAD.has(r.error)) return { outcome: 'already_revoked', detail: `auth.revoke: ${r.error}` };
    throw permanent(`Slack auth.revoke: ${r.error ?? 'no error code'}`);
  }

  const github = (path: string) => new URL(path, c.githubApiUrl.endsWith('/') ? c.githubApiUrl : `${c.githubApiUrl}/`).toString();
  const githubHeaders = { accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'sentinel-dlp' };

  async function verifyGithub(cred: LeakedCredential): Promise<Verification> {
    const res = await http(github('user'), { headers: { ...githubHeaders, authorization: `Bearer ${cred.value}` } }, 'GitHub GET /user');
    if (res.status === 200) {
      const user = (await res.json().catch(() => ({}))) as { login?: string };
      return { outcome: 'live', principal: user.login ?? 'unknown login', revocable: !cred.value.startsWith('ghs_'), detail: 'GET /user 200' };
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.status === 401) return { outcome: 'invalid', revocable: false, detail: 'GET /user 401 Bad credentials' };
    // 403/429 are GitHub's rate limits; 5xx its outages.
    if (res.status === 403 || res.status === 429 || res.status >= 500) throw transient(`GitHub GET /user: HTTP ${res.status}`);
    return { outcome: 'unknown', revocable: false, detail: `GET /user HTTP ${res.status}` };
  }

  async function revokeGithub(cred: LeakedCredential): Promise<Revocation> {
    if (cred.value.startsWith('ghs_')) return { outcome: 'not_revocable', detail: 'installation tokens (ghs_) expire within an hour; GitHub does not revoke them on request' };
    // GitHub answers 202 whatever became of the token, so its own answer cannot say "already revoked".
    // Ask first: a token that no longer authenticates (revoked by an earlier attempt whose answer was
    // lost, or by its owner while the approval waited) needs nothing, and spares the hourly quota.
    const before = await verifyGithub(cred);
    if (before.outcome === 'invalid') return { outcome: 'already_revoked', detail: `${before.detail}: nothing left to revoke` };
    const res = await http(github('credentials/revoke'), { method: 'POST', headers: { ...githubHeaders, 'content-type': 'application/json' }, body: JSON.stringify({ credentials: [cred.value] }) }, 'GitHub POST /credentials/revoke');
    const text = await res.text().catch(() => '');
    if (res.status === 202 || res.status === 200 || res.status === 204) return { outcome: 'revoked', detail: 'POST /credentials/revoke 202' };
    // 422 is both "not a credential we take" and "spammed" (over 60 an hour): only the second passes with time.
    if (res.status === 422 && /spam/i.test(text)) throw transient('GitHub POST /credentials/revoke: over its hourly limit');
    if (res.status >= 500 || res.status === 429) throw transient(`GitHub POST /credentials/revoke: HTTP ${res.status}`);
    throw permanent(`GitHub POST /credentials/revoke: HTTP ${res.status}`);
  }

  const verifiers = { 'aws-access-key': verifyAws, 'slack-token': verifySlack, 'github-token': verifyGithub };
  const revokers = { 'aws-access-key': revokeAws, 'slack-token': revokeSlack, 'github-token': revokeGithub };
  /** Runs one provider call and counts its outcome (failed: it threw, to be retried or not). */
  async function counted<T extends { outcome: string }>(kind: string, operation: string, run: () => Promise<T>): Promise<T> {
    try {
      const r = await run();
      activityMetrics.credentials.inc({ kind, operation, outcome: r.outcome });
      return r;
    } catch (err) {
      activityMetrics.credentials.inc({ kind, operation, outcome: 'failed' });
      throw err;
    }
  }
  return {
    async verifyCredential(cred) {
      return counted(cred.kind, 'verify', () => verifiers[cred.kind](cred));
    },
    async revokeCredential(cred) {
      return counted(cred.kind, 'revoke', () => revokers[cred.kind](cred));
    },
  } satisfies CredentialActivities;
}
