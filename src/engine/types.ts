/** What the rule engine reads and what it produces. Pure data: no IO types here. */
import type { Action, Category, Severity } from '../../contract';

// A finding's category, severity and actions are the incident's: the contract owns them.
export type { Action, Category, Severity };

/** Encodings the engine looks inside: base64 (standard and URL-safe), hex, percent-encoding, JSON string escapes. */
export type Encoding = 'base64' | 'hex' | 'percent' | 'json';

/** The channel kinds rules can be scoped to. `external` is a Slack Connect channel shared with another organisation. */
export type ChannelKind = 'public' | 'private' | 'im' | 'mpim' | 'external';

/** A chat event in the shape rules match on, whatever the source. */
export interface ChatEvent {
  /** `slack`, or another source publishing on chat.<source>.… */
  source: string;
  team: string;
  channel: string;
  user: string;
  /** The message's own timestamp: with channel, it names the message. */
  ts: string;
  /** What happened: `message`, `message_changed`, `file_shared`, … */
  eventType: string;
  /** The text rules match: message text, plus file names and titles where the event carries them. */
  text: string;
  /** The kinds the channel is known to be (empty when the event does not say). */
  channelKinds?: ChannelKind[];
  /** Ids of the files the event shares or concerns (Slack: F…); absent when none. */
  files?: string[];
  /** The source's raw event object, for SQL rules that read its fields. */
  raw?: Record<string, unknown>;
}

/** One rule match in one event. Carries positions and a redacted form, never the matched text. */
export interface Finding {
  ruleId: string;
  description: string;
  category: Category;
  severity: Severity;
  actions: Action[];
  /** The message to the user, template already filled in. */
  message: string;
  /** A KMS revocation must wait for an operator's approval. */
  approvalRequired: boolean;
  /** UTF-16 offsets of the match in the event's text as delivered. */
  start: number;
  end: number;
  redacted: string;
  /** The message around the match, every match in it redacted and other digit-bearing or long words masked. */
  excerpt: string;
  /** For rules that redact: the whole text, every match redacted and other token-like words masked (redactAll). */
  redactedText?: string;
  /** HMAC-SHA256 of the matched value under the configured key, when the caller supplied one. */
  fingerprint?: string;
  /** The encodings the value was found inside (base64, hex, percent, json), outermost first; absent for plain text. */
  encodings?: Encoding[];
}
