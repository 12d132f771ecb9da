/**
 * Turns a raw stream message (Slack's JSON, unchanged) into the ChatEvent rules match on.
 * A payload that can never be understood throws MalformedEventError (the detector dead-letters
 * it); one that is fine but not for us (a deletion, a bot's own post) is `ignored`.
 */
import type { ChannelKind, ChatEvent } from '../engine/types';
import { InvalidJsonError, parseJson } from './json';

/** The payload is broken: retrying will not help. `reason` says what and where. */
export class MalformedEventError extends Error {
  override name = 'MalformedEventError';
}

export type Normalized = { kind: 'event'; event: ChatEvent } | { kind: 'ignored'; reason: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Subtypes that carry no new user text. */
const ignoredSubtypes = new Set(['message_deleted', 'bot_message', 'channel_join', 'channel_leave', 'tombstone']);

/** Ids become part of workflow ids and subjects: keep them to Slack's alphabet. */
function id(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(value)) {
    // Not the value itself: a field that is not an id may hold anything, a secret included.
    const what = typeof value === 'string' ? `a string of ${value.length} characters` : value === null ? 'null' : `a ${Array.isArray(value) ? 'list' : typeof value}`;
    throw new MalformedEventError(`${field} is ${value === undefined ? 'missing' : `not an id (${what}; ids are 1-64 letters, digits, ".", "_" or "-")`}`);
  }
  return value;
}

const channelTypes: Record<string, ChannelKind> = { channel: 'public', group: 'private', im: 'im', mpim: 'mpim' };

/** What the event says about its channel: its type, and whether it is shared with another organisation. */
function channelKinds(envelope: Json | undefined, event: Json): ChannelKind[] {
  const kinds: ChannelKind[] = [];
  const type = typeof event.channel_type === 'string' ? channelTypes[event.channel_type] : undefined;
  if (type) kinds.push(type);
  if (envelope?.is_ext_shared_channel === true) kinds.push('external');
  return kinds;
}

/**
 * Slack's file events carry only ids (https://api.slack.com/events/file_shared, file_public,
 * file_change, file_comment_added): the bridge looks the file up with files.info before the event
 * reaches CHAT (src/bridge/enrich.ts says why there), puts Slack's file object in `event.file`,
 * and says where the event belongs in the envelope's `sentinel_enrichment`.
 */
export const FILE_EVENT_TYPES: ReadonlySet<string> = new Set(['file_shared', 'file_public', 'file_change', 'file_comment_added']);

/** What the bridge's files.info lookup adds to a file event's envelope (ids and kinds, never text). */
export interface FileEnrichment {
  v: 1;
  /** The conversation the event is placed in: the share's channel; absent when the file is in none. */
  channel?: string;
  /** The share's message ts (file_shared, file_public) or the event's own (file_change, comments). */
  ts?: string;
  /** Who shared, changed or commented. */
  user: string;
  /** Kinds of the conversation(s) the file is in, Slack Connect (`external`) included. */
  channel_kinds: ChannelKind[];
}

/** Normalizes the JSON of a message published on `subject` (chat.<source>.<team>.<event_type>). */
export function normalize(subject: string, data: Uint8Array): Normalized {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new MalformedEventError(`not UTF-8 (${data.length} bytes)`);
  }
  let doc: unknown;
  try {
    doc = parseJson(text);
  } catch (err) {
    if (err instanceof InvalidJsonError) throw new MalformedEventError(err.message);
    throw err;
  }
  if (!isObject(doc)) throw new MalformedEventError('not a JSON object');
  const [, source, subjectTeam] = subject.split('.');
  if (!source || !/^[a-z][a-z0-9_-]{0,31}$/.test(source)) throw new MalformedEventError(`subject ${subject} does not name a source (chat.<source>.<team>.<event_type>)`);
  return source === 'slack' ? normalizeSlack(doc) : normalizeGeneric(source, subjectTeam, doc);
}

const KINDS = new Set<ChannelKind>(['public', 'private', 'im', 'mpim', 'external']);

/**
 * Any other chat source publishes this shape on chat.<source>.<team>.<event_type> (README, "Other
 * chat sources"): { type: "message", channel, user, ts, text, team?, channel_kinds? }.
 */
export function normalizeGeneric(source: string, subjectTeam: string | undefined, doc: Json): Normalized {
  if (doc.type !== 'message') return { kind: 'ignored', reason: `event type ${String(doc.type)}` };
  if (typeof doc.text !== 'string') throw new MalformedEventError('text is missing or not a string');
  const kinds = doc.channel_kinds ?? [];
  if (!Array.isArray(kinds) || !kinds.every((k) => KINDS.has(k as ChannelKind))) {
    throw new MalformedEventError(`channel_kinds must be a list of ${[...KINDS].join(', ')}`);
  }
  return {
    kind: 'event',
    event: {
      source,
      team: id(doc.team ?? subjectTeam, 'team'),
      channel: id(doc.channel, 'channel'),
      user: id(doc.user, 'user'),
      ts: id(doc.ts, 'ts'),
      eventType: 'message',
      text: doc.text,
      channelKinds: kinds as ChannelKind[],
      raw: doc,
    },
  };
}

/**
 * Slack: an Events API `event_callback` envelope, or the inner `event` object alone. Offline
 * scans pass `requireTeam: false`, since exported messages often carry no team.
 */
export function normalizeSlack(doc: Json, options: { requireTeam?: boolean } = {}): Normalized {
  const envelope = doc.type === 'event_callback' ? doc : undefined;
  const event = envelope ? envelope.event : doc;
  if (!isObject(event)) throw new MalformedEventError('event_callback without an "event" object');
  if (typeof event.type === 'string' && FILE_EVENT_TYPES.has(event.type)) return normalizeFileEvent(envelope, event, options);
  if (event.type === 'file_deleted') return normalizeFileDeleted(envelope, event, options);
  if (event.type !== 'message') return { kind: 'ignored', reason: `event type ${String(event.type)}` };
  if (typeof event.subtype === 'string' && ignoredSubtypes.has(event.subtype)) return { kind: 'ignored', reason: `message subtype ${event.subtype}` };
  // An edit: the new text is what matters, and the message keeps its original ts and author.
  const edited = event.subtype === 'message_changed';
  const message = edited ? event.message : event;
  if (!isObject(message)) throw new MalformedEventError('message_changed without a "message" object');
  if (edited && isObject(event.previous_message) && event.previous_message.text === message.text && !message.files) {
    return { kind: 'ignored', reason: 'edit without a text change' };
  }
  if (message.bot_id !== undefined) return { kind: 'ignored', reason: 'posted by a bot' };
  // Only its author's words are the author's leak. An edit by someone else is a workspace admin's
  // or an app's, Sentinel's own redactions and tombstones among them: scanned, they would open
  // incidents against the author for Sentinel's notice.
  const editor = edited && isObject(message.edited) ? message.edited.user : undefined;
  if (editor !== undefined && editor !== message.user) return { kind: 'ignored', reason: 'edited by someone other than its author' };
  if (typeof message.text !== 'string') throw new MalformedEventError(`${edited ? 'event.message' : 'event'}.text is missing or not a string`);
  const rawTeam = envelope?.team_id ?? event.team ?? message.team;
  const team = rawTeam === undefined && options.requireTeam === false ? '' : id(rawTeam, envelope ? 'team_id' : 'event.team');
  const fileNames = Array.isArray(message.files)
    ? message.files.flatMap((f) => (isObject(f) ? [f.name, f.title].filter((v): v is string => typeof v === 'string' && v !== '') : []))
    : [];
  // Rules match the text and, on their own lines, the names and titles of shared files.
  const text = [message.text, ...fileNames].filter(Boolean).join('\n');
  const files = fileIds(message.files);
  return {
    kind: 'event',
    event: {
      source: 'slack',
      team,
      channel: id(event.channel, 'event.channel'),
      user: id(message.user, `${edited ? 'event.message' : 'event'}.user`),
      ts: id(message.ts, `${edited ? 'event.message' : 'event'}.ts`),
      eventType: edited ? 'message_changed' : 'message',
      text,
      channelKinds: channelKinds(envelope, event),
      ...(files.length ? { files } : {}),
      raw: event,
    },
  };
}

/**
 * `file_deleted` carries only the file id and event_ts (https://api.slack.com/events/file_deleted;
 * @slack/types adds an optional `channel_ids`): no user and, usually, no channel, and the file can
 * no longer be looked up. It names no message, so it has no text and opens no per-event incident
 * (`channel` and `user` are empty, decide() skips it); it exists for stateful rules, whose `until`
 * steps cancel the sequences in progress of that file (ChatEvent.files).
 */
function normalizeFileDeleted(envelope: Json | undefined, event: Json, options: { requireTeam?: boolean }): Normalized {
  const fileId = id(event.file_id, 'event.file_id');
  const ts = id(event.event_ts ?? (typeof envelope?.event_time === 'number' ? `${envelope.event_time}.000000` : undefined), 'event.event_ts');
  const rawTeam = envelope?.team_id;
  const team = rawTeam === undefined && options.requireTeam === false ? '' : id(rawTeam, 'team_id');
  const first = Array.isArray(event.channel_ids) ? event.channel_ids[0] : undefined;
  return {
    kind: 'event',
    event: { source: 'slack', team, channel: first === undefined ? '' : id(first, 'event.channel_ids[0]'), user: '', ts, eventType: 'file_deleted', text: '', channelKinds: [], files: [fileId], raw: event },
  };
}

/** The ids of a message's files[] (only well-formed ones: they become fact fields). */
function fileIds(files: unknown): string[] {
  if (!Array.isArray(files)) return [];
  return files.flatMap((f) => (isObject(f) && typeof f.id === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(f.id) ? [f.id] : []));
}

/**
 * A file event the bridge enriched: the text rules match is the file's name, title and preview (and
 * a comment's text), each on its own line. One the bridge did not enrich names nothing to match.
 */
function normalizeFileEvent(envelope: Json | undefined, event: Json, options: { requireTeam?: boolean }): Normalized {
  const type = event.type as string;
  const enrichment = envelope?.sentinel_enrichment;
  if (!isObject(enrichment)) return { kind: 'ignored', reason: `${type} without a files.info lookup (the bridge enriches file events)` };
  if (enrichment.channel === undefined) return { kind: 'ignored', reason: `${type}: the file is in no conversation` };
  const file = event.file;
  if (!isObject(file)) throw new MalformedEventError(`${type} without a "file" object`);
  const fileId = id(event.file_id ?? file.id, 'event.file_id');
  const kinds = enrichment.channel_kinds ?? [];
  if (!Array.isArray(kinds) || !kinds.every((k) => KINDS.has(k as ChannelKind))) {
    throw new MalformedEventError(`sentinel_enrichment.channel_kinds must be a list of ${[...KINDS].join(', ')}`);
  }
  const comment = type === 'file_comment_added' && isObject(event.comment) && typeof event.comment.comment === 'string' ? event.comment.comment : '';
  const parts = [comment, file.name, file.title, file.preview].filter((v): v is string => typeof v === 'string' && v !== '');
  const rawTeam = envelope?.team_id;
  const team = rawTeam === undefined && options.requireTeam === false ? '' : id(rawTeam, 'team_id');
  return {
    kind: 'event',
    event: {
      source: 'slack',
      team,
      channel: id(enrichment.channel, 'sentinel_enrichment.channel'),
      user: id(enrichment.user, 'sentinel_enrichment.user'),
      ts: id(enrichment.ts, 'sentinel_enrichment.ts'),
      eventType: type,
      text: [...new Set(parts)].join('\n'),
      channelKinds: kinds as ChannelKind[],
      files: [fileId],
      raw: event,
    },
  };
}
