/**
 * The simulator's in-memory Slack workspace: users, channels, messages and tokens, with the
 * permission rules of the real Web API methods Sentinel calls. No HTTP here; see server.ts.
 */
import { randomBytes } from 'node:crypto';

export interface SimUser {
  id: string;
  name: string;
  real_name?: string;
  is_admin?: boolean;
  is_bot?: boolean;
  /** The user's manager, when the directory knows it (Sentinel escalates to them). */
  manager?: string;
}

/** channel: public; group: private; im: a DM; mpim: a group DM. */
export type ChannelKind = 'channel' | 'group' | 'im' | 'mpim';

export interface SimChannel {
  id: string;
  name: string;
  kind: ChannelKind;
  /** Slack Connect: shared with another organisation. */
  is_ext_shared?: boolean;
  /** For an `im` channel: the other member. */
  user?: string;
  is_archived?: boolean;
}

/** A file reference as message events and conversations.history carry it (files[] of a file_share message). */
export interface SimFileRef {
  id: string;
  name: string;
  title: string;
  filetype?: string;
  mimetype?: string;
  /** The first lines of a text file. */
  preview?: string;
}

/** One share of a file into a conversation: the file_share message it came with. */
export interface SimShare {
  channel: string;
  ts: string;
  user: string;
}

/** A file in the workspace, as files.info describes it (https://api.slack.com/methods/files.info). */
export interface SimFile {
  id: string;
  name: string;
  title: string;
  filetype: string;
  mimetype: string;
  user: string;
  created: number;
  /** A text file's content (what `preview` shows the start of); absent for binary files. */
  content?: string;
  /** Where it was shared, oldest first. */
  shares: SimShare[];
  /** Made public (shared into a public channel): file_public was sent. */
  is_public: boolean;
  comments: { id: string; user: string; comment: string; created: number }[];
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
  files?: SimFileRef[];
  /** Threads: the parent's ts on every message of a thread (the parent's own ts on the parent). */
  thread_ts?: string;
  parent_user_id?: string;
  reply_count?: number;
  reply_users?: string[];
  latest_reply?: string;
  /** Slack message metadata: returned by conversations.history with include_all_metadata. */
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  /** Block Kit blocks (https://api.slack.com/reference/block-kit/blocks); `text` is then their fallback. */
  blocks?: Record<string, unknown>[];
}

/** A user group (https://api.slack.com/methods/usergroups.users.list): its id (S…), handle and members. */
export interface SimUsergroup {
  id: string;
  handle: string;
  users: string[];
}

export interface SimToken {
  /** app: an app-level token (xapp-), good for apps.connections.open only. */
  kind: 'bot' | 'user' | 'app';
  /** The user id the token acts as (for a bot: the bot's user id). */
  user: string;
  bot_id?: string;
  /** Revoked with auth.revoke: calls with it answer token_revoked. */
  revoked?: boolean;
}

export interface Ephemeral {
  channel: string;
  user: string;
  text: string;
  message_ts: string;
  blocks?: Record<string, unknown>[];
}

export interface WorkspaceSeed {
  team: { id: string; name: string; domain: string };
  users: SimUser[];
  channels: SimChannel[];
  tokens: Record<string, SimToken>;
  /** User groups; default none. */
  usergroups?: SimUsergroup[];
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
  // A security team's user group: SENTINEL_OPERATORS may name it instead of its members.
  usergroups: [{ id: 'S0SECOPS1', handle: 'secops', users: ['U0CAROL01'] }],
};

/** Characters of a text file that files.info shows as its `preview`. */
const PREVIEW_CHARS = 1000;

function tsString(micros: number): string {
  return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

/** The reference to a file that a file_share message carries. */
function fileRef(f: SimFile): SimFileRef {
  return {
    id: f.id,
    name: f.name,
    title: f.title,
    filetype: f.filetype,
    mimetype: f.mimetype,
    ...(f.content !== undefined ? { preview: f.content.slice(0, PREVIEW_CHARS) } : {}),
  };
}

export class Workspace {
  readonly team: WorkspaceSeed['team'];
  private readonly users = new Map<string, SimUser>();
  private readonly channels = new Map<string, SimChannel>();
  private readonly tokens = new Map<string, SimToken>();
  /** Messages per channel, oldest first. */
  private readonly messages = new Map<string, SimMessage[]>();
  readonly ephemerals: Ephemeral[] = [];
  private readonly files = new Map<string, SimFile>();
  private lastTs = 0;
  /** Timestamps handed out, in microseconds: back-dated posts must not collide with live ones. */
  private readonly usedTs = new Set<number>();
  private fileSeq = 0;
  private readonly usergroups = new Map<string, SimUsergroup>();

  constructor(seed: WorkspaceSeed = defaultSeed) {
    this.team = seed.team;
    for (const u of seed.users) this.users.set(u.id, { ...u });
    for (const c of seed.channels) this.addChannel(c);
    for (const [t, v] of Object.entries(seed.tokens)) this.tokens.set(t, { ...v });
    for (const g of seed.usergroups ?? []) this.setUsergroup(g);
  }

  /** Creates or replaces a user group; its members must be users of the workspace. */
  setUsergroup(group: SimUsergroup): void {
    if (typeof group?.id !== 'string' || !/^S[A-Z0-9]{2,}$/.test(group.id) || !Array.isArray(group.users)) throw new SlackApiError('invalid_usergroup');
    for (const u of group.users) this.user(u);
    this.usergroups.set(group.id, { id: group.id, handle: group.handle ?? group.id.toLowerCase(), users: [...group.users] });
  }

  /** The members of a user group, or `no_such_subteam`. */
  usergroupMembers(id: string): string[] {
    const g = this.usergroups.get(id);
    if (!g) throw new SlackApiError('no_such_subteam');
    return [...g.users];
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

  /**
   * Issues a token acting as `user`, in Slack's format: a bot token (xoxb-<team digits>-<bot
   * digits>-<24 alphanumerics>) or a user token (xoxp-<digits>-<digits>-<digits>-<32 hex>), as
   * installing an app into the workspace would.
   */
  issueToken(user: string, kind: 'bot' | 'user' = 'user'): string {
    this.user(user);
    const digits = (n: number) => Array.from(randomBytes(n), (b) => String(b % 10)).join('');
    const alnum = (n: number) => Array.from(randomBytes(n), (b) => 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[b % 62]).join('');
    const token = kind === 'bot' ? `xoxb-${digits(12)}-${digits(13)}-${alnum(24)}` : `xoxp-${digits(12)}-${digits(12)}-${digits(13)}-${randomBytes(16).toString('hex')}`;
    this.tokens.set(token, { kind, user, ...(kind === 'bot' ? { bot_id: `B${digits(9)}` } : {}) });
    return token;
  }

  /** Revokes a token (auth.revoke): every later call with it answers `token_revoked`. */
  revokeToken(token: string): void {
    const t = this.tokens.get(token);
    if (t) t.revoked = true;
  }

  /** Resolves a token, or throws `not_authed` (none given) / `invalid_auth` (unknown) / `token_revoked`. */
  authenticate(token: string | undefined): SimToken {
    if (!token) throw new SlackApiError('not_authed');
    const t = this.tokens.get(token);
    if (t?.revoked) throw new SlackApiError('token_revoked');
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
    let micros = Math.max(now * 1000, this.lastTs + 1);
    while (this.usedTs.has(micros)) micros += 1;
    this.lastTs = micros;
    this.usedTs.add(micros);
    return tsString(micros);
  }

  /** A unique timestamp at `at` (ms since epoch), which may lie in the past: for seeding history. */
  private tsAt(at: number): string {
    if (at * 1000 > this.lastTs) return this.nextTs(at);
    let micros = Math.floor(at) * 1000;
    while (this.usedTs.has(micros)) micros += 1;
    this.usedTs.add(micros);
    return tsString(micros);
  }

  /**
   * Posts a message as `user` (a human, or the bot behind `bot_id`). Channel may be a user id: a DM.
   * `threadTs` makes it a reply in that thread; `at` back-dates it (ms since epoch), for history.
   */
  post(
    channelOrUser: string,
    text: string,
    author: { user: string; bot_id?: string },
    metadata?: SimMessage['metadata'],
    options: { threadTs?: string; at?: number; blocks?: Record<string, unknown>[] } = {},
  ): SimMessage {
    if (!text && !options.blocks?.length) throw new SlackApiError('no_text');
    const channel = this.users.has(channelOrUser) ? this.openIm(channelOrUser) : this.channel(channelOrUser);
    const list = this.messages.get(channel.id)!;
    const parent = options.threadTs === undefined ? undefined : list.find((m) => m.ts === options.threadTs);
    if (options.threadTs !== undefined && (!parent || (parent.thread_ts !== undefined && parent.thread_ts !== parent.ts))) throw new SlackApiError('thread_not_found');
    const ts = options.at === undefined ? this.nextTs() : this.tsAt(options.at);
    const msg: SimMessage = { type: 'message', channel: channel.id, ts, text, user: author.user };
    if (author.bot_id) {
      msg.bot_id = author.bot_id;
      msg.subtype = 'bot_message';
    }
    if (metadata) msg.metadata = metadata;
    if (options.blocks?.length) msg.blocks = options.blocks;
    if (parent) {
      msg.thread_ts = parent.ts;
      msg.parent_user_id = parent.user!;
      parent.thread_ts = parent.ts;
      parent.reply_count = (parent.reply_count ?? 0) + 1;
      parent.reply_users = [...new Set([...(parent.reply_users ?? []), author.user])];
      if (!parent.latest_reply || Number(ts) > Number(parent.latest_reply)) parent.latest_reply = ts;
    }
    // Oldest first: a back-dated message goes where its ts puts it.
    let i = list.length;
    while (i > 0 && Number(list[i - 1]!.ts) > Number(ts)) i -= 1;
    list.splice(i, 0, msg);
    return msg;
  }

  /**
   * Uploads a file (or takes an existing one, by `fileId`) and shares it into a conversation with a
   * file_share message, as the Slack client does. Answers the file, the message, and whether this
   * share made the file public (its first share into a public channel).
   */
  shareFile(
    user: string,
    channelOrUser: string,
    file: { fileId?: string; name?: string; title?: string; filetype?: string; content?: string },
    text = '',
    at?: number,
  ): { file: SimFile; message: SimMessage; madePublic: boolean } {
    this.user(user);
    let f: SimFile;
    if (file.fileId !== undefined) {
      f = this.file(file.fileId);
    } else {
      if (!file.name) throw new SlackApiError('invalid_arguments');
      this.fileSeq += 1;
      const filetype = file.filetype ?? (file.name.includes('.') ? file.name.slice(file.name.lastIndexOf('.') + 1).toLowerCase() : 'binary');
      f = {
        id: `F0${String(this.fileSeq).padStart(4, '0')}${Math.floor(Date.now() / 1000) % 100000}`,
        name: file.name,
        title: file.title ?? file.name,
        filetype,
        mimetype: file.content !== undefined ? 'text/plain' : 'application/octet-stream',
        user,
        created: Math.floor((at ?? Date.now()) / 1000),
        ...(file.content !== undefined ? { content: file.content } : {}),
        shares: [],
        is_public: false,
        comments: [],
      };
      this.files.set(f.id, f);
    }
    const message = this.post(channelOrUser, text || ' ', { user }, undefined, at === undefined ? {} : { at });
    message.text = text;
    message.subtype = 'file_share';
    message.files = [fileRef(f)];
    f.shares.push({ channel: message.channel, ts: message.ts, user });
    const madePublic = !f.is_public && this.channel(message.channel).kind === 'channel';
    if (madePublic) f.is_public = true;
    return { file: f, message, madePublic };
  }

  file(id: string): SimFile {
    const f = this.files.get(id);
    if (!f) throw new SlackApiError('file_not_found');
    return f;
  }

  /** Renames or retitles a file, or replaces a text file's content (what file_change reports). */
  changeFile(id: string, change: { name?: string; title?: string; content?: string }): SimFile {
    const f = this.file(id);
    if (change.name !== undefined) f.name = change.name;
    if (change.title !== undefined) f.title = change.title;
    if (change.content !== undefined) f.content = change.content;
    return f;
  }

  /**
   * Deletes a file (files.delete, https://api.slack.com/methods/files.delete): its owner or an admin
   * may (`cant_delete_file` otherwise); files.info answers `file_not_found` from then on. Messages
   * that shared it stay in history.
   */
  deleteFile(id: string, by: SimToken): SimFile {
    const f = this.file(id);
    const own = by.kind === 'user' && by.user === f.user;
    const admin = by.kind === 'user' && this.users.get(by.user)?.is_admin === true;
    if (!own && !admin) throw new SlackApiError('cant_delete_file');
    this.files.delete(id);
    return f;
  }

  /** Adds a comment to a file (the legacy file comments). */
  commentOnFile(id: string, user: string, comment: string): SimFile['comments'][number] {
    const f = this.file(id);
    this.user(user);
    const c = { id: `Fc0${f.comments.length + 1}${f.id.slice(1)}`, user, comment, created: Math.floor(Date.now() / 1000) };
    f.comments.push(c);
    return c;
  }

  /**
   * The file object of files.info (https://api.slack.com/methods/files.info): name, title, type,
   * a text file's preview, the conversations it is in (channels: public, groups: private and group
   * DMs, ims) and its shares per conversation with the share's message ts.
   */
  fileInfo(id: string): Record<string, unknown> {
    const f = this.file(id);
    const kinds = { channels: [] as string[], groups: [] as string[], ims: [] as string[] };
    const shares: { public: Record<string, unknown[]>; private: Record<string, unknown[]> } = { public: {}, private: {} };
    let extShared = false;
    for (const s of f.shares) {
      const c = this.channel(s.channel);
      const list = c.kind === 'channel' ? kinds.channels : c.kind === 'im' ? kinds.ims : kinds.groups;
      if (!list.includes(c.id)) list.push(c.id);
      const bucket = c.kind === 'channel' ? shares.public : shares.private;
      (bucket[c.id] ??= []).unshift({ ts: s.ts, share_user_id: s.user, channel_name: c.name, team_id: this.team.id, ...(c.is_ext_shared ? { is_ext_shared: true } : {}) });
      if (c.is_ext_shared) extShared = true;
    }
    const preview = f.content === undefined ? undefined : f.content.slice(0, PREVIEW_CHARS);
    return {
      id: f.id,
      created: f.created,
      timestamp: f.created,
      name: f.name,
      title: f.title,
      mimetype: f.mimetype,
      filetype: f.filetype,
      pretty_type: f.filetype.toUpperCase(),
      user: f.user,
      user_team: this.team.id,
      editable: f.content !== undefined,
      size: f.content?.length ?? 1024,
      mode: f.content !== undefined ? 'snippet' : 'hosted',
      is_external: false,
      external_type: '',
      is_public: f.is_public,
      public_url_shared: false,
      is_ext_shared: extShared,
      url_private: `https://files.slack.com/files-pri/${this.team.id}-${f.id}/${encodeURIComponent(f.name)}`,
      permalink: `https://${this.team.domain}.slack.com/files/${f.user}/${f.id}/${encodeURIComponent(f.name)}`,
      ...(preview !== undefined ? { preview, preview_is_truncated: preview.length < f.content!.length, lines: f.content!.split('\n').length } : {}),
      comments_count: f.comments.length,
      ...kinds,
      shares,
      has_more_shares: false,
    };
  }

  /** Every conversation, in creation order. */
  conversations(): SimChannel[] {
    return [...this.channels.values()];
  }

  /** A thread: its parent, then its replies, oldest first; `thread_not_found` when `ts` is no message of the channel. */
  thread(channel: string, ts: string): SimMessage[] {
    this.channel(channel);
    const list = this.messages.get(channel)!;
    const m = list.find((x) => x.ts === ts);
    if (!m) throw new SlackApiError('thread_not_found');
    const root = m.thread_ts ?? m.ts;
    return list.filter((x) => x.ts === root || x.thread_ts === root);
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

  /**
   * Edits a message: its author may, and so may a workspace admin's user token (as for deletion); a
   * bot token edits only its own bot's messages. Anyone else gets `cant_update_message`.
   */
  update(channel: string, ts: string, text: string, by: SimToken, blocks?: Record<string, unknown>[]): { before: SimMessage; after: SimMessage } {
    const msg = this.find(channel, ts);
    if (!msg) throw new SlackApiError('message_not_found');
    const own = by.kind === 'bot' ? msg.bot_id !== undefined && msg.bot_id === by.bot_id : msg.user === by.user && !msg.bot_id;
    const admin = by.kind === 'user' && this.users.get(by.user)?.is_admin === true;
    if (!own && !admin) throw new SlackApiError('cant_update_message');
    const before = { ...msg };
    if (text) msg.text = text;
    if (blocks) msg.blocks = blocks;
    msg.edited = { user: by.user, ts: this.nextTs() };
    return { before, after: { ...msg } };
  }

  /**
   * Replaces an app's message through the response_url of an interaction on it (replace_original):
   * Slack allows it for the message the interaction came from, whoever clicked.
   */
  replaceFromInteraction(channel: string, ts: string, text: string | undefined, blocks: Record<string, unknown>[] | undefined): SimMessage {
    const msg = this.find(channel, ts);
    if (!msg) throw new SlackApiError('message_not_found');
    if (!msg.bot_id) throw new SlackApiError('cant_update_message');
    if (text) msg.text = text;
    if (blocks) msg.blocks = blocks;
    else delete msg.blocks;
    msg.edited = { user: msg.user!, ts: this.nextTs() };
    return { ...msg };
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

  postEphemeral(channel: string, user: string, text: string, blocks?: Record<string, unknown>[]): Ephemeral {
    this.channel(channel);
    this.user(user);
    if (!text && !blocks?.length) throw new SlackApiError('no_text');
    const e: Ephemeral = { channel, user, text, message_ts: this.nextTs(), ...(blocks?.length ? { blocks } : {}) };
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
      is_mpim: c.kind === 'mpim',
      is_private: c.kind !== 'channel',
      is_archived: c.is_archived === true,
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
