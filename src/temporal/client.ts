/** Temporal connections from configuration, with errors that say where and what to do. */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import type { EncryptionCodec } from '../crypto/codec';
import { dataConverterFor } from './data-converter';
import { UnreachableError } from '../unreachable';

/** Temporal at `address` could not be reached: what and where, and what to do. */
export function unreachable(address: string, err: unknown): UnreachableError {
  return new UnreachableError(
    `cannot reach Temporal at ${address} (TEMPORAL_ADDRESS): ${(err as Error)?.message ?? String(err)}. ` +
      'Start the dev stack with "npm run stack -- up", or point TEMPORAL_ADDRESS at your cluster.',
    { cause: err },
  );
}

/** A bare connection (operator and workflow services), for setup and checks that send no payloads. */
export async function connectTemporal(cfg: Config['temporal']): Promise<Connection> {
  return Connection.connect({ address: cfg.address, connectTimeout: 5000 }).catch((err: unknown) => {
    throw unreachable(cfg.address, err);
  });
}

/** A client whose payloads go through `codec` (see codecFrom). */
export async function connectClient(cfg: Config['temporal'], codec: EncryptionCodec): Promise<Client> {
  const connection = await connectTemporal(cfg);
  return new Client({ connection, namespace: cfg.namespace, dataConverter: dataConverterFor(codec) });
}

/**
 * A client that connects on its first call instead of now (Connection.lazy): for a process whose
 * main work does not need Temporal (the bridge), so that it starts and keeps working while
 * Temporal is away; each call then fails on its own and says so.
 */
export function lazyClient(cfg: Config['temporal'], codec: EncryptionCodec): Client {
  return new Client({ connection: Connection.lazy({ address: cfg.address, connectTimeout: 5000 }), namespace: cfg.namespace, dataConverter: dataConverterFor(codec) });
}
