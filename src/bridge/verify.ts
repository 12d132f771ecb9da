/**
 * Slack request signing (v0): HMAC-SHA256 of `v0:<timestamp>:<raw body>` under the app's signing
 * secret, compared in constant time, with the timestamp no more than five minutes off. Checked on
 * the raw bytes before anything parses them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_SKEW_SECONDS = 5 * 60;

export type Verdict = { ok: true } | { ok: false; reason: string };

/** The v0 signature Slack would send for `body` at `timestamp`. */
export function signature(secret: string, timestamp: string, body: Buffer | string): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${timestamp}:`).update(body).digest('hex');
}

export function verifySlackRequest(secret: string, timestamp: string | undefined, sig: string | undefined, body: Buffer, nowSeconds = Math.floor(Date.now() / 1000)): Verdict {
  if (!timestamp || !/^\d{1,12}$/.test(timestamp)) return { ok: false, reason: 'missing or malformed X-Slack-Request-Timestamp' };
  if (Math.abs(nowSeconds - Number(timestamp)) > MAX_SKEW_SECONDS) return { ok: false, reason: 'stale X-Slack-Request-Timestamp (more than 5 minutes off)' };
  if (!sig || !/^v0=[0-9a-f]{64}$/.test(sig)) return { ok: false, reason: 'missing or malformed X-Slack-Signature' };
  const expected = Buffer.from(signature(secret, timestamp, body));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { ok: false, reason: 'bad X-Slack-Signature' };
  return { ok: true };
}
