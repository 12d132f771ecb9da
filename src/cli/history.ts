/**
 * Reads recent messages back from Slack (conversations.history), for commands that look at the
 * past: `sentinel rules try --since`. Sentinel keeps no chat of its own, so Slack is where history
 * lives. Each message comes out as the Events API envelope the bridge would have published for it,
 * so that normalizeSlack() (and anything that consumes CHAT) reads it unchanged.
 */
import { LogLevel, WebClient, type WebAPICallResult } from '@slack/web-api';
import { ConfigError, type Config } from '../config';

/** Slack refused or could not answer; the message names the method, the channel and what to do. */
export class HistoryError extends Error {
  override name = 'HistoryError';
}

/** One message of the past, shaped as an `event_callback` envelope. */
export interface HistoryEnvelope {
  type: 'event_callback';
  team_id: string;
  is_ext_shared_channel: boolean;
  event: Record<string, unknown> & { type: string; channel: string; ts: string };
}

export interface HistoryOptions {
  /** Channel ids; absent: every conversation conversations.list shows the token. */
  channels?: string[];
  /** Oldest message to read, in seconds since the epoch (Slack's `oldest`). */
  oldestSeconds: number;
  /** Messages per page (Slack's `limit`); default 200. */
  pageSize?: number;
}

/** A Web API client for reading history: the admin's user token (it sees the most), else the bot's. */
export function historyClient(config: Config, what: string): WebClient {
  const token = config.slack.adminToken ?? config.slack.botToken;
  if (!token) throw new ConfigError(`${what} reads history from Slack: set SLACK_ADMIN_TOKEN (or SLACK_BOT_TOKEN) and SLACK_API_URL`);
  // Rate-limited calls wait for Retry-After (conversations.history is Tier 3, about 50 a minute).
  return new WebClient(token, { slackApiUrl: config.slack.apiUrl, logLevel: LogLevel.ERROR, retryConfig: { retries: 5, factor: 2, minTimeout: 500, maxTimeout: 10_000 }, timeout: 15_000 });
}

/** Calls `method`, turning a Slack error into a HistoryError that says where. */
async function call(client: WebClient, method: string, args: Record<string, unknown>, where: string): Promise<WebAPICallResult & Record<string, unknown>> {
  try {
    return (await client.apiCall(method, args)) as WebAPICallResult & Record<string, unknown>;
  } catch (err) {
    const code = (err as { data?: { error?: string } }).data?.error;
    const hint =
      code === 'unknown_method' && method === 'conversations.list'
        ? '; name the channels with --channels instead'
        : code === 'not_in_channel' || code === 'channel_not_found'
          ? '; check the channel id, and that the token can read it'
          : '';
    throw new HistoryError(`${method} ${where}: ${code ?? (err as Error).message}${hint}`, { cause: err });
  }
}

/** Every conversation the token can list (public, private, group DMs, DMs), paged through. */
export async function listChannels(client: WebClient): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await call(client, 'conversations.list', { types: 'public_channel,private_channel,mpim,im', limit: 200, exclude_archived: true, ...(cursor ? { cursor } : {}) }, 'for the channels to read');
    for (const c of (page.channels as { id?: string }[] | undefined) ?? []) if (typeof c.id === 'string') ids.push(c.id);
    cursor = (page.response_metadata as { next_cursor?: string } | undefined)?.next_cursor || undefined;
  } while (cursor);
  return ids;
}

/** The `channel_type` an event would carry for this conversation, and whether it is shared with another organisation. */
function channelShape(info: Record<string, unknown>): { channelType: string; external: boolean } {
  const channelType = info.is_im ? 'im' : info.is_mpim ? 'mpim' : info.is_private || info.is_group ? 'group' : 'channel';
  return { channelType, external: info.is_ext_shared === true };
}

/**
 * The messages of `channels` (or every listed conversation) since `oldestSeconds`, channel by
 * channel, oldest first within each channel, each thread's replies (conversations.replies) after
 * their parent. A thread whose parent is older than `oldestSeconds` is not reached.
 */
export async function* readHistory(client: WebClient, o: HistoryOptions): AsyncGenerator<HistoryEnvelope> {
  const auth = await call(client, 'auth.test', {}, 'for the workspace id');
  const team = String(auth.team_id ?? '');
  const channels = o.channels ?? (await listChannels(client));
  for (const channel of channels) {
    const info = (await call(client, 'conversations.info', { channel }, `for ${channel}`)).channel as Record<string, unknown>;
    const { channelType, external } = channelShape(info ?? {});
    const messages: Record<string, unknown>[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(client, 'conversations.history', { channel, oldest: o.oldestSeconds.toFixed(6), limit: o.pageSize ?? 200, ...(cursor ? { cursor } : {}) }, `of ${channel}`);
      messages.push(...((page.messages as Record<string, unknown>[] | undefined) ?? []));
      cursor = page.has_more ? (page.response_metadata as { next_cursor?: string } | undefined)?.next_cursor || undefined : undefined;
    } while (cursor);
    // Slack answers newest first; the past is easier to read forwards.
    messages.reverse();
    const envelope = (m: Record<string, unknown> & { ts: string }): HistoryEnvelope => ({
      type: 'event_callback',
      team_id: team,
      is_ext_shared_channel: external,
      event: { ...m, type: 'message', channel, channel_type: channelType },
    });
    for (const m of messages) {
      if (typeof m.ts !== 'string') continue;
      yield envelope(m as Record<string, unknown> & { ts: string });
      // A thread's replies are not in history, only their parent with a reply_count.
      if (typeof m.reply_count === 'number' && m.reply_count > 0 && m.thread_ts === m.ts) {
        for (const r of await replies(client, channel, m.ts, o)) if (typeof r.ts === 'string' && r.ts !== m.ts) yield envelope(r as Record<string, unknown> & { ts: string });
      }
    }
  }
}

/** The replies of one thread since `oldestSeconds` (the parent too, first), paged through. */
async function replies(client: WebClient, channel: string, ts: string, o: HistoryOptions): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | undefined;
  do {
    const page = await call(client, 'conversations.replies', { channel, ts, oldest: o.oldestSeconds.toFixed(6), limit: o.pageSize ?? 200, ...(cursor ? { cursor } : {}) }, `of thread ${ts} in ${channel}`);
    out.push(...((page.messages as Record<string, unknown>[] | undefined) ?? []));
    cursor = page.has_more ? (page.response_metadata as { next_cursor?: string } | undefined)?.next_cursor || undefined : undefined;
  } while (cursor);
  return out;
}
