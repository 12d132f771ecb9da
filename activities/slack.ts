/**
 * Slack side effects of an incident. Each is idempotent: a retry after a success that was not
 * recorded (a worker died) does not delete, tell or post twice.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../workflows/failures';
import type { WebClient } from '@slack/web-api';
import type { AuditWriter } from './audit';
import { slackErrorCode, slackFailure } from './slack-failure';

export interface SlackClients {
  /** A workspace admin's user token: deletes other people's messages. */
  admin: WebClient;
  /** The bot's token: posts notifications and summaries. */
  bot?: WebClient;
}

export interface MessageRef {
  channel: string;
  ts: string;
}

/** Marks Sentinel's own posts so that a retry can find them (Slack message metadata). */
const METADATA_TYPE = 'sentinel_notice';

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

export function createSlackActivities(slack: SlackClients, audit?: AuditWriter) {
  const bot = () => {
    if (slack.bot) return slack.bot;
    throw ApplicationFailure.create({ type: FailureType.SlackPermanent, nonRetryable: true, message: 'SLACK_BOT_TOKEN is not configured on this worker; notifications need the bot token' });
  };

  /** Posts `text` to `channel` unless a post with this key is already among its recent messages. */
  async function postOnce(channel: string, text: string, key: string): Promise<'posted' | 'already_posted'> {
    const history = await bot().conversations.history({ channel, limit: 50, include_all_metadata: true });
    const seen = history.messages?.some((m) => (m as { metadata?: { event_payload?: { key?: string } } }).metadata?.event_payload?.key === key);
    if (seen) return 'already_posted';
    await bot().chat.postMessage({ channel, text, metadata: { event_type: METADATA_TYPE, event_payload: { key } } });
    return 'posted';
  }

  return {
    /** Deletes the message; a message already gone counts as deleted. */
    async deleteMessage(ref: MessageRef & { incidentId?: string }): Promise<'deleted' | 'already_gone'> {
      try {
        await slack.admin.chat.delete({ channel: ref.channel, ts: ref.ts });
        return 'deleted';
      } catch (err) {
        if (slackErrorCode(err) === 'message_not_found') return 'already_gone';
        await auditAttempt(audit, ref.incidentId, 'delete', err);
        throw slackFailure(err, 'chat.delete');
      }
    },

    /** Tells the author why: a direct message (once per incident), or an ephemeral note in the channel. */
    async notifyUser(n: { incidentId: string; user: string; channel: string; text: string; mode: 'dm' | 'ephemeral' }): Promise<'posted' | 'already_posted'> {
      try {
        if (n.mode === 'ephemeral') {
          await bot().chat.postEphemeral({ channel: n.channel, user: n.user, text: n.text });
          return 'posted';
        }
        const im = await bot().conversations.open({ users: n.user });
        return await postOnce(im.channel!.id!, n.text, `${n.incidentId}#notify`);
      } catch (err) {
        await auditAttempt(audit, n.incidentId, 'notify', err);
        throw slackFailure(err, 'notify');
      }
    },

    /** Posts to the security channel (summaries, escalations), once per key. */
    async postSecurityNotice(n: { incidentId: string; channel: string; text: string; key: string }): Promise<'posted' | 'already_posted'> {
      try {
        return await postOnce(n.channel, n.text, n.key);
      } catch (err) {
        await auditAttempt(audit, n.incidentId, n.key.split('#').pop() ?? 'notice', err);
        throw slackFailure(err, 'chat.postMessage');
      }
    },

    /** Direct message to a user (an offender's firmer warning, their manager), once per key. */
    async directMessage(n: { user: string; text: string; key: string }): Promise<'posted' | 'already_posted'> {
      try {
        const im = await bot().conversations.open({ users: n.user });
        return await postOnce(im.channel!.id!, n.text, n.key);
      } catch (err) {
        throw slackFailure(err, 'direct message');
      }
    },

    /** The user's manager, when the directory knows one. */
    async managerOf(user: string): Promise<string | undefined> {
      try {
        const info = await bot().users.info({ user });
        const manager = (info.user?.profile as { manager?: unknown } | undefined)?.manager;
        return typeof manager === 'string' ? manager : undefined;
      } catch (err) {
        throw slackFailure(err, 'users.info');
      }
    },
  };
}
