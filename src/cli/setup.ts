/**
 * `sentinel setup`: prepares a Temporal namespace and a NATS account for Sentinel, idempotently —
 * the search attributes incidents are started with, and the CHAT, DEADLETTER, AUDIT, FACTS and QUARANTINE streams.
 */
import { loadConfig } from '../config';
import { connectNats } from '../nats/connect';
import { ensureAuditStream, ensureChatStreams, ensureFactsStream } from '../nats/streams';
import { ensureQuarantineStream } from '../../activities/quarantine-vault';
import { connectTemporal } from '../temporal/client';
import { registerSearchAttributes } from '../temporal/search-attributes';

export async function setup(): Promise<number> {
  const config = loadConfig();
  const say = (line: string) => process.stdout.write(line + '\n');
  const connection = await connectTemporal(config.temporal);
  try {
    const added = await registerSearchAttributes(connection, config.temporal.namespace);
    say(added.length ? `registered search attributes ${added.join(', ')} in namespace ${config.temporal.namespace}` : `namespace ${config.temporal.namespace} already has Sentinel's search attributes`);
  } finally {
    await connection.close();
  }
  const nc = await connectNats(config.nats, 'sentinel-setup');
  try {
    const jsm = await nc.jetstreamManager();
    await ensureChatStreams(jsm);
    await ensureAuditStream(jsm);
    await ensureFactsStream(jsm);
    await ensureQuarantineStream(jsm, config.remediation.quarantineRetentionMs);
    say(`streams CHAT, DEADLETTER, AUDIT, FACTS and QUARANTINE are in place on ${config.nats.servers.join(',')}`);
  } finally {
    await nc.close();
  }
  return 0;
}
