/** Slack side effects of an incident. Each activity is idempotent: a retry after success is harmless. */
import type { WebClient } from '@slack/web-api';
import { slackErrorCode, slackFailure } from './slack-failure';

export interface SlackClients {
  /** A workspace admin's user token: deletes other people's messages. */
  admin: WebClient;
  /** The bot's token: posts notifications. Optional until a rule notifies. */
  bot?: WebClient;
}

export interface MessageRef {
  channel: string;
  ts: string;
}

export function createSlackActivities(slack: SlackClients) {
  return {
    /** Deletes the message; a message already gone counts as deleted. */
    async deleteMessage(ref: MessageRef): Promise<'deleted' | 'already_gone'> {
      try {
        await slack.admin.chat.delete({ channel: ref.channel, ts: ref.ts });
        return 'deleted';
      } catch (err) {
        if (slackErrorCode(err) === 'message_not_found') return 'already_gone';
        throw slackFailure(err, 'chat.delete');
      }
    },
  };
}
