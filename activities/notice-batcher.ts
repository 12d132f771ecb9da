/**
 * Digests: notifications to one channel (a user's DM, the security channel) that come closer together
 * than an interval go out as one message. The first of a quiet spell is posted at once, so a single
 * leak is told without delay; during a burst the rest gather until the interval since the last post
 * has passed and leave together, so a burst costs a handful of posts instead of one per incident
 * (and stays within chat.postMessage's one message per second per channel).
 */
import type { OperatorControl } from '../contract';
import { digestBlocks, incidentBlocks, type Block } from './summary-blocks';

export interface Notice {
  /** Its idempotency key: a retried notice is recognised by it (notice ledger, message metadata). */
  key: string;
  text: string;
  /** An incident summary's buttons (Block Kit): the incident and its controls. */
  controls?: { incidentId: string; controls: OperatorControl[] };
}

/** Posts one message carrying `keys`, with `blocks` when it has any; answers its ts. */
export type PostDigest = (channel: string, text: string, keys: string[], blocks?: Block[]) => Promise<string>;

/** The text of a message carrying several notices (one notice goes out as its own text). */
export type ComposeDigest = (notices: Notice[]) => string;

/** The Block Kit blocks of a message carrying `notices` (one or several); undefined: text only. */
export type ComposeBlocks = (notices: Notice[]) => Block[] | undefined;

interface Waiting {
  notice: Notice;
  resolve: (ts: string) => void;
  reject: (err: unknown) => void;
}

interface Lane {
  waiting: Waiting[];
  lastPostAt: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  posting: boolean;
}

export interface BatcherOptions {
  /** Notices to one channel closer together than this share a message; 0 posts each alone. */
  intervalMs: number;
  /** At most this many notices per message (Slack caps a message's length); default 20. */
  maxPerMessage?: number;
  /** Blocks of a message, beside its text (security summaries with buttons); default none. */
  composeBlocks?: ComposeBlocks;
  now?: () => number;
}

export class NoticeBatcher {
  private readonly lanes = new Map<string, Lane>();
  private readonly max: number;
  private readonly now: () => number;

  constructor(
    private readonly post: PostDigest,
    private readonly compose: ComposeDigest,
    private readonly o: BatcherOptions,
  ) {
    this.max = o.maxPerMessage ?? 20;
    this.now = o.now ?? Date.now;
  }

  /** Sends `notice` to `channel`, alone or with others; resolves with the ts of the message that carried it. */
  send(channel: string, notice: Notice): Promise<string> {
    if (this.o.intervalMs <= 0) {
      const blocks = this.o.composeBlocks?.([notice]);
      return this.post(channel, notice.text, [notice.key], ...(blocks ? [blocks] : []));
    }
    let lane = this.lanes.get(channel);
    if (!lane) {
      this.prune();
      this.lanes.set(channel, (lane = { waiting: [], lastPostAt: -Infinity, timer: undefined, posting: false }));
    }
    const l = lane;
    return new Promise<string>((resolve, reject) => {
      l.waiting.push({ notice, resolve, reject });
      this.schedule(channel, l);
    });
  }

  private schedule(channel: string, lane: Lane): void {
    if (lane.timer !== undefined || lane.posting || lane.waiting.length === 0) return;
    // Notices arriving in the same turn of the event loop share the first post too.
    const wait = Math.max(0, lane.lastPostAt + this.o.intervalMs - this.now());
    lane.timer = setTimeout(() => void this.flush(channel, lane), wait);
  }

  private async flush(channel: string, lane: Lane): Promise<void> {
    lane.timer = undefined;
    const batch = lane.waiting.splice(0, this.max);
    if (batch.length === 0) return;
    lane.posting = true;
    lane.lastPostAt = this.now();
    const notices = batch.map((w) => w.notice);
    try {
      const blocks = this.o.composeBlocks?.(notices);
      const ts = await this.post(channel, notices.length === 1 ? notices[0]!.text : this.compose(notices), notices.map((n) => n.key), ...(blocks ? [blocks] : []));
      for (const w of batch) w.resolve(ts);
    } catch (err) {
      // Each waiting activity fails and is retried by Temporal on its own; a retry joins a later message.
      for (const w of batch) w.reject(err);
    } finally {
      lane.posting = false;
      lane.lastPostAt = this.now();
      if (lane.waiting.length > 0) this.schedule(channel, lane);
    }
  }

  /** Forgets channels quiet for longer than the interval (they post at once next time anyway). */
  private prune(): void {
    if (this.lanes.size < 1000) return;
    const quiet = this.now() - this.o.intervalMs;
    for (const [channel, lane] of this.lanes) if (!lane.posting && lane.timer === undefined && lane.waiting.length === 0 && lane.lastPostAt < quiet) this.lanes.delete(channel);
  }
}

/** A user's digest: their rule messages as a list. */
export function composeUserDigest(notices: Notice[]): string {
  const counts = new Map<string, number>();
  for (const n of notices) counts.set(n.text, (counts.get(n.text) ?? 0) + 1);
  const lines = [...counts].map(([text, n]) => `• ${text}${n > 1 ? ` (×${n})` : ''}`);
  return `${notices.length} of your recent messages contained secrets or personal data and were removed:\n${lines.join('\n')}`;
}

function securityDigestHeader(count: number): string {
  return `:rotating_light: ${count} Sentinel incidents in the last few seconds:`;
}

/** The security channel's digest: each incident's summary, one after another. */
export function composeSecurityDigest(notices: Notice[]): string {
  return `${securityDigestHeader(notices.length)}\n\n${notices.map((n) => n.text).join('\n\n')}`;
}

/**
 * The security channel's blocks: each incident's summary with its buttons (a digest under one
 * header); undefined when none of the notices has controls (escalations, summaries of old incidents).
 */
export function composeSecurityBlocks(notices: Notice[]): Block[] | undefined {
  if (!notices.some((n) => n.controls)) return undefined;
  const controlled = notices.map((n) => ({ incidentId: n.controls?.incidentId ?? '', controls: n.controls?.controls ?? [], text: n.text }));
  return notices.length === 1 ? incidentBlocks(controlled[0]!) : digestBlocks(securityDigestHeader(notices.length), controlled);
}
