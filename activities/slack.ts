/**
 * Slack side effects of an incident. Each is idempotent: a retry after a success that was not
 * recorded (a worker died) does not delete, tell or post twice. Posts are de-duplicated through the
 * notice ledger (notice-ledger.ts) and Slack message metadata, whatever the number of messages since.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorCode, type WebClient } from '@slack/web-api';
import { FailureType, notifyKey, type MessageRef, type PostOutcome, type SlackActivities } from '../contract';
import type { AuditWriter } from './audit';
import { composeSecurityBlocks, composeSecurityDigest, composeUserDigest, NoticeBatcher, type Notice } from './notice-batcher';
import { MAX_INCIDENTS_PER_MESSAGE, type Block } from './summary-blocks';
import type { NoticeLedger } from './notice-ledger';
import { activityMetrics } from './metrics';
import { BudgetExceeded, SlackBudgets } from './slack-budget';
import { slackErrorCode, slackFailure } from './slack-failure';

export interface SlackClients {
  /** A workspace admin's user token: deletes other people's messages. */
  admin: WebClient;
  /** The bot's token: posts notifications and summaries. */
  bot?: WebClient;
}

/** Marks Sentinel's own posts so that a retry can find them (Slack message metadata). */
const METADATA_TYPE = 'sentinel_notice';

/** Clocks differ: a post is looked for from this long before its intent was written. */
const CLOCK_SKEW_MS = 60_000;

/**
 * Whether a failed post certainly did not go out: Slack answered with an error (an HTTP status, a
 * 429, ok:false) or our own budget held it back. A timeout or a dropped connection may have posted.
 */
function certainlyNotPosted(err: unknown): boolean {
  if (err instanceof BudgetExceeded) return true;
  const code = (err as { code?: unknown }).code;
  return code === ErrorCode.PlatformError || code === ErrorCode.RateLimitedError || code === ErrorCode.HTTPError;
}

/** Whether a message's metadata payload names `key` (a digest names every notice it carries). */
function carries(payload: unknown, key: string): boolean {
  const p = payload as { key?: unknown; keys?: unknown } | undefined;
  return p?.key === key || (typeof p?.keys === 'string' && p.keys.split(' ').includes(key));
}

/** Records a failed attempt in the audit trail before Temporal retries it. */
async function auditAttempt(audit: AuditWriter | undefined, incidentId: string | undefined, step: string, err: unknown): Promise<void> {
  if (!audit || !incidentId) return;
  const { attempt } = Context.current().info;
  await audit
    .append(
      { incidentId, at: new Date().toISOString(), kind: 'attempt', step, outcome: 'failed', attempt, detail: (err as Error)?.message ?? String(err) },
      `${incidentId}#${step}#attempt-${attempt}`,
    )
    .catch(() => undefined); // the trail of attempts must never be what fails an attempt
}

export interface SlackActivityOptions {
  /** Per-method budgets of this worker (calls per second; see budgetOf). */
  budgets?: Record<string, number>;
  /** Notifications to one channel closer together than this share a digest message; 0: never. */
  digestIntervalMs?: number;
}

export function createSlackActivities(slack: SlackClients, ledger: NoticeLedger, audit?: AuditWriter, options: SlackActivityOptions = {}) {
  const bot = () => {
    if (slack.bot) return slack.bot;
    throw ApplicationFailure.create({ type: FailureType.SlackPermanent, nonRetryable: true, message: 'SLACK_BOT_TOKEN is not configured on this worker; notifications need the bot token' });
  };
  const budgets = new SlackBudgets(options.budgets ?? {});

  /** One Web API call within its method's budget; a 429 holds the method back for Slack's Retry-After. */
  async function call<T>(method: string, run: () => Promise<T>): Promise<T> {
    try {
      await budgets.acquire(method);
    } catch (err) {
      activityMetrics.slackCalls.inc({ method, outcome: 'over_budget' });
      throw err;
    }
    try {
      const result = await run();
      activityMetrics.slackCalls.inc({ method, outcome: 'ok' });
      return result;
    } catch (err) {
      const code = (err as { code?: string }).code;
      const retryAfter = code === ErrorCode.RateLimitedError ? (err as { retryAfter: number }).retryAfter : undefined;
      if (retryAfter !== undefined) budgets.rateLimited(method, retryAfter);
      const outcome = retryAfter !== undefined ? 'rate_limited' : code === ErrorCode.PlatformError ? 'error' : code === ErrorCode.HTTPError ? 'http_error' : 'network_error';
      activityMetrics.slackCalls.inc({ method, outcome });
      throw err;
    }
  }

  /** IM channel ids per user: Slack keeps one IM per user and bot, so one conversations.open each will do. */
  const ims = new Map<string, string>();
  async function imOf(user: string): Promise<string> {
    let id = ims.get(user);
    if (!id) {
      id = (await call('conversations.open', () => bot().conversations.open({ users: user }))).channel!.id!;
      ims.set(user, id);
    }
    return id;
  }

  /**
   * Posts a message that carries the idempotency keys of every notice in it (message metadata);
   * with `blocks`, `text` is the fallback notifications show (https://api.slack.com/methods/chat.postMessage).
   */
  async function postMessage(channel: string, text: string, keys: string[], blocks?: Block[]): Promise<string> {
    const metadata = { event_type: METADATA_TYPE, event_payload: { key: keys[0]!, keys: keys.join(' ') } };
    const r = await call('chat.postMessage', () => bot().chat.postMessage({ channel, text, metadata, ...(blocks ? { blocks } : {}) }));
    return r.ts ?? '';
  }

  const interval = { intervalMs: options.digestIntervalMs ?? 0 };
  const userDigests = new NoticeBatcher(postMessage, composeUserDigest, interval);
  // A digest's blocks stay within Slack's 50 per message: a header and two per incident.
  const securityDigests = new NoticeBatcher(postMessage, composeSecurityDigest, { ...interval, composeBlocks: composeSecurityBlocks, maxPerMessage: Math.min(20, MAX_INCIDENTS_PER_MESSAGE) });

  /** The post carrying `key` in `channel` since `sinceMs`, read page by page: by time, not by a count of recent messages. */
  async function findPost(channel: string, key: string, sinceMs: number): Promise<string | undefined> {
    const oldest = ((sinceMs - CLOCK_SKEW_MS) / 1000).toFixed(6);
    let cursor: string | undefined;
    do {
      const page = await call('conversations.history', () => bot().conversations.history({ channel, oldest, limit: 200, include_all_metadata: true, ...(cursor ? { cursor } : {}) }));
      const hit = page.messages?.find((m) => carries((m as { metadata?: { event_payload?: unknown } }).metadata?.event_payload, key));
      if (hit?.ts) return hit.ts;
      cursor = page.response_metadata?.next_cursor || undefined;
    } while (cursor);
    return undefined;
  }

  /**
   * Posts `text` to `channel` once per `key`, alone or in a digest. The intent is written down
   * before the post and the outcome after; only a retry that finds an intent without an outcome (a
   * worker died in between) reads the channel, from the intent's time on, to see whether it went out.
   */
  async function postOnce(channel: string, text: string, key: string, digest?: NoticeBatcher, controls?: Notice['controls']): Promise<PostOutcome> {
    const record = await ledger.get(key);
    if (record?.state === 'posted') return 'already_posted';
    if (record?.state === 'intent') {
      const ts = await findPost(channel, key, record.at);
      if (ts) {
        await ledger.put(key, { state: 'posted', at: Date.now(), channel, ts });
        return 'already_posted';
      }
    } else {
      await ledger.put(key, { state: 'intent', at: Date.now() });
    }
    let ts: string;
    try {
      const blocks = controls ? composeSecurityBlocks([{ key, text, controls }]) : undefined;
      ts = digest ? await digest.send(channel, { key, text, ...(controls ? { controls } : {}) }) : await postMessage(channel, text, [key], blocks);
    } catch (err) {
      // Slack answered with a refusal (or the call never left): nothing was posted, so the retry need not look.
      if (certainlyNotPosted(err)) await ledger.clear(key).catch(() => undefined);
      throw err;
    }
    await ledger.put(key, { state: 'posted', at: Date.now(), channel, ts });
    return 'posted';
  }

  /**
   * An ephemeral note once per key, as far as it can be: Slack cannot read ephemeral messages back,
   * so a worker that dies between the post and the ledger's outcome leaves it unknown whether the
   * note went out; the retry posts it again (at least once, rather than perhaps never).
   */
  async function ephemeralOnce(channel: string, user: string, text: string, key: string): Promise<PostOutcome> {
    if ((await ledger.get(key))?.state === 'posted') return 'already_posted';
    await ledger.put(key, { state: 'intent', at: Date.now() });
    const r = await call('chat.postEphemeral', () => bot().chat.postEphemeral({ channel, user, text }));
    await ledger.put(key, { state: 'posted', at: Date.now(), channel, ts: r.message_ts ?? '' });
    return 'posted';
  }

  return {
    /** Deletes the message; a message already gone counts as deleted. */
    async deleteMessage(ref: MessageRef & { incidentId?: string }) {
      try {
        await call('chat.delete', () => slack.admin.chat.delete({ channel: ref.channel, ts: ref.ts }));
        return 'deleted';
      } catch (err) {
        if (slackErrorCode(err) === 'message_not_found') return 'already_gone';
        await auditAttempt(audit, ref.incidentId, 'delete', err);
        throw slackFailure(err, 'chat.delete');
      }
    },

    /**
     * Replaces the message's text with the admin token (https://api.slack.com/methods/chat.update,
     * Tier 3). Editing the same text again is harmless, so a retry needs no ledger. A message gone
     * has nothing left to hide; an edit Slack refuses (cant_update_message: the token may not edit
     * this author's messages; edit_window_closed: the workspace's edit window) deletes it instead.
     */
    async updateMessage(u) {
      try {
        await call('chat.update', () => slack.admin.chat.update({ channel: u.channel, ts: u.ts, text: u.text }));
        return 'updated';
      } catch (err) {
        const code = slackErrorCode(err);
        if (code === 'message_not_found') return 'already_gone';
        if (code !== 'cant_update_message' && code !== 'edit_window_closed') {
          await auditAttempt(audit, u.incidentId, u.step, err);
          throw slackFailure(err, 'chat.update');
        }
      }
      try {
        await call('chat.delete', () => slack.admin.chat.delete({ channel: u.channel, ts: u.ts }));
        return 'deleted_instead';
      } catch (err) {
        if (slackErrorCode(err) === 'message_not_found') return 'already_gone';
        await auditAttempt(audit, u.incidentId, u.step, err);
        throw slackFailure(err, 'chat.delete (the edit was refused)');
      }
    },

    async notifyUser(n) {
      try {
        const key = notifyKey(n.incidentId);
        if (n.mode === 'ephemeral') return await ephemeralOnce(n.channel, n.user, n.text, key);
        return await postOnce(await imOf(n.user), n.text, key, userDigests);
      } catch (err) {
        await auditAttempt(audit, n.incidentId, 'notify', err);
        throw slackFailure(err, 'notify');
      }
    },

    async postSecurityNotice(n) {
      try {
        const controls = n.controls?.length ? { incidentId: n.incidentId, controls: n.controls } : undefined;
        return await postOnce(n.channel, n.text, n.key, n.digest ? securityDigests : undefined, controls);
      } catch (err) {
        await auditAttempt(audit, n.incidentId, n.key.split('#').pop() ?? 'notice', err);
        throw slackFailure(err, 'chat.postMessage');
      }
    },

    async directMessage(n) {
      try {
        return await postOnce(await imOf(n.user), n.text, n.key);
      } catch (err) {
        throw slackFailure(err, 'direct message');
      }
    },

    async managerOf(user) {
      try {
        const info = await call('users.info', () => bot().users.info({ user }));
        const manager = (info.user?.profile as { manager?: unknown } | undefined)?.manager;
        return typeof manager === 'string' ? manager : undefined;
      } catch (err) {
        throw slackFailure(err, 'users.info');
      }
    },
  } satisfies SlackActivities;
}
