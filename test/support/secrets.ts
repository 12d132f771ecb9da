/** The run's keys (made by global-setup) and a Temporal client that seals payloads with them. */
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config';
import { codecFrom, dataConverterFor } from '../../src/temporal/data-converter';
import type { EncryptionCodec } from '../../src/crypto/codec';

/** SENTINEL_CODEC_KEYS and friends, for child processes' environments. */
export const testSecrets = (): Record<string, string> => inject('secrets');

export function testCodec(env: Record<string, string> = testSecrets()): EncryptionCodec {
  return codecFrom(loadConfig(env));
}

/** A client on the run's stack, with the run's codec unless another is given. */
export async function testClient(codec: EncryptionCodec = testCodec()): Promise<Client> {
  const connection = await Connection.connect({ address: inject('stack').temporalAddress });
  return new Client({ connection, dataConverter: dataConverterFor(codec) });
}
