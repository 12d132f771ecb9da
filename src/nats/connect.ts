/** NATS connections from configuration, with an error that names the variable when none can be made. */
import { connect, type NatsConnection } from 'nats';
import type { Config } from '../config';
import { UnreachableError } from '../unreachable';

export async function connectNats(cfg: Config['nats'], name: string): Promise<NatsConnection> {
  try {
    // Reconnect forever once connected: a NATS restart must not end a detector.
    return await connect({ servers: cfg.servers, name, maxReconnectAttempts: -1, reconnectTimeWait: 1000 });
  } catch (err) {
    throw new UnreachableError(
      `cannot reach NATS at ${cfg.servers.join(', ')} (NATS_URL): ${(err as Error).message}. Start the dev stack with "npm run stack -- up", or set NATS_URL.`,
      { cause: err },
    );
  }
}
