/** Temporal client connections from configuration. */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';

export async function connectClient(cfg: Config['temporal']): Promise<Client> {
  const connection = await Connection.connect({ address: cfg.address });
  return new Client({ connection, namespace: cfg.namespace });
}
