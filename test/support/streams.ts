/** Empty streams for a suite or a test: the stack's NATS is shared by every suite of a run. */
import type { JetStreamManager, NatsConnection } from 'nats';
import { CHAT_STREAM, DEADLETTER_STREAM, ensureChatStreams } from '../../src/nats/streams';

/**
 * Deletes CHAT and DEADLETTER, and the streams in `also`, with everything in them; then makes CHAT
 * and DEADLETTER again unless `recreate` is false (for code under test that makes them itself).
 */
export async function emptyChatStreams(nc: NatsConnection, { also = [], recreate = true }: { also?: string[]; recreate?: boolean } = {}): Promise<JetStreamManager> {
  const jsm = await nc.jetstreamManager();
  for (const s of [CHAT_STREAM, DEADLETTER_STREAM, ...also]) await jsm.streams.delete(s).catch(() => false);
  if (recreate) await ensureChatStreams(jsm);
  return jsm;
}
