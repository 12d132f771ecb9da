/**
 * A Slack-compatible Web API simulator over HTTP. The real `@slack/web-api` WebClient reaches it
 * through `slackApiUrl: sim.apiUrl`. Besides the Web API (`/api/<method>`) it serves a control
 * surface under `/_sim/` for tests and the demo: post as a user, read emitted Events API
 * payloads and the call log, inject faults.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { closeServer, listen } from '../http/listen';
import { seededRandom } from '../random';
import { signature } from '../bridge/verify';
import { Interactivity, type Click, type Command } from './interactivity';
import { SocketModeHub } from './socket-mode';
import { SlackApiError, Workspace, type SimChannel, type SimFile, type SimMessage, type SimToken, type SimUser, type SimUsergroup, type WorkspaceSeed } from './workspace';

/** One fault, consumed by the next matching calls. */
export interface Fault {
  /** A Web API method such as `chat.delete`, or `*` for any. */
  method: string;
  /**
   * `rate_limited`: HTTP 429 with `Retry-After: retryAfter` seconds. `server_error`: HTTP `status` (500)
   * with `{ ok: false, error }` (default internal_error). `slow`: answers normally after `delayMs`.
   * `error`: HTTP 200 `{ ok: false, error }` — Slack's usual way, transient codes included.
   */
  kind: 'rate_limited' | 'server_error' | 'slow' | 'error';
  /** How many calls it applies to before it is used up; default 1. */
  times?: number;
  retryAfter?: number;
  status?: number;
  delayMs?: number;
  error?: string;
}

/**
 * A storm: for `durationMs` from now, each call to one of `methods` fails with probability `share`,
 * the way Slack fails under load: `rate_limited` (HTTP 429, Retry-After), `server_error` (HTTP
 * `status`, 503 by default) or `error` (HTTP 200 `{ ok: false, error }`, e.g. `internal_error`); or,
 * `slow`, is done and answered only after `delayMs` (2000 by default), so that a caller that dies
 * meanwhile never learns it was done. Faults queued with injectFault() come first.
 */
export interface Storm {
  /** Web API methods it hits; `*` for any. */
  methods: string[];
  kind: 'rate_limited' | 'server_error' | 'error' | 'slow';
  /** Share of matching calls that fail, 0 to 1. */
  share: number;
  durationMs: number;
  retryAfter?: number;
  status?: number;
  error?: string;
  delayMs?: number;
  /** Seed of the storm's coin flips, so that a run can be repeated; default random. */
  seed?: number;
}

/** A storm as the simulator keeps it: when it ends and what it did. */
export interface StormRecord extends Storm {
  id: number;
  startedAt: number;
  endsAt: number;
  /** Calls it failed, and matching calls it let through. */
  hits: number;
  passes: number;
}

/** One Web API call as the simulator answered it. */
export interface CallRecord {
  at: number;
  method: string;
  args: Record<string, unknown>;
  /** HTTP status sent. */
  status: number;
  ok: boolean;
  error?: string;
}

/** An Events API `event_callback` envelope, as Slack would deliver it. */
export interface EventEnvelope {
  token: string;
  team_id: string;
  api_app_id: string;
  type: 'event_callback';
  event_id: string;
  event_time: number;
  event: Record<string, unknown>;
}

/** Where the simulator delivers Events API requests, signed like Slack's; and, when given, clicks and slash commands. */
export interface Subscription {
  url: string;
  signingSecret: string;
  /** The app's interactivity request URL (button clicks); unset: over Socket Mode when an app is connected. */
  interactivityUrl?: string;
  /** The request URL of the app's slash command; unset: over Socket Mode when an app is connected. */
  commandsUrl?: string;
}

/** One HTTP delivery attempt of an event. */
export interface Delivery {
  eventId: string;
  attempt: number;
  status: number | 'network_error';
  at: number;
}

/** Slack retries a failed delivery right away, after about a minute and after about five; the simulator compresses that. */
const RETRY_DELAYS_MS = [250, 1000, 3000];

export interface SimulatorOptions {
  seed?: WorkspaceSeed;
  host?: string;
  port?: number;
}

const MAX_BODY = 1 << 20;

export class SlackSimulator {
  readonly workspace: Workspace;
  readonly calls: CallRecord[] = [];
  readonly events: EventEnvelope[] = [];
  private faults: (Fault & { left: number })[] = [];
  private readonly emitter = new EventEmitter();
  private server: Server | undefined;
  private eventSeq = 0;
  private subscription: Subscription | undefined;
  readonly deliveries: Delivery[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Calls per second Slack would allow per method (like its rate-limit tiers); over it: 429, Retry-After 1. */
  private rateLimits = new Map<string, { perSecond: number; recent: number[] }>();
  /** Socket Mode connections of apps, and what was sent to them. */
  readonly socketMode = new SocketModeHub();
  /** Slack's event ids are unique forever; a restarted simulator must not reuse them (JetStream dedups on them). */
  private readonly eventPrefix = randomBytes(4).toString('hex').toUpperCase();
  private baseUrl = '';
  readonly storms: StormRecord[] = [];
  private readonly stormFlips = new Map<number, () => number>();
  /** Delays between Events API delivery attempts; setDeliveryRetries() changes them. */
  private retryDelaysMs = RETRY_DELAYS_MS;

  /** Button clicks and slash commands, and what the app answered through response URLs. */
  readonly interactivity: Interactivity;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.workspace = new Workspace(options.seed);
    this.interactivity = new Interactivity(this.workspace, this.socketMode, () => this.baseUrl);
  }

  /** Base URL of the Web API, to pass as `slackApiUrl` (ends with `/api/`). */
  get apiUrl(): string {
    return `${this.baseUrl}/api/`;
  }

  get url(): string {
    return this.baseUrl;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'internal_error', detail: String(err) }));
      });
    });
    this.baseUrl = await listen(server, this.options.port, this.options.host);
    this.server = server;
    this.socketMode.attach(server);
    return this;
  }

  /** Delivers every event emitted from now on to `s.url`, signed with `s.signingSecret`, retrying like Slack. */
  subscribe(s: Subscription | undefined): void {
    this.subscription = s;
    this.interactivity.urls = s && (s.interactivityUrl || s.commandsUrl) ? { signingSecret: s.signingSecret, ...(s.interactivityUrl ? { interactivityUrl: s.interactivityUrl } : {}), ...(s.commandsUrl ? { commandsUrl: s.commandsUrl } : {}) } : undefined;
  }

  /** Clicks a button of a Block Kit message as a user: the block_actions payload goes to the app, signed (see Interactivity). */
  click(c: Click): ReturnType<Interactivity['click']> {
    return this.interactivity.click(c);
  }

  /** Runs a slash command as a user: its fields go to the app, signed (see Interactivity). */
  command(c: Command): ReturnType<Interactivity['command']> {
    return this.interactivity.command(c);
  }

  /** Waits until every delivery in progress has ended (delivered or given up). */
  async settled(): Promise<void> {
    while (this.inFlight.size) await Promise.all(this.inFlight);
  }

  async stop(): Promise<void> {
    this.subscription = undefined;
    await this.settled();
    this.socketMode.close();
    const server = this.server;
    this.server = undefined;
    await closeServer(server);
  }

  /** Calls `listener` with every Events API payload the simulator emits from now on. */
  onEvent(listener: (e: EventEnvelope) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  injectFault(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** Starts a storm (see Storm); several may blow at once, the first that hits a call answers it. */
  storm(s: Storm): StormRecord {
    if (!(s.share >= 0 && s.share <= 1)) throw new SlackApiError('invalid_storm_share');
    if (!Array.isArray(s.methods) || s.methods.length === 0) throw new SlackApiError('invalid_storm_methods');
    const now = Date.now();
    const record: StormRecord = { ...s, id: this.storms.length + 1, startedAt: now, endsAt: now + s.durationMs, hits: 0, passes: 0 };
    this.storms.push(record);
    this.stormFlips.set(record.id, seededRandom(s.seed ?? Math.floor(Math.random() * 2 ** 32)));
    return record;
  }

  /** Ends every storm now. */
  calmStorms(): void {
    const now = Date.now();
    for (const s of this.storms) if (s.endsAt > now) s.endsAt = now;
  }

  /** The fault a storm throws at this call, if one does. */
  private stormFault(method: string): Fault | undefined {
    const now = Date.now();
    for (const s of this.storms) {
      if (s.endsAt <= now || !(s.methods.includes(method) || s.methods.includes('*'))) continue;
      if (this.stormFlips.get(s.id)!() >= s.share) {
        s.passes += 1;
        continue;
      }
      s.hits += 1;
      if (s.kind === 'rate_limited') return { method, kind: 'rate_limited', retryAfter: s.retryAfter ?? 1 };
      if (s.kind === 'server_error') return { method, kind: 'server_error', status: s.status ?? 503 };
      if (s.kind === 'slow') return { method, kind: 'slow', delayMs: s.delayMs ?? 2000 };
      return { method, kind: 'error', error: s.error ?? 'internal_error' };
    }
    return undefined;
  }

  /** Delays between the attempts of an Events API delivery (Slack: at once, ~1 min, ~5 min); default 250 ms, 1 s, 3 s. */
  setDeliveryRetries(delaysMs: number[]): void {
    if (!delaysMs.every((d) => Number.isFinite(d) && d >= 0)) throw new SlackApiError('invalid_delays');
    this.retryDelaysMs = [...delaysMs];
  }

  /**
   * Delivers an event again over the Events API, once, as Slack's retry number `retryNum` would
   * come (X-Slack-Retry-Num, X-Slack-Retry-Reason): what a bridge sees when Slack did not get its
   * answer in time. Recorded in `deliveries` with that attempt number.
   */
  async redeliver(eventId: string, retryNum = 1, reason = 'http_timeout'): Promise<Delivery> {
    const envelope = this.events.find((e) => e.event_id === eventId);
    if (!envelope) throw new SlackApiError('event_not_found');
    if (!this.subscription) throw new SlackApiError('no_subscription');
    return this.attempt(envelope, this.subscription, retryNum, reason);
  }

  /** What is still under way: Events API deliveries, unacked Socket Mode envelopes; and how much has happened. */
  status(): { deliveriesInFlight: number; socketConnections: number; socketUnacked: number; events: number; calls: number } {
    return { deliveriesInFlight: this.inFlight.size, socketConnections: this.socketMode.connections, socketUnacked: this.socketMode.unacked, events: this.events.length, calls: this.calls.length };
  }

  /** Enforces a rate limit on `method` from now on, as Slack's tiers do; `undefined` lifts it. */
  rateLimit(method: string, perSecond: number | undefined): void {
    if (perSecond === undefined) this.rateLimits.delete(method);
    else this.rateLimits.set(method, { perSecond, recent: [] });
  }

  /** True when this call is over the method's rate limit (it is then not counted). */
  private overLimit(method: string): boolean {
    const limit = this.rateLimits.get(method);
    if (!limit) return false;
    const now = Date.now();
    limit.recent = limit.recent.filter((t) => now - t < 1000);
    if (limit.recent.length >= limit.perSecond) return true;
    limit.recent.push(now);
    return false;
  }

  /** Calls of `method` the simulator answered with `ok: true`. */
  okCalls(method: string): CallRecord[] {
    return this.calls.filter((c) => c.method === method && c.ok);
  }

  /** Posts as a person (the way a human types in Slack) and emits the `message` event. */
  postAsUser(user: string, channel: string, text: string): { message: SimMessage; envelope: EventEnvelope } {
    const message = this.workspace.post(channel, text, { user });
    return { message, envelope: this.emitMessage(message) };
  }

  /**
   * Puts a message into a conversation's history without any event, as if it had been posted
   * before Sentinel was listening: `at` (ms since epoch) back-dates it, `threadTs` makes it a reply.
   */
  seedMessage(user: string, channel: string, text: string, options: { at?: number; threadTs?: string } = {}): SimMessage {
    return this.workspace.post(channel, text, { user }, undefined, options);
  }

  /**
   * Shares a file with a message (subtype file_share) and emits only that message event: the shape
   * older suites rely on. uploadFile() is the whole of what Slack sends for a share.
   */
  shareFile(user: string, channel: string, file: { name: string; title?: string }, text = ''): { message: SimMessage; envelope: EventEnvelope } {
    const { message } = this.workspace.shareFile(user, channel, file, text);
    return { message, envelope: this.emitMessage(message) };
  }

  /**
   * Uploads a file into a conversation (or shares an existing one again, by `fileId`), as Slack
   * does: the file_share message event (https://api.slack.com/events/message/file_share), then
   * `file_shared` carrying only ids (https://api.slack.com/events/file_shared), and `file_public`
   * when this is the file's first share into a public channel (https://api.slack.com/events/file_public).
   * `quiet` seeds history without any event; `at` back-dates it (ms since epoch).
   */
  uploadFile(
    user: string,
    channel: string,
    file: { fileId?: string; name?: string; title?: string; filetype?: string; content?: string },
    options: { text?: string; at?: number; quiet?: boolean } = {},
  ): { file: SimFile; message: SimMessage; envelope?: EventEnvelope; fileShared?: EventEnvelope; filePublic?: EventEnvelope } {
    const { file: f, message, madePublic } = this.workspace.shareFile(user, channel, file, options.text ?? '', options.at);
    if (options.quiet) return { file: f, message };
    const envelope = this.emitMessage(message);
    const ids = { file_id: f.id, user_id: user, file: { id: f.id } };
    const fileShared = this.emit({ type: 'file_shared', channel_id: message.channel, ...ids, event_ts: this.workspace.nextTs() }, message.channel);
    const filePublic = madePublic ? this.emit({ type: 'file_public', ...ids, event_ts: this.workspace.nextTs() }) : undefined;
    return { file: f, message, envelope, fileShared, ...(filePublic ? { filePublic } : {}) };
  }

  /** Renames, retitles or edits a file and emits `file_change` (https://api.slack.com/events/file_change): ids only. */
  changeFile(user: string, fileId: string, change: { name?: string; title?: string; content?: string }): EventEnvelope {
    const f = this.workspace.changeFile(fileId, change);
    return this.emit({ type: 'file_change', file_id: f.id, user_id: user, file: { id: f.id }, event_ts: this.workspace.nextTs() });
  }

  /**
   * Comments on a file and emits the legacy `file_comment_added`
   * (https://api.slack.com/events/file_comment_added): the comment, and the file by id only.
   */
  commentOnFile(user: string, fileId: string, comment: string): EventEnvelope {
    const c = this.workspace.commentOnFile(fileId, user, comment);
    return this.emit({
      type: 'file_comment_added',
      comment: { id: c.id, created: c.created, timestamp: c.created, user: c.user, comment: c.comment },
      file_id: fileId,
      file: { id: fileId },
      event_ts: this.workspace.nextTs(),
    });
  }

  /**
   * Deletes a file as `by` and emits `file_deleted`, which carries only the file id and event_ts
   * (https://api.slack.com/events/file_deleted): no channel, no user.
   */
  deleteFile(fileId: string, by: SimToken): EventEnvelope {
    this.workspace.deleteFile(fileId, by);
    return this.emit({ type: 'file_deleted', file_id: fileId, event_ts: this.workspace.nextTs() });
  }

  /** Edits a message as its author and emits `message_changed`. */
  editAsUser(user: string, channel: string, ts: string, text: string): EventEnvelope {
    const { before, after } = this.workspace.update(channel, ts, text, { kind: 'user', user });
    return this.emitEdit(channel, before, after);
  }

  /**
   * `message_changed` for an edit, whoever made it (the author, or an admin or app through
   * chat.update): the message as it is now, with `edited.user` the editor, and as it was
   * (https://api.slack.com/events/message/message_changed).
   */
  private emitEdit(channel: string, before: SimMessage, after: SimMessage): EventEnvelope {
    return this.emit({
      type: 'message',
      subtype: 'message_changed',
      channel,
      channel_type: this.channelType(channel),
      hidden: true,
      ts: after.edited!.ts,
      event_ts: after.edited!.ts,
      message: { ...after },
      previous_message: { ...before },
    }, channel);
  }

  private channelType(id: string): string {
    // Slack's channel_type of message events: channel, group, im or mpim.
    return this.workspace.channel(id).kind;
  }

  private emitMessage(m: SimMessage): EventEnvelope {
    // Message metadata is not part of Slack's message events.
    const { metadata: _metadata, ...event } = m;
    return this.emit({ ...event, channel_type: this.channelType(m.channel), event_ts: m.ts, team: this.workspace.team.id }, m.channel);
  }

  private emit(event: Record<string, unknown>, channel?: string): EventEnvelope {
    this.eventSeq += 1;
    const shared = channel !== undefined && this.workspace.channel(channel).is_ext_shared === true;
    const envelope: EventEnvelope = {
      token: 'sim-verification-token',
      team_id: this.workspace.team.id,
      api_app_id: 'A0SENTINEL',
      type: 'event_callback',
      event_id: `Ev${this.eventPrefix}${String(this.eventSeq).padStart(6, '0')}`,
      event_time: Math.floor(Date.now() / 1000),
      ...(shared ? { is_ext_shared_channel: true } : {}),
      event,
    };
    this.events.push(envelope);
    this.emitter.emit('event', envelope);
    if (this.subscription) {
      const p = this.deliver(envelope, this.subscription).finally(() => this.inFlight.delete(p));
      this.inFlight.add(p);
    }
    this.socketMode.deliver(envelope);
    return envelope;
  }

  /** POSTs the event as Slack does: signed, retried up to three times with X-Slack-Retry-Num. */
  private async deliver(envelope: EventEnvelope, s: Subscription): Promise<void> {
    const delays = this.retryDelaysMs;
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, delays[attempt - 1]));
      const { status } = await this.attempt(envelope, s, attempt, 'http_error');
      if (typeof status === 'number' && status >= 200 && status < 300) return;
    }
  }

  /** One signed delivery attempt (attempt 0 is the first; later ones carry X-Slack-Retry-Num). */
  private async attempt(envelope: EventEnvelope, s: Subscription, attempt: number, reason: string): Promise<Delivery> {
    const body = JSON.stringify(envelope);
    const ts = String(Math.floor(Date.now() / 1000));
    let status: Delivery['status'];
    try {
      const res = await fetch(s.url, {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-slack-request-timestamp': ts,
          'x-slack-signature': signature(s.signingSecret, ts, body),
          ...(attempt > 0 ? { 'x-slack-retry-num': String(attempt), 'x-slack-retry-reason': reason } : {}),
        },
        signal: AbortSignal.timeout(3000),
      });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = 'network_error';
    }
    const delivery: Delivery = { eventId: envelope.event_id, attempt, status, at: Date.now() };
    this.deliveries.push(delivery);
    return delivery;
  }

  private takeFault(method: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.method === method || f.method === '*');
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    f.left -= 1;
    if (f.left <= 0) this.faults.splice(i, 1);
    return f;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const raw = await readBody(req);
    if (raw === undefined) return send(res, 413, { ok: false, error: 'request_too_large' });
    if (url.pathname.startsWith('/_sim/')) return this.control(req.method ?? 'GET', url, raw, res);
    if (req.method === 'POST' && Interactivity.isResponsePath(url.pathname)) {
      const { status, body } = this.interactivity.respond(url.pathname, raw);
      return send(res, status, body);
    }
    if (!url.pathname.startsWith('/api/')) return send(res, 404, { ok: false, error: 'not_found' });
    const method = url.pathname.slice('/api/'.length);
    let args: Record<string, unknown>;
    try {
      args = parseArgs(req.headers['content-type'], raw, url.searchParams);
    } catch {
      return send(res, 200, { ok: false, error: 'invalid_json' });
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
    delete args.token;

    const record = (status: number, body: Record<string, unknown>) => {
      this.calls.push({ at: Date.now(), method, args, status, ok: body.ok === true, ...(typeof body.error === 'string' ? { error: body.error } : {}) });
      send(res, status, body);
    };

    const fault = this.takeFault(method) ?? (this.storms.length ? this.stormFault(method) : undefined);
    if (fault?.kind === 'rate_limited' || this.overLimit(method)) {
      res.setHeader('Retry-After', String(fault?.retryAfter ?? 1));
      return record(429, { ok: false, error: 'ratelimited' });
    }
    if (fault?.kind === 'server_error') return record(fault.status ?? 500, { ok: false, error: fault.error ?? 'internal_error' });
    if (fault?.kind === 'error') return record(200, { ok: false, error: fault.error ?? 'fatal_error' });
    if (fault?.kind === 'slow') await new Promise((r) => setTimeout(r, fault.delayMs ?? 5000));

    try {
      const auth = this.workspace.authenticate(token);
      if (method === 'auth.revoke') {
        // https://api.slack.com/methods/auth.revoke: revokes the calling token; test=true only says it would.
        const test = args.test === true || args.test === 'true' || args.test === '1';
        if (!test) this.workspace.revokeToken(token!);
        return record(200, { ok: true, revoked: !test });
      }
      record(200, { ok: true, ...this.call(method, args, auth) });
    } catch (err) {
      if (err instanceof SlackApiError) return record(200, { ok: false, error: err.code });
      throw err;
    }
  }

  /** The Web API methods. Each returns the fields of a successful answer or throws SlackApiError. */
  private call(method: string, a: Record<string, unknown>, auth: SimToken): Record<string, unknown> {
    const ws = this.workspace;
    const str = (name: string, missing = 'invalid_arguments'): string => {
      const v = a[name];
      if (typeof v !== 'string' || v === '') throw new SlackApiError(missing);
      return v;
    };
    if (auth.kind === 'app' && method !== 'apps.connections.open') throw new SlackApiError('not_allowed_token_type');
    switch (method) {
      case 'apps.connections.open':
        if (auth.kind !== 'app') throw new SlackApiError('not_allowed_token_type');
        return { url: this.socketMode.openUrl(this.baseUrl) };
      case 'auth.test':
        return {
          url: `https://${ws.team.domain}.slack.com/`,
          team: ws.team.name,
          team_id: ws.team.id,
          user: ws.user(auth.user).name,
          user_id: auth.user,
          ...(auth.bot_id ? { bot_id: auth.bot_id } : {}),
        };
      case 'chat.postMessage': {
        const m = ws.post(
          str('channel', 'channel_not_found'),
          typeof a.text === 'string' ? a.text : '',
          { user: auth.user, ...(auth.bot_id ? { bot_id: auth.bot_id } : {}) },
          metadataOf(a.metadata),
          { ...(typeof a.thread_ts === 'string' && a.thread_ts ? { threadTs: a.thread_ts } : {}), ...blocksOf(a.blocks) },
        );
        this.emitMessage(m);
        return { channel: m.channel, ts: m.ts, message: m };
      }
      case 'chat.postEphemeral': {
        const e = ws.postEphemeral(str('channel', 'channel_not_found'), str('user', 'user_not_found'), typeof a.text === 'string' ? a.text : '');
        return { message_ts: e.message_ts };
      }
      case 'chat.delete': {
        const channel = str('channel', 'channel_not_found');
        const ts = str('ts', 'message_not_found');
        ws.delete(channel, ts, auth);
        this.emit({ type: 'message', subtype: 'message_deleted', channel, hidden: true, deleted_ts: ts, ts: ws.nextTs() });
        return { channel, ts };
      }
      case 'chat.update': {
        const channel = str('channel', 'channel_not_found');
        const { blocks } = blocksOf(a.blocks);
        const { before, after } = ws.update(channel, str('ts', 'message_not_found'), blocks && !a.text ? '' : str('text', 'no_text'), auth, blocks);
        this.emitEdit(channel, before, after);
        return { channel, ts: after.ts, text: after.text };
      }
      case 'conversations.open': {
        const users = str('users', 'users_list_not_supplied').split(',');
        if (users.length !== 1) throw new SlackApiError('not_implemented');
        return { channel: { id: ws.openIm(users[0]!).id } };
      }
      case 'conversations.history': {
        // Newest first; `oldest`/`latest` bound the range (exclusive unless `inclusive`), and a
        // cursor pages through it, as Slack documents: https://api.slack.com/methods/conversations.history
        // Thread replies are not in history (only their parent, with reply_count); conversations.replies reads them.
        const withMetadata = a.include_all_metadata === true || a.include_all_metadata === 'true';
        const inRange = range(a);
        const all = ws
          .history(str('channel', 'channel_not_found'))
          .filter((m) => inRange(Number(m.ts)) && (m.thread_ts === undefined || m.thread_ts === m.ts || m.subtype === 'thread_broadcast'))
          .map(({ metadata, ...m }) => (withMetadata && metadata ? { ...m, metadata } : m));
        return { ...page(all, a, 100, 'messages', 'newest_first'), ...(typeof a.latest === 'string' && a.latest ? { latest: a.latest } : {}) };
      }
      case 'conversations.replies': {
        // A thread: its parent first, then the replies oldest first, within oldest/latest, paged by
        // cursor: https://api.slack.com/methods/conversations.replies
        const inRange = range(a);
        const thread = ws.thread(str('channel', 'channel_not_found'), str('ts', 'thread_not_found')).filter((m) => inRange(Number(m.ts)));
        return page(thread.map(({ metadata: _m, ...m }) => m), a, 1000, 'messages', 'oldest_first');
      }
      case 'conversations.list': {
        // `types`: public_channel (default), private_channel, mpim, im; cursor pagination:
        // https://api.slack.com/methods/conversations.list
        const wanted = new Set((typeof a.types === 'string' && a.types ? a.types : 'public_channel').split(',').map((t) => t.trim()));
        const known = new Set(['public_channel', 'private_channel', 'mpim', 'im']);
        for (const t of wanted) if (!known.has(t)) throw new SlackApiError('invalid_types');
        const typeOf = { channel: 'public_channel', group: 'private_channel', mpim: 'mpim', im: 'im' } as const;
        const excludeArchived = a.exclude_archived === true || a.exclude_archived === 'true' || a.exclude_archived === '1';
        const list = ws
          .conversations()
          .filter((c) => wanted.has(typeOf[c.kind]) && !(excludeArchived && c.is_archived))
          .map((c) => ws.channelInfo(c.id));
        return page(list as { ts?: string }[], a, 100, 'channels');
      }
      case 'files.info': {
        // The file by id: name, title, type, preview, where it is shared: https://api.slack.com/methods/files.info
        const file = ws.fileInfo(str('file', 'file_not_found'));
        return { file, comments: [], response_metadata: { next_cursor: '' } };
      }
      case 'files.delete': {
        // Deletes a file (its owner or an admin): https://api.slack.com/methods/files.delete
        this.deleteFile(str('file', 'file_not_found'), auth);
        return {};
      }
      case 'conversations.info':
        return { channel: ws.channelInfo(str('channel', 'channel_not_found')) };
      case 'users.info':
        return { user: ws.userInfo(str('user', 'user_not_found')) };
      case 'usergroups.users.list':
        // The members of a user group, as ids: https://api.slack.com/methods/usergroups.users.list
        return { users: ws.usergroupMembers(str('usergroup', 'no_such_subteam')) };
      default:
        throw new SlackApiError('unknown_method');
    }
  }

  private control(verb: string, url: URL, raw: string, res: ServerResponse): void {
    const body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    const route = `${verb} ${url.pathname}`;
    try {
      switch (route) {
        case 'POST /_sim/messages': {
          // With `at` (back-dated) or `quiet`, the message is only put into history: no event.
          if (body.quiet === true || body.at !== undefined) {
            const opts = { ...(body.at !== undefined ? { at: Number(body.at) } : {}), ...(typeof body.thread_ts === 'string' ? { threadTs: body.thread_ts } : {}) };
            return send(res, 200, { ok: true, message: this.seedMessage(String(body.user), String(body.channel), String(body.text), opts) });
          }
          if (typeof body.thread_ts === 'string') {
            const message = this.workspace.post(String(body.channel), String(body.text), { user: String(body.user) }, undefined, { threadTs: body.thread_ts });
            return send(res, 200, { ok: true, message, envelope: this.emitMessage(message) });
          }
          const { message, envelope } = this.postAsUser(String(body.user), String(body.channel), String(body.text));
          return send(res, 200, { ok: true, message, envelope });
        }
        case 'POST /_sim/files': {
          const b = body as { user?: unknown; channel?: unknown; file_id?: unknown; name?: unknown; title?: unknown; filetype?: unknown; content?: unknown; text?: unknown; at?: unknown; quiet?: unknown };
          const opt = (v: unknown) => (typeof v === 'string' ? v : undefined);
          const file = Object.fromEntries(
            Object.entries({ fileId: opt(b.file_id), name: opt(b.name), title: opt(b.title), filetype: opt(b.filetype), content: opt(b.content) }).filter(([, v]) => v !== undefined),
          );
          const r = this.uploadFile(String(b.user), String(b.channel), file, {
            ...(typeof b.text === 'string' ? { text: b.text } : {}),
            ...(b.at !== undefined ? { at: Number(b.at) } : {}),
            ...(b.quiet === true ? { quiet: true } : {}),
          });
          return send(res, 200, { ok: true, ...r, file: this.workspace.fileInfo(r.file.id) });
        }
        case 'POST /_sim/files/change':
          return send(res, 200, { ok: true, envelope: this.changeFile(String(body.user), String(body.file_id), body as { name?: string; title?: string; content?: string }) });
        case 'POST /_sim/files/delete':
          return send(res, 200, { ok: true, envelope: this.deleteFile(String(body.file_id), { kind: 'user', user: String(body.user) }) });
        case 'POST /_sim/files/comment':
          return send(res, 200, { ok: true, envelope: this.commentOnFile(String(body.user), String(body.file_id), String(body.comment)) });
        case 'GET /_sim/events': {
          const after = Number(url.searchParams.get('after') ?? 0);
          return send(res, 200, { ok: true, events: this.events.slice(after) });
        }
        case 'GET /_sim/calls': {
          const m = url.searchParams.get('method');
          return send(res, 200, { ok: true, calls: m ? this.calls.filter((c) => c.method === m) : this.calls });
        }
        case 'POST /_sim/subscription': {
          const opt = (k: string) => (typeof body[k] === 'string' && body[k] ? { [k]: body[k] as string } : {});
          this.subscribe(body.url ? { url: String(body.url), signingSecret: String(body.signingSecret), ...opt('interactivityUrl'), ...opt('commandsUrl') } : undefined);
          return send(res, 200, { ok: true });
        }
        case 'POST /_sim/click':
        case 'POST /_sim/command': {
          // Answered once the app has answered: the caller learns its status and body.
          const run = route === 'POST /_sim/click' ? this.click(body as unknown as Click) : this.command(body as unknown as Command);
          void run.then(
            (answer) => send(res, 200, { ok: true, ...answer }),
            (err: unknown) => send(res, 400, { ok: false, error: err instanceof SlackApiError ? err.code : String(err) }),
          );
          return;
        }
        case 'POST /_sim/usergroups':
          this.workspace.setUsergroup(body as unknown as SimUsergroup);
          return send(res, 200, { ok: true });
        case 'GET /_sim/ephemerals':
          return send(res, 200, { ok: true, ephemerals: this.workspace.ephemerals.filter((e) => !url.searchParams.get('user') || e.user === url.searchParams.get('user')) });
        case 'GET /_sim/responses':
          return send(res, 200, { ok: true, responses: this.interactivity.responses });
        case 'GET /_sim/deliveries':
          return send(res, 200, { ok: true, deliveries: this.deliveries });
        case 'POST /_sim/faults':
          this.injectFault(body as unknown as Fault);
          return send(res, 200, { ok: true });
        case 'DELETE /_sim/faults':
          this.clearFaults();
          return send(res, 200, { ok: true });
        case 'POST /_sim/storms':
          return send(res, 200, { ok: true, storm: this.storm(body as unknown as Storm) });
        case 'GET /_sim/storms':
          return send(res, 200, { ok: true, storms: this.storms });
        case 'DELETE /_sim/storms':
          this.calmStorms();
          return send(res, 200, { ok: true });
        case 'GET /_sim/history':
          // The workspace as it is, metadata included: what a test counts side effects on.
          return send(res, 200, { ok: true, messages: this.workspace.history(String(url.searchParams.get('channel'))) });
        case 'GET /_sim/status':
          return send(res, 200, { ok: true, ...this.status() });
        case 'GET /_sim/socket-deliveries':
          return send(res, 200, { ok: true, deliveries: this.socketMode.deliveries });
        case 'POST /_sim/tokens':
          return send(res, 200, { ok: true, token: this.workspace.issueToken(String(body.user), body.kind === 'bot' ? 'bot' : 'user') });
        case 'POST /_sim/users':
          this.workspace.addUser(body as unknown as SimUser);
          return send(res, 200, { ok: true });
        case 'POST /_sim/channels':
          if (typeof body.id !== 'string' || !/^[CG][A-Z0-9]{2,}$/.test(body.id) || !['channel', 'group', 'mpim'].includes(String(body.kind))) throw new SlackApiError('invalid_channel');
          this.workspace.addChannel(body as unknown as SimChannel);
          return send(res, 200, { ok: true });
        case 'POST /_sim/delivery-retries':
          this.setDeliveryRetries(body.delaysMs as number[]);
          return send(res, 200, { ok: true });
        case 'POST /_sim/redeliver':
          // Answered once the attempt is over: the caller learns the bridge's status.
          void this.redeliver(String(body.eventId), Number(body.retryNum ?? 1), String(body.reason ?? 'http_timeout')).then(
            (delivery) => send(res, 200, { ok: true, delivery }),
            (err: unknown) => send(res, 400, { ok: false, error: err instanceof SlackApiError ? err.code : String(err) }),
          );
          return;
        default:
          return send(res, 404, { ok: false, error: `no control route ${route}` });
      }
    } catch (err) {
      if (err instanceof SlackApiError) return send(res, 400, { ok: false, error: err.code });
      throw err;
    }
  }
}

/** The `oldest`/`latest`/`inclusive` range of conversations.history and conversations.replies. */
function range(a: Record<string, unknown>): (ts: number) => boolean {
  const inclusive = a.inclusive === true || a.inclusive === 'true' || a.inclusive === '1';
  const oldest = typeof a.oldest === 'string' && a.oldest ? Number(a.oldest) : -Infinity;
  const latest = typeof a.latest === 'string' && a.latest ? Number(a.latest) : Infinity;
  return (ts) => (inclusive ? ts >= oldest && ts <= latest : ts > oldest && ts < latest);
}

/**
 * One page of `all` under Slack's cursor pagination (https://api.slack.com/docs/pagination):
 * `limit` (capped at 1000), an opaque `cursor`, `response_metadata.next_cursor` while more remain.
 * With `tsOrder`, the cursor holds the last ts returned (not an offset), so that a message deleted
 * or posted between two pages neither skips nor repeats one, as with Slack's own cursors.
 */
function page<T extends { ts?: string }>(all: T[], a: Record<string, unknown>, defaultLimit: number, field: string, tsOrder?: 'newest_first' | 'oldest_first'): Record<string, unknown> {
  const limit = Math.min(Number(a.limit ?? defaultLimit) || defaultLimit, 1000);
  let from = 0;
  if (typeof a.cursor === 'string' && a.cursor) {
    const decoded = Buffer.from(a.cursor, 'base64').toString('utf8');
    const ts = /^next_ts:(\d+\.\d+)$/.exec(decoded)?.[1];
    const offset = /^offset:(\d+)$/.exec(decoded)?.[1];
    if (tsOrder && ts !== undefined) {
      const after = all.findIndex((m) => (tsOrder === 'newest_first' ? Number(m.ts) < Number(ts) : Number(m.ts) > Number(ts)));
      from = after < 0 ? all.length : after;
    } else if (!tsOrder && offset !== undefined) {
      from = Number(offset);
    } else {
      throw new SlackApiError('invalid_cursor');
    }
  }
  const more = from + limit < all.length;
  const items = all.slice(from, from + limit);
  const next = !more ? '' : tsOrder ? `next_ts:${items[items.length - 1]!.ts}` : `offset:${from + limit}`;
  return { [field]: items, has_more: more, response_metadata: { next_cursor: next ? Buffer.from(next).toString('base64') : '' } };
}

/** An argument that arrives as a JSON string (form-encoded) or as the value itself (JSON body); unparseable JSON is `error`. */
function jsonArgument(v: unknown, error: string): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    throw new SlackApiError(error);
  }
}

/**
 * Block Kit blocks of chat.postMessage / chat.update: a JSON string (form-encoded) or an array (JSON
 * body); more than 50 is `invalid_blocks`, as Slack answers (https://api.slack.com/reference/block-kit/blocks).
 */
function blocksOf(v: unknown): { blocks?: Record<string, unknown>[] } {
  if (v === undefined || v === null || v === '') return {};
  const b = jsonArgument(v, 'invalid_blocks_format');
  if (!Array.isArray(b) || b.length > 50 || !b.every((x) => typeof (x as { type?: unknown })?.type === 'string')) throw new SlackApiError('invalid_blocks');
  return { blocks: b as Record<string, unknown>[] };
}

/** chat.postMessage metadata arrives as a JSON string (form-encoded) or an object (JSON body). */
function metadataOf(v: unknown): SimMessage['metadata'] {
  const m = jsonArgument(v, 'invalid_metadata_format');
  if (m === undefined || m === null) return undefined;
  const o = m as { event_type?: unknown; event_payload?: unknown };
  if (typeof o.event_type !== 'string' || typeof o.event_payload !== 'object') throw new SlackApiError('invalid_metadata_schema');
  return { event_type: o.event_type, event_payload: o.event_payload as Record<string, unknown> };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/** Reads the body, or undefined when it exceeds MAX_BODY. */
async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Web API arguments arrive form-encoded (the SDK's default), as JSON, or in the query string. */
function parseArgs(contentType: string | undefined, raw: string, query: URLSearchParams): Record<string, unknown> {
  const args: Record<string, unknown> = Object.fromEntries(query);
  if (!raw) return args;
  if (contentType?.includes('application/json')) return { ...args, ...(JSON.parse(raw) as Record<string, unknown>) };
  for (const [k, v] of new URLSearchParams(raw)) args[k] = v;
  return args;
}

