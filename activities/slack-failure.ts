/**
 * Maps @slack/web-api errors to Temporal failures that say whether to retry. The WebClient's own
 * retries are off (see slack-client.ts): Temporal owns retrying, so attempts show in history.
 *
 * Slack answers most errors as HTTP 200 with `{ ok: false, error }`, transient ones included, so the
 * error code decides, not the HTTP status. Codes from Slack's Web API docs ("Errors" of chat.delete,
 * chat.postMessage, conversations.open, users.info, and the common errors every method can return):
 * https://api.slack.com/web#evaluating_responses, https://api.slack.com/methods/chat.postMessage#errors
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorCode, type WebAPICallError } from '@slack/web-api';
import { FailureType } from '../contract';
import { BudgetExceeded } from './slack-budget';

/** Slack's own trouble, or its answer "not now": retrying later can succeed. */
export const TRANSIENT_SLACK_ERRORS: ReadonlySet<string> = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
  'rate_limited',
  'team_added_to_org', // a workspace migration in progress
]);

/**
 * Refusals that stay refusals until someone changes something (a token, a scope, an invitation, the
 * message itself): retrying only spends budget. Listed so that the table documents them; any code
 * not in either list is treated as permanent too, with its code in the message, for an operator to read.
 */
export const PERMANENT_SLACK_ERRORS: ReadonlySet<string> = new Set([
  'account_inactive',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'missing_scope',
  'not_allowed_token_type',
  'no_permission',
  'restricted_action',
  'invalid_auth',
  'not_authed',
  'token_revoked',
  'token_expired',
  'cant_delete_message',
  'cant_update_message',
  'edit_window_closed',
  'compliance_exports_prevent_deletion',
  'user_not_found',
  'users_not_found',
  'user_disabled',
  'cannot_dm_bot',
  'invalid_metadata_format',
  'invalid_metadata_schema',
  'msg_too_long',
  'no_text',
]);

export type SlackErrorClass = 'transient' | 'permanent';

/** Whether Slack's `error` code is worth a retry. */
export function classifySlackError(code: string): SlackErrorClass {
  return TRANSIENT_SLACK_ERRORS.has(code) ? 'transient' : 'permanent';
}

/** Whether an HTTP status other than 200 is worth a retry: 5xx and 408 are Slack's or the network's trouble. */
export function classifyHttpStatus(status: number): SlackErrorClass {
  return status >= 500 || status === 408 ? 'transient' : 'permanent';
}

function isSlackError(err: unknown): err is WebAPICallError {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('slack_webapi_');
}

/** A Temporal failure for an error raised by a Slack Web API call to `method`. */
export function slackFailure(err: unknown, method: string): ApplicationFailure {
  if (err instanceof BudgetExceeded) {
    // Our own budget, not Slack's answer: come back when it has room.
    return ApplicationFailure.create({ type: FailureType.SlackRateLimited, message: `${method}: ${err.message}`, nextRetryDelay: `${Math.max(1, Math.ceil(err.waitMs / 1000))}s` });
  }
  if (!isSlackError(err)) {
    return ApplicationFailure.create({ type: FailureType.SlackTransient, message: `${method} failed: ${(err as Error)?.message ?? String(err)}` });
  }
  switch (err.code) {
    case ErrorCode.RateLimitedError:
      return ApplicationFailure.create({
        type: FailureType.SlackRateLimited,
        message: `${method} was rate limited; Slack asked to retry after ${err.retryAfter}s`,
        nextRetryDelay: `${Math.max(1, err.retryAfter)}s`,
      });
    case ErrorCode.HTTPError: {
      const message = `${method} answered HTTP ${err.statusCode}`;
      if (classifyHttpStatus(err.statusCode) === 'transient') return ApplicationFailure.create({ type: FailureType.SlackTransient, message });
      return ApplicationFailure.create({ type: FailureType.SlackPermanent, nonRetryable: true, message, details: [{ method, status: err.statusCode }] });
    }
    case ErrorCode.RequestError:
      return ApplicationFailure.create({ type: FailureType.SlackTransient, message: `${method} request failed: ${err.original.message}` });
    case ErrorCode.PlatformError: {
      const code = err.data.error;
      if (classifySlackError(code) === 'transient') {
        return ApplicationFailure.create({ type: FailureType.SlackTransient, message: `${method} failed for now: ${code}` });
      }
      return ApplicationFailure.create({ type: FailureType.SlackPermanent, nonRetryable: true, message: `${method} refused: ${code}`, details: [{ method, error: code }] });
    }
  }
}

/** The Slack `error` code of a platform error, if `err` is one. */
export function slackErrorCode(err: unknown): string | undefined {
  return isSlackError(err) && err.code === ErrorCode.PlatformError ? err.data.error : undefined;
}
