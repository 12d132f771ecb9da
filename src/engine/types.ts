/** What the rule engine reads and what it produces. Pure data: no IO types here. */

export type Category = 'secret' | 'pii' | 'policy' | 'behavior';
export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type Action = 'delete' | 'notify' | 'revoke_kms' | 'escalate' | 'none';

/** A chat event in the shape rules match on, whatever the source. */
export interface ChatEvent {
  /** `slack`, or another source publishing on chat.<source>.… */
  source: string;
  team: string;
  channel: string;
  user: string;
  /** The message's own timestamp: with channel, it names the message. */
  ts: string;
  /** Slack's event type (`message`, …). */
  eventType: string;
  text: string;
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
  /** UTF-16 offsets of the match in the event's text. */
  start: number;
  end: number;
  redacted: string;
}
