/**
 * The notice ledger: what Sentinel meant to post and what it did post, one record per idempotency
 * key, in a JetStream key-value bucket. A post-once call writes its intent before it posts and the
 * message's ts after; a retry reads the record by key, so "was this already posted?" never depends on
 * how many messages came since (the channel's history is read only in the window between an intent
 * and its outcome, and then by time, not by count).
 */
import { createHash } from 'node:crypto';
import type { JetStreamClient } from 'nats';

export type NoticeRecord =
  /** A post is about to go out (ms since the epoch): if no outcome follows, it may or may not have. */
  | { state: 'intent'; at: number }
  /** The post went out: channel and ts name it. */
  | { state: 'posted'; at: number; channel: string; ts: string };

export interface NoticeLedger {
  get(key: string): Promise<NoticeRecord | undefined>;
  put(key: string, record: NoticeRecord): Promise<void>;
  /** Forgets an intent whose post certainly did not go out (Slack refused it, or it was never sent). */
  clear(key: string): Promise<void>;
}

export const NOTICE_BUCKET = 'SENTINEL_NOTICES';

/** How long a record is kept: long past any retry of an incident's notification. */
export const NOTICE_TTL_MS = 30 * 24 * 3600_000;

/** Bucket keys allow only [-/_=.a-zA-Z0-9]; idempotency keys hold `#` and more, so the bucket keys by their hash. */
const bucketKey = (key: string) => createHash('sha256').update(key).digest('hex');

/** The ledger in the NOTICE_BUCKET bucket, created if it does not exist. */
export async function jetStreamNoticeLedger(js: JetStreamClient): Promise<NoticeLedger> {
  const kv = await js.views.kv(NOTICE_BUCKET, { history: 1, ttl: NOTICE_TTL_MS, description: 'Sentinel notification idempotency records' });
  return {
    async get(key) {
      const e = await kv.get(bucketKey(key));
      if (!e || e.operation !== 'PUT' || e.length === 0) return undefined;
      return e.json<NoticeRecord>();
    },
    async put(key, record) {
      await kv.put(bucketKey(key), JSON.stringify(record));
    },
    async clear(key) {
      await kv.delete(bucketKey(key));
    },
  };
}
