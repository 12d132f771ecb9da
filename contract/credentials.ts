/**
 * Leaked credentials that Sentinel can verify with their provider and revoke: which rules find
 * them, and what the verify and revoke activities take and answer. The credential itself travels
 * only inside the incident's encrypted payload (see the payload codec); nothing here is logged.
 */

/** The providers Sentinel verifies and revokes with. */
export type CredentialKind = 'aws-access-key' | 'slack-token' | 'github-token';

/** What the provider says about a credential: it authenticates, it does not, or it could not tell. */
export type Liveness = 'live' | 'invalid' | 'unknown';

export interface LeakedCredential {
  kind: CredentialKind;
  /** The token, or the AWS access key id. */
  value: string;
  /** AWS: the secret access key, when it leaked in the same message. */
  secret?: string;
}

export interface Verification {
  outcome: Liveness;
  /** Who the credential belongs to, when the provider said (an IAM user ARN, a Slack user@team, a GitHub login). */
  principal?: string;
  /** Whether Sentinel's own credentials can revoke it (AWS: a key of the account Sentinel runs in). */
  revocable: boolean;
  detail: string;
}

export interface Revocation {
  outcome: 'revoked' | 'already_revoked' | 'not_revocable';
  detail: string;
}

export interface CredentialActivities {
  /** Asks the provider whether the credential is live; never changes it. */
  verifyCredential(c: LeakedCredential & { incidentId: string }): Promise<Verification>;
  /** Disables the credential (AWS key → Inactive, Slack auth.revoke, GitHub credential revocation). */
  revokeCredential(c: LeakedCredential & { incidentId: string; principal?: string }): Promise<Revocation>;
}

/**
 * The rules whose value is a credential of each kind. GitHub's revocation API takes classic and
 * fine-grained personal access tokens, OAuth tokens, user-to-server and refresh tokens
 * (https://docs.github.com/en/rest/credentials/revoke); installation tokens (ghs_) expire within
 * an hour and are verified only. Slack's auth.test and auth.revoke take bot and user tokens
 * (https://api.slack.com/methods/auth.test, https://api.slack.com/methods/auth.revoke).
 */
export const CREDENTIAL_RULES: Readonly<Record<string, CredentialKind>> = {
  'aws-access-key-id': 'aws-access-key',
  'github-pat': 'github-token',
  'github-fine-grained-pat': 'github-token',
  'github-oauth-token': 'github-token',
  'github-user-token': 'github-token',
  'github-refresh-token': 'github-token',
  'github-server-token': 'github-token',
  'slack-bot-token': 'slack-token',
  'slack-user-token': 'slack-token',
};
