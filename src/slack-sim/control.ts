/** An HTTP client for the simulator's /_sim/ control surface (the demo drives a simulator in another process). */
import type { CallRecord, Delivery, EventEnvelope, Fault, SlackSimulator, Storm, StormRecord } from './server';
import type { SocketDelivery } from './socket-mode';
import type { Click, Command, InteractionAnswer, ResponseRecord } from './interactivity';
import type { Ephemeral, SimChannel, SimMessage, SimUser, SimUsergroup } from './workspace';

export class SimControl {
  constructor(private readonly baseUrl: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = (await res.json()) as { ok: boolean; error?: string } & T;
    if (!json.ok) throw new Error(`simulator ${method} ${path} failed: ${json.error ?? res.status}`);
    return json;
  }

  async post(user: string, channel: string, text: string): Promise<{ message: SimMessage; envelope: EventEnvelope }> {
    return this.call('POST', '/_sim/messages', { user, channel, text });
  }

  /**
   * Uploads a file into `channel` (or shares `file_id` again) as `user`: the file_share message,
   * file_shared and, on a first public share, file_public. `quiet` only puts it into history.
   */
  async uploadFile(
    user: string,
    channel: string,
    file: { file_id?: string; name?: string; title?: string; filetype?: string; content?: string },
    options: { text?: string; at?: number; quiet?: boolean } = {},
  ): Promise<{ file: Record<string, unknown> & { id: string }; message: SimMessage; envelope?: EventEnvelope; fileShared?: EventEnvelope; filePublic?: EventEnvelope }> {
    return this.call('POST', '/_sim/files', { user, channel, ...file, ...options });
  }

  /** Changes a file's name, title or text and emits file_change. */
  async changeFile(user: string, fileId: string, change: { name?: string; title?: string; content?: string }): Promise<EventEnvelope> {
    return (await this.call<{ envelope: EventEnvelope }>('POST', '/_sim/files/change', { user, file_id: fileId, ...change })).envelope;
  }

  /** Deletes a file as `user` (its owner, or an admin) and emits file_deleted. */
  async deleteFile(user: string, fileId: string): Promise<EventEnvelope> {
    return (await this.call<{ envelope: EventEnvelope }>('POST', '/_sim/files/delete', { user, file_id: fileId })).envelope;
  }

  /** Comments on a file and emits the legacy file_comment_added. */
  async commentOnFile(user: string, fileId: string, comment: string): Promise<EventEnvelope> {
    return (await this.call<{ envelope: EventEnvelope }>('POST', '/_sim/files/comment', { user, file_id: fileId, comment })).envelope;
  }

  /** Puts a message into history without an event; `at` back-dates it, `thread_ts` makes it a reply. */
  async seedMessage(user: string, channel: string, text: string, options: { at?: number; thread_ts?: string } = {}): Promise<SimMessage> {
    return (await this.call<{ message: SimMessage }>('POST', '/_sim/messages', { user, channel, text, quiet: true, ...options })).message;
  }

  async events(after: number): Promise<EventEnvelope[]> {
    return (await this.call<{ events: EventEnvelope[] }>('GET', `/_sim/events?after=${after}`)).events;
  }

  async calls(method: string): Promise<CallRecord[]> {
    return (await this.call<{ calls: CallRecord[] }>('GET', `/_sim/calls?method=${encodeURIComponent(method)}`)).calls;
  }

  /**
   * Has the simulator deliver its events, signed, to `url` (undefined: stop delivering); and button
   * clicks and slash commands to the app's interactivity and commands URLs when given.
   */
  async subscribe(url: string | undefined, signingSecret = '', app: { interactivityUrl?: string; commandsUrl?: string } = {}): Promise<void> {
    await this.call('POST', '/_sim/subscription', url ? { url, signingSecret, ...app } : {});
  }

  /** Clicks a button of a message as `user`; answers how the app took the block_actions request. */
  async click(c: Click): Promise<InteractionAnswer> {
    return this.call('POST', '/_sim/click', c);
  }

  /** Runs a slash command (default /sentinel) as `user`; answers how the app took it. */
  async command(c: Command): Promise<InteractionAnswer> {
    return this.call('POST', '/_sim/command', c);
  }

  /** Creates or replaces a user group (S…) and its members. */
  async setUsergroup(group: SimUsergroup): Promise<void> {
    await this.call('POST', '/_sim/usergroups', group);
  }

  /** Ephemeral messages posted so far (to `user` only, when given). */
  async ephemerals(user?: string): Promise<Ephemeral[]> {
    return (await this.call<{ ephemerals: Ephemeral[] }>('GET', `/_sim/ephemerals${user ? `?user=${encodeURIComponent(user)}` : ''}`)).ephemerals;
  }

  /** What apps sent to response URLs, oldest first. */
  async responses(): Promise<ResponseRecord[]> {
    return (await this.call<{ responses: ResponseRecord[] }>('GET', '/_sim/responses')).responses;
  }

  async deliveries(): Promise<Delivery[]> {
    return (await this.call<{ deliveries: Delivery[] }>('GET', '/_sim/deliveries')).deliveries;
  }

  async fault(f: Fault): Promise<void> {
    await this.call('POST', '/_sim/faults', f);
  }

  /** Starts a storm of failures (see Storm). */
  async storm(s: Storm): Promise<StormRecord> {
    return (await this.call<{ storm: StormRecord }>('POST', '/_sim/storms', s)).storm;
  }

  /** Ends every storm. */
  async calm(): Promise<void> {
    await this.call('DELETE', '/_sim/storms');
  }

  async storms(): Promise<StormRecord[]> {
    return (await this.call<{ storms: StormRecord[] }>('GET', '/_sim/storms')).storms;
  }

  /** A channel's messages as the workspace holds them, newest first, metadata included. */
  async history(channel: string): Promise<SimMessage[]> {
    return (await this.call<{ messages: SimMessage[] }>('GET', `/_sim/history?channel=${encodeURIComponent(channel)}`)).messages;
  }

  async status(): Promise<ReturnType<SlackSimulator['status']>> {
    return this.call('GET', '/_sim/status');
  }

  async socketDeliveries(): Promise<SocketDelivery[]> {
    return (await this.call<{ deliveries: SocketDelivery[] }>('GET', '/_sim/socket-deliveries')).deliveries;
  }

  async addUser(user: SimUser): Promise<void> {
    await this.call('POST', '/_sim/users', user);
  }

  async addChannel(channel: SimChannel): Promise<void> {
    await this.call('POST', '/_sim/channels', channel);
  }

  /** Sets the delays between Events API delivery attempts. */
  async deliveryRetries(delaysMs: number[]): Promise<void> {
    await this.call('POST', '/_sim/delivery-retries', { delaysMs });
  }

  /** Delivers an event again as Slack's retry `retryNum`; answers how the bridge took it. */
  async redeliver(eventId: string, retryNum = 1, reason = 'http_timeout'): Promise<Delivery> {
    return (await this.call<{ delivery: Delivery }>('POST', '/_sim/redeliver', { eventId, retryNum, reason })).delivery;
  }
}
