/**
 * The simulator's in-memory Slack workspace: users, channels, messages and tokens, with the
 * permission rules of the real Web API methods Sentinel calls. No HTTP here; see server.ts.
 */

export interface SimUser {
  id: string;
  name: string;
  real_name?: string;
  is_admin?: boolean;
  is_bot?: boolean;
  /** The user's manager, when the directory knows it (Sentinel escalates to them). */
  manager?: string;
}

export type ChannelKind = 'channel' | 'group' | 'im';

export interface SimChannel {
  id: string;
  name: string;
  kind: ChannelKind;
  /** Slack Connect: shared with another organisation. */
  is_ext_shared?: boolean;
  /** For an `im` channel: the other member. */
  user?: string;
}

export interface SimMessage {
  type: 'message';
  channel: string;
  ts: string;
  text: string;
  user?: string;
  bot_id?: string;
  subtype?: string;
  edited?: { user: string; ts: string };
  /** Files shared with the message (subtype file_share). */
  files?: { id: string; name: string; title: string }[];
  /** Slack message metadata: returned by conversations.history with include_all_metadata. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
}

export interface SimToken {
  /** app: an app-level token (xapp-), good for apps.connections.open only. */
  kind: 'bot' | 'user' | 'app';
  /** The user id the token acts as (for a bot: the bot's user id). */
  user: string;
  bot_id?: string;
}

export interface Ephemeral {
  channel: string;
  user: string;
  text: string;
  message_ts: string;
}

export interface WorkspaceSeed {
  team: { id: string; name: string; domain: string };
  users: SimUser[];
  channels: SimChannel[];
  tokens: Record<string, SimToken>;
}

/** A Slack error: the method answers HTTP 200 with `{ ok: false, error: code }`. */
export class SlackApiError extends Error {
  override name = 'SlackApiError';
  constructor(readonly code: string) {
    super(code);
  }
}

/** The simulator's default tokens: a workspace admin's user token and the Sentinel bot's token. */
export const SIM_ADMIN_TOKEN = 'xoxp-sim-secops-admin';
export const SIM_BOT_TOKEN = 'xoxb-sim-sentinel-bot';
export const SIM_APP_TOKEN = 'xapp-sim-sentinel-app';

/** The workspace every simulator starts with unless given another; ids look like Slack's. */
export const defaultSeed: WorkspaceSeed = {
  team: { id: 'T0SENTNL1', name: 'Acme Corp', domain: 'acme' },
  users: [
    { id: 'U0ADMIN01', name: 'secops-admin', real_name: 'SecOps Admin', is_admin: true },
    { id: 'U0ALICE01', name: 'alice', real_name: 'Alice Doe', manager: 'U0CAROL01' },
    { id: 'U0BOB0001', name: 'bob', real_name: 'Bob Roe', manager: 'U0CAROL01' },
    { id: 'U0CAROL01', name: 'carol', real_name: 'Carol Poe' },
    { id: 'U0SNTLBOT', name: 'sentinel', real_name: 'Sentinel', is_bot: true },
  ],
  channels: [
    { id: 'C0GENERAL', name: 'general', kind: 'channel' },
    { id: 'C0ENGINEE', name: 'engineering', kind: 'channel' },
    { id: 'C0SECURIT', name: 'security-alerts', kind: 'channel' },
    { id: 'C0PARTNER', name: 'partner-acme-vendor', kind: 'channel', is_ext_shared: true },
  ],
  tokens: {
    [SIM_BOT_TOKEN]: { kind: 'bot', user: 'U0SNTLBOT', bot_id: 'B0SNTLBOT' },
    [SIM_ADMIN_TOKEN]: { kind: 'user', user: 'U0ADMIN01' },
    [SIM_APP_TOKEN]: { kind: 'app', user: 'U0SNTLBOT' },
    'xoxp-sim-alice': { kind: 'user', user: 'U0ALICE01' },
  },
};

export class Workspace {
  readonly team: WorkspaceSeed['team'];
  private readonly users = new Map<string, SimUser>();
  private readonly channels = new Map<string, SimChannel>();
  private readonly tokens = new Map<string, SimToken>();
  /** Messages per channel, oldest first. */
  private readonly messages = new Map<string, SimMessage[]>();
  readonly ephemerals: Ephemeral[] = [];
  private lastTs = 0;

  constructor(seed: WorkspaceSeed = defaultSeed) {
    this.team = seed.team;
    for (const u of seed.users) this.users.set(u.id, { ...u });
    for (const c of seed.channels) this.addChannel(c);
    for (const [t, v] of Object.entries(seed.tokens)) this.tokens.set(t, { ...v });
  }

  /** Adds a person (or replaces one with the same id). */
  addUser(user: SimUser): void {
    if (typeof user?.id !== 'string' || !/^[UW][A-Z0-9]{2,}$/.test(user.id)) throw new SlackApiError('invalid_user_id');
    this.users.set(user.id, { ...user, name: user.name ?? user.id.toLowerCase() });
  }

  addChannel(channel: SimChannel): void {
    this.channels.set(channel.id, { ...channel });
    if (!this.messages.has(channel.id)) this.messages.set(channel.id, []);
  }

  /** Resolves a token, or throws `not_authed` (none given) / `invalid_auth` (unknown). */
  authenticate(token: string | undefined): SimToken {
    if (!token) throw new SlackApiError('not_authed');
    const t = this.tokens.get(token);
    if (!t) throw new SlackApiError('invalid_auth');
    return t;
  }

  user(id: string): SimUser {
    const u = this.users.get(id);
    if (!u) throw new SlackApiError('user_not_found');
    return u;
  }

  channel(id: string): SimChannel {
    const c = this.channels.get(id);
    if (!c) throw new SlackApiError('channel_not_found');
    return c;
  }

  /** A strictly increasing Slack timestamp ("seconds.micros"), unique in the workspace. */
  nextTs(now = Date.now()): string {
    const micros = Math.max(now * 1000, this.lastTs + 1);
    this.lastTs = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  /** Posts a message as `user` (a human, or the bot behind `bot_id`). Channel may be a user id: a DM. */
  post(channelOrUser: string, text: string, author: { user: string; bot_id?: string }, metadata?: SimMessage['metadata']): SimMessage {
    if (!text) throw new SlackApiError('no_text');
    const channel = this.users.has(channelOrUser) ? this.openIm(channelOrUser) : this.channel(channelOrUser);
    const msg: SimMessage = { type: 'message', channel: channel.id, ts: this.nextTs(), text, user: author.user };
    if (author.bot_id) {
      msg.bot_id = author.bot_id;
      msg.subtype = 'bot_message';
    }
    if (metadata) msg.metadata = metadata;
    this.messages.get(channel.id)!.push(msg);
    return msg;
  }

  find(channel: string, ts: string): SimMessage | undefined {
    this.channel(channel);
    return this.messages.get(channel)!.find((m) => m.ts === ts);
  }

  /**
   * Slack's deletion rules: a bot token deletes only its own bot's messages; a user token deletes
   * the user's own messages, or any message when the user is a workspace admin.
   */
  delete(channel: string, ts: string, by: SimToken): SimMessage {
    const msg = this.find(channel, ts);
    if (!msg) throw new SlackApiError('message_not_found');
    const own = by.kind === 'bot' ? msg.bot_id !== undefined && msg.bot_id === by.bot_id : msg.user === by.user && !msg.bot_id;
    const admin = by.kind === 'user' && this.users.get(by.user)?.is_admin === true;
    if (!own && !admin) throw new SlackApiError('cant_delete_message');
    const list = this.messages.get(channel)!;
    list.splice(list.indexOf(msg), 1);
    return msg;
  }

  /** Edits a message; only its author may (Slack answers `cant_update_message` otherwise). */
  update(channel: string, ts: string, text: string, by: SimToken): { before: SimMessage; after: SimMessage } {
    const msg = this.find(channel, ts);
    if (!msg) throw new SlackApiError('message_not_found');
    const own = by.kind === 'bot' ? msg.bot_id === by.bot_id : msg.user === by.user && !msg.bot_id;
    if (!own) throw new SlackApiError('cant_update_message');
    const before = { ...msg };
    msg.text = text;
    msg.edited = { user: by.user, ts: this.nextTs() };
    return { before, after: { ...msg } };
  }

  /** Newest first, as Slack returns them. */
  history(channel: string): SimMessage[] {
    this.channel(channel);
    return [...this.messages.get(channel)!].reverse();
  }

  openIm(user: string): SimChannel {
    this.user(user);
    for (const c of this.channels.values()) if (c.kind === 'im' && c.user === user) return c;
    const im: SimChannel = { id: `D${user.slice(1)}`, name: user, kind: 'im', user };
    this.addChannel(im);
    return im;
  }

  postEphemeral(channel: string, user: string, text: string): Ephemeral {
    this.channel(channel);
    this.user(user);
    if (!text) throw new SlackApiError('no_text');
    const e = { channel, user, text, message_ts: this.nextTs() };
    this.ephemerals.push(e);
    return e;
  }

  /** The channel object as conversations.info returns it. */
  channelInfo(id: string): Record<string, unknown> {
    const c = this.channel(id);
    return {
      id: c.id,
      name: c.name,
      is_channel: c.kind === 'channel',
      is_group: c.kind === 'group',
      is_im: c.kind === 'im',
      is_private: c.kind !== 'channel',
      is_ext_shared: c.is_ext_shared === true,
      is_shared: c.is_ext_shared === true,
      ...(c.user ? { user: c.user } : {}),
    };
  }

  /** The user object as users.info returns it. */
  userInfo(id: string): Record<string, unknown> {
    const u = this.user(id);
    return {
      id: u.id,
      team_id: this.team.id,
      name: u.name,
      real_name: u.real_name ?? u.name,
      is_admin: u.is_admin === true,
      is_bot: u.is_bot === true,
      profile: { real_name: u.real_name ?? u.name, display_name: u.name, ...(u.manager ? { manager: u.manager } : {}) },
    };
  }
}
