/**
 * Fingerprints of matched secrets: HMAC-SHA256 under a configured key, so that the same secret seen
 * twice is recognisable across incidents while nothing stored can be reversed or brute-forced
 * without the key.
 */
import { createHmac } from 'node:crypto';
import { required, type Config } from '../config';

/** Turns a matched value into its fingerprint, `hmac-sha256:` and 32 hex digits (128 bits). */
export type Fingerprinter = (value: string) => string;

export function fingerprinter(key: Buffer): Fingerprinter {
  return (value) => `hmac-sha256:${createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, 32)}`;
}

/** The detector's fingerprinter from configuration; a ConfigError at start-up without the key. */
export function fingerprinterFrom(config: Pick<Config, 'fingerprintKey'>): Fingerprinter {
  return fingerprinter(
    required(
      config.fingerprintKey,
      'SENTINEL_FINGERPRINT_KEY',
      'incidents carry an HMAC fingerprint of each matched secret instead of the secret; create one with "node bin/sentinel.js keys generate fingerprint"',
    ),
  );
}
