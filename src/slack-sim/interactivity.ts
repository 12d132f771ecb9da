/**
 * Interactivity for the simulator: a click on a Block Kit button becomes a `block_actions` payload
 * (https://api.slack.com/reference/interaction-payloads/block-actions-payload), a slash command its
 * form fields (https://api.slack.com/interactivity/slash-commands), each delivered as Slack does:
 * signed like events to the app's interactivity or commands URL (form-encoded; a click as
 * `payload=<json>`), or, with no URL and a Socket Mode app connected, as an `interactive` /
 * `slash_commands` envelope. Each carries a response_url the app answers through
 * (https://api.slack.com/interactivity/handling#message_responses): an ephemeral reply, a message in
 * the channel, or replace_original of the message clicked on.
 */
import { randomBytes } from 'node:crypto';
import { signature } from '../bridge/verify';
import type { SocketModeHub } from './socket-mode';
import { SlackApiError, type SimMessage, type Workspace } from './workspace';

/** Where the app takes interactivity requests and slash commands (the Slack app's settings). */
export interface AppUrls {
  interactivityUrl?: string;
  commandsUrl?: string;
  signingSecret: string;
}

export interface Click {
  user: string;
  channel: string;
  /** The message clicked on: it must carry a button with `action_id` (and `value`, when given). */
  ts: string;
  action_id: string;
  value?: string;
}

export interface Command {
  user: string;
  channel: string;
  text: string;
  /** Default /sentinel. */
  command?: string;
}

/** How the app answered a delivery: the HTTP status and body, or the Socket Mode ack's payload. */
export interface InteractionAnswer {
  via: 'http' | 'socket_mode';
  status: number | 'network_error' | 'timeout';
  body: unknown;
  /** The response_url the payload carried. */
  responseUrl: string;
}

/** What an app sent to a response_url. */
export interface ResponseRecord {
  at: number;
  responseUrl: string;
  /** replaced: the message clicked on; ephemeral: a note to the user; in_channel: a message. */
  outcome: 'replaced' | 'ephemeral' | 'in_channel' | 'refused';
  text: string;
  error?: string;
}

interface ResponseTarget {
  channel: string;
  user: string;
  /** The message clicked on (interactive payloads only). */
  messageTs?: string;
  uses: number;
  expiresAt: number;
}

/** Slack lets an app use a response_url up to five times within thirty minutes. */
const MAX_USES = 5;
const TTL_MS = 30 * 60_000;

export class Interactivity {
  urls: AppUrls | undefined;
  readonly responses: ResponseRecord[] = [];
  private readonly targets = new Map<string, ResponseTarget>();

  constructor(
    private readonly workspace: Workspace,
    private readonly socketMode: SocketModeHub,
    private readonly baseUrl: () => string,
  ) {}

  /** Clicks a button of a message as `user` and delivers the block_actions payload. */
  async click(c: Click): Promise<InteractionAnswer> {
    const message = this.workspace.find(c.channel, c.ts);
    if (!message) throw new SlackApiError('message_not_found');
    const found = findButton(message, c.action_id, c.value);
    if (!found) throw new SlackApiError('no_such_button');
    const user = this.workspace.user(c.user);
    const channel = this.workspace.channel(c.channel);
    const responseUrl = this.responseUrl({ channel: c.channel, user: c.user, messageTs: c.ts });
    const payload = {
      type: 'block_actions',
      user: { id: user.id, username: user.name, name: user.name, team_id: this.workspace.team.id },
      api_app_id: 'A0SENTINEL',
      token: 'sim-verification-token',
      container: { type: 'message', message_ts: c.ts, channel_id: c.channel, is_ephemeral: false },
      trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
      team: { id: this.workspace.team.id, domain: this.workspace.team.domain },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: channel.id, name: channel.name },
      message: stripMetadata(message),
      state: { values: {} },
      response_url: responseUrl,
      actions: [{ ...found.button, block_id: found.blockId, action_ts: (Date.now() / 1000).toFixed(6) }],
    };
    const url = this.urls?.interactivityUrl;
    if (url) return { ...(await this.post(url, new URLSearchParams({ payload: JSON.stringify(payload) }).toString())), responseUrl };
    return { ...(await this.overSocket('interactive', payload)), responseUrl };
  }

  /** Runs a slash command as `user` in `channel` and delivers it. */
  async command(c: Command): Promise<InteractionAnswer> {
    const user = this.workspace.user(c.user);
    const channel = this.workspace.channel(c.channel);
    const responseUrl = this.responseUrl({ channel: c.channel, user: c.user });
    const fields: Record<string, string> = {
      token: 'sim-verification-token',
      team_id: this.workspace.team.id,
      team_domain: this.workspace.team.domain,
      channel_id: channel.id,
      channel_name: channel.name,
      user_id: user.id,
      user_name: user.name,
      command: c.command ?? '/sentinel',
      text: c.text,
      api_app_id: 'A0SENTINEL',
      is_enterprise_install: 'false',
      response_url: responseUrl,
      trigger_id: `${Date.now()}.${randomBytes(6).toString('hex')}`,
    };
    const url = this.urls?.commandsUrl;
    if (url) return { ...(await this.post(url, new URLSearchParams(fields).toString())), responseUrl };
    return { ...(await this.overSocket('slash_commands', fields)), responseUrl };
  }

  /** Whether a path is one of the response URLs this simulator hands out. */
  static isResponsePath(path: string): boolean {
    return path.startsWith('/response/');
  }

  /** An app's POST to a response_url: answers the HTTP status and body Slack would. */
  respond(path: string, raw: string): { status: number; body: Record<string, unknown> } {
    const responseUrl = `${this.baseUrl()}${path}`;
    const target = this.targets.get(path.slice('/response/'.length));
    const refuse = (status: number, error: string) => {
      this.responses.push({ at: Date.now(), responseUrl, outcome: 'refused', text: '', error });
      return { status, body: { ok: false, error } };
    };
    if (!target || target.expiresAt < Date.now()) return refuse(404, 'expired_url');
    if (target.uses >= MAX_USES) return refuse(404, 'used_url');
    let m: { text?: unknown; blocks?: unknown; response_type?: unknown; replace_original?: unknown; delete_original?: unknown };
    try {
      m = JSON.parse(raw) as typeof m;
    } catch {
      return refuse(400, 'invalid_payload');
    }
    const text = typeof m.text === 'string' ? m.text : '';
    const blocks = Array.isArray(m.blocks) ? (m.blocks as Record<string, unknown>[]) : undefined;
    if (blocks && blocks.length > 50) return refuse(400, 'invalid_blocks');
    target.uses += 1;
    try {
      if (m.replace_original === true || m.replace_original === 'true') {
        if (!target.messageTs) return refuse(400, 'no_original_message');
        this.workspace.replaceFromInteraction(target.channel, target.messageTs, text, blocks);
        this.responses.push({ at: Date.now(), responseUrl, outcome: 'replaced', text });
      } else if (m.response_type === 'in_channel') {
        this.workspace.post(target.channel, text, { user: 'U0SNTLBOT', bot_id: 'B0SNTLBOT' }, undefined, blocks ? { blocks } : {});
        this.responses.push({ at: Date.now(), responseUrl, outcome: 'in_channel', text });
      } else {
        this.workspace.postEphemeral(target.channel, target.user, text, blocks);
        this.responses.push({ at: Date.now(), responseUrl, outcome: 'ephemeral', text });
      }
    } catch (err) {
      if (err instanceof SlackApiError) return refuse(400, err.code);
      throw err;
    }
    return { status: 200, body: { ok: true } };
  }

  private responseUrl(t: Omit<ResponseTarget, 'uses' | 'expiresAt'>): string {
    const id = `${this.workspace.team.id}/${randomBytes(9).toString('hex')}`;
    this.targets.set(id, { ...t, uses: 0, expiresAt: Date.now() + TTL_MS });
    return `${this.baseUrl()}/response/${id}`;
  }

  /** One signed form POST, as Slack sends interactivity requests and slash commands; answered within Slack's 3 s or counted a timeout. */
  private async post(url: string, body: string): Promise<Omit<InteractionAnswer, 'responseUrl'>> {
    const ts = String(Math.floor(Date.now() / 1000));
    try {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': ts,
          'x-slack-signature': signature(this.urls!.signingSecret, ts, body),
        },
        signal: AbortSignal.timeout(3000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : '';
      } catch {
        // Slack shows a plain-text answer as it is.
      }
      return { via: 'http', status: res.status, body: parsed };
    } catch (err) {
      return { via: 'http', status: (err as Error).name === 'TimeoutError' ? 'timeout' : 'network_error', body: '' };
    }
  }

  private async overSocket(type: 'interactive' | 'slash_commands', payload: unknown): Promise<Omit<InteractionAnswer, 'responseUrl'>> {
    if (this.socketMode.connections === 0) throw new SlackApiError('no_interactivity_url');
    const r = await this.socketMode.request(type, payload);
    return { via: 'socket_mode', status: r.acked ? 200 : 'timeout', body: r.payload ?? '' };
  }
}

/** The button with `actionId` (and `value`) among a message's actions blocks, and its block's id. */
function findButton(m: SimMessage, actionId: string, value: string | undefined): { button: Record<string, unknown>; blockId: string } | undefined {
  for (const block of m.blocks ?? []) {
    if (block.type !== 'actions' || !Array.isArray(block.elements)) continue;
    for (const e of block.elements as Record<string, unknown>[]) {
      if (e.action_id === actionId && (value === undefined || e.value === value)) return { button: e, blockId: String(block.block_id ?? '') };
    }
  }
  return undefined;
}

function stripMetadata(m: SimMessage): Omit<SimMessage, 'metadata'> {
  const { metadata: _metadata, ...rest } = m;
  return rest;
}
