/** The data converter every Temporal client and worker uses: payloads and failures sealed by the codec. */
import { fileURLToPath } from 'node:url';
import type { DataConverter } from '@temporalio/common';
import { required, type Config } from '../config';
import { EncryptionCodec } from '../crypto/codec';

/** The failure converter module (CommonJS: the SDK loads it by path, in and out of the sandbox). */
export const failureConverterPath = fileURLToPath(new URL('../../workflows/failure-converter.cjs', import.meta.url));

/** The codec from configuration; a ConfigError at start-up when no keys are configured. */
export function codecFrom(config: Pick<Config, 'codec'>): EncryptionCodec {
  const codec = required(
    config.codec,
    'SENTINEL_CODEC_KEYS',
    'Temporal payloads are encrypted and every client and worker needs the keys; ' +
      'create one with "node bin/sentinel.js keys generate" (the dev stack writes its own to .sentinel/dev-secrets.env)',
  );
  return new EncryptionCodec(codec.keys, codec.active);
}

export function dataConverterFor(codec: EncryptionCodec): DataConverter {
  return { payloadCodecs: [codec], failureConverterPath };
}
