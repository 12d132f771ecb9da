/** WebClients for activities: Slack's own retries off, rate limits surfaced as errors, so Temporal retries. */
import { WebClient } from '@slack/web-api';

export function activityWebClient(token: string, apiUrl: string): WebClient {
  return new WebClient(token, {
    slackApiUrl: apiUrl,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
  });
}
