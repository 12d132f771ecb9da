/**
 * Maps @slack/web-api errors to Temporal failures that say whether to retry. The WebClient's own
 * retries are off (see slack-client.ts): Temporal owns retrying, so attempts show in history.
 */
import { ApplicationFailure } from '@temporalio/common';
import { ErrorCode, type WebAPICallError } from '@slack/web-api';
import { FailureType } from '../workflows/failures';

function isSlackError(err: unknown): err is WebAPICallError {
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('slack_webapi_');
}

/** A Temporal failure for an error raised by a Slack Web API call to `method`. */
export function slackFailure(err: unknown, method: string): ApplicationFailure {
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
    case ErrorCode.HTTPError:
      return ApplicationFailure.create({ type: FailureType.SlackTransient, message: `${method} answered HTTP ${err.statusCode}` });
    case ErrorCode.RequestError:
      return ApplicationFailure.create({ type: FailureType.SlackTransient, message: `${method} request failed: ${err.original.message}` });
    case ErrorCode.PlatformError:
      return ApplicationFailure.create({
        type: FailureType.SlackPermanent,
        nonRetryable: true,
        message: `${method} refused: ${err.data.error}`,
        details: [{ method, error: err.data.error }],
      });
  }
}

/** The Slack `error` code of a platform error, if `err` is one. */
export function slackErrorCode(err: unknown): string | undefined {
  return isSlackError(err) && err.code === ErrorCode.PlatformError ? err.data.error : undefined;
}
