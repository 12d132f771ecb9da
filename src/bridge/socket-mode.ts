/**
 * Socket Mode ingest: with an app-level token the bridge opens a websocket to Slack instead of
 * (or beside) serving HTTP. Each envelope is acked only after JetStream stored its event; an
 * envelope that could not be stored is left unacked, so Slack sends it again. The SDK reconnects
 * on its own. Button clicks (`interactive`) and slash commands (`slash_commands`) go to the same
 * operator controls as over HTTP; the ack carries the immediate answer
 * (https://api.slack.com/apis/socket-mode#acknowledge).
 */
import { LogLevel, SocketModeClient } from '@slack/socket-mode';
import type { JetStreamClient } from 'nats';
import type { Logger } from '../log';
import type { SlackControls } from './controls';
import { ingestSubject } from './route';

export interface SocketModeOptions {
  appToken: string;
  /** Slack's Web API (the simulator's in development). */
  slackApiUrl: string;
  js: JetStreamClient;
  log: Logger;
  publishTimeoutMs?: number;
  /** Button clicks and /sentinel commands; without them, those envelopes are acked and dropped. */
  controls?: SlackControls;
}

export interface SocketModeIngest {
  stats: { stored: number; duplicates: number; unacked: number; ignored: number };
  stop(): Promise<void>;
}

interface SlackEventArgs {
  type: string;
  body: { type?: unknown; team_id?: unknown; event_id?: unknown; event?: { type?: unknown } };
  ack: (response?: Record<string, unknown>) => Promise<void>;
  retry_num?: number;
}

const ID = /^[A-Za-z0-9._-]{1,64}$/;

export async function startSocketMode(o: SocketModeOptions): Promise<SocketModeIngest> {
  // The SDK's own logging would print event payloads at debug level: keep it to errors.
  const client = new SocketModeClient({ appToken: o.appToken, clientOptions: { slackApiUrl: o.slackApiUrl }, logLevel: LogLevel.ERROR });
  const stats = { stored: 0, duplicates: 0, unacked: 0, ignored: 0 };
  client.on('slack_event', async ({ type, body, ack, retry_num }: SlackEventArgs) => {
    if ((type === 'interactive' || type === 'slash_commands') && o.controls) {
      const answer = type === 'interactive' ? o.controls.interaction(body) : o.controls.command(body as Record<string, unknown>);
      await ack(answer.body);
      return;
    }
    if (type !== 'events_api') {
      stats.ignored += 1;
      await ack(); // nothing Sentinel acts on; ack so Slack does not send it again
      return;
    }
    const { team_id, event_id, event } = body;
    if (typeof team_id !== 'string' || !ID.test(team_id) || typeof event_id !== 'string' || !ID.test(event_id) || typeof event?.type !== 'string' || !/^[a-z_]{1,64}$/.test(event.type)) {
      stats.ignored += 1;
      o.log.warn('Socket Mode envelope without a valid team_id, event_id or event.type; acked and dropped', { eventId: typeof event_id === 'string' ? event_id : undefined });
      await ack();
      return;
    }
    try {
      const pubAck = await o.js.publish(ingestSubject('slack', team_id, event.type), JSON.stringify(body), { msgID: event_id, timeout: o.publishTimeoutMs ?? 2000 });
      if (pubAck.duplicate) stats.duplicates += 1;
      else stats.stored += 1;
      await ack();
    } catch (err) {
      stats.unacked += 1;
      o.log.warn('could not store a Socket Mode event; left unacked so that Slack redelivers it', { eventId: event_id, retry: retry_num, error: err });
    }
  });
  client.on('connected', () => o.log.info('Socket Mode connected'));
  client.on('reconnecting', () => o.log.warn('Socket Mode reconnecting'));
  await client.start();
  return {
    stats,
    async stop() {
      await client.disconnect();
    },
  };
}
