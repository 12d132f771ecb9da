/** Failure types that activities raise and workflows act on: one list, shared by both sides. */
export const FailureType = {
  /** Slack refused for good (cant_delete_message, invalid_auth, channel_not_found, …): an operator must act. */
  SlackPermanent: 'SlackPermanent',
  /** Slack answered 429: retried after its Retry-After. */
  SlackRateLimited: 'SlackRateLimited',
  /** Slack or the network failed for now (5xx, timeout, reset): retried with backoff. */
  SlackTransient: 'SlackTransient',
  /** KMS refused for good (NotFoundException, an invalid ARN, access denied): an operator must act. */
  KmsPermanent: 'KmsPermanent',
  /** KMS or the network failed for now (throttling, 5xx, timeout): retried with backoff. */
  KmsTransient: 'KmsTransient',
  /** A credential's provider refused for good (Sentinel's own access denied, a malformed request): an operator must act. */
  CredentialPermanent: 'CredentialPermanent',
  /** A credential's provider or the network failed for now (5xx, throttling, timeout): retried with backoff. */
  CredentialTransient: 'CredentialTransient',
  /** A quarantined copy that cannot be opened (a codec key no longer configured, a copy not this incident's): an operator must act. */
  QuarantinePermanent: 'QuarantinePermanent',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];
