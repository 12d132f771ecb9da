/**
 * The incident search attributes of ARCHITECTURE.md. The dev stack registers them at server start;
 * production clusters register them once with `temporal operator search-attribute create`.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SentinelRule = defineSearchAttributeKey('SentinelRule', SearchAttributeType.KEYWORD);
export const SentinelSeverity = defineSearchAttributeKey('SentinelSeverity', SearchAttributeType.KEYWORD);
export const SentinelStatus = defineSearchAttributeKey('SentinelStatus', SearchAttributeType.KEYWORD);
export const SentinelUser = defineSearchAttributeKey('SentinelUser', SearchAttributeType.KEYWORD);
export const SentinelChannel = defineSearchAttributeKey('SentinelChannel', SearchAttributeType.KEYWORD);
export const SentinelTeam = defineSearchAttributeKey('SentinelTeam', SearchAttributeType.KEYWORD);
export const SentinelActions = defineSearchAttributeKey('SentinelActions', SearchAttributeType.KEYWORD_LIST);
/** What the provider said of a leaked credential: live, invalid or unknown (set by the verify step). */
export const SentinelCredential = defineSearchAttributeKey('SentinelCredential', SearchAttributeType.KEYWORD);

/** Every key, for registration. */
export const allSearchAttributes = [
  SentinelRule,
  SentinelSeverity,
  SentinelStatus,
  SentinelUser,
  SentinelChannel,
  SentinelTeam,
  SentinelActions,
  SentinelCredential,
] as const;
