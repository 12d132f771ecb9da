/**
 * Key material from configuration. Keys are base64 strings of 32 random bytes; codec keys carry an
 * id so that a payload names the key it was sealed with and keys can rotate.
 */
import { randomBytes } from 'node:crypto';

/** A payload-codec key: `id` goes into every payload it seals. */
export interface CodecKey {
  id: string;
  key: Buffer;
}

export const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** A key that could not be used; the message never contains key material. */
export class KeyFormatError extends Error {
  override name = 'KeyFormatError';
}

/** Decodes a base64 key of exactly `bytes` bytes (at least, when `atLeast`), or says what is wrong with it. */
export function decodeKey(text: string, what: string, bytes = KEY_BYTES, atLeast = false): Buffer {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new KeyFormatError(`${what} is not base64 (${trimmed.length} characters)`);
  }
  const key = Buffer.from(trimmed, 'base64');
  if (atLeast ? key.length < bytes : key.length !== bytes) {
    throw new KeyFormatError(`${what} is ${key.length} bytes; ${atLeast ? 'at least ' : ''}${bytes} are required`);
  }
  return key;
}

/**
 * Parses `id:base64,id:base64,…`. The first key is the active one unless `active` names another;
 * every listed key can decode.
 */
export function parseCodecKeys(list: string, active?: string): { keys: CodecKey[]; active: CodecKey } {
  const keys: CodecKey[] = [];
  list.split(',').forEach((entry, i) => {
    const at = entry.indexOf(':');
    const id = entry.slice(0, at).trim();
    if (at < 0 || !KEY_ID.test(id)) {
      throw new KeyFormatError(`entry ${i + 1} is not id:base64-key (the id is 1-64 letters, digits, ".", "_" or "-")`);
    }
    if (keys.some((k) => k.id === id)) throw new KeyFormatError(`key id "${id}" is listed twice`);
    keys.push({ id, key: decodeKey(entry.slice(at + 1), `key "${id}"`) });
  });
  const chosen = active === undefined ? keys[0] : keys.find((k) => k.id === active);
  if (!chosen) throw new KeyFormatError(`the active key "${active}" is not among the listed keys (${keys.map((k) => k.id).join(', ')})`);
  return { keys, active: chosen };
}

/** A new random key, base64. */
export function generateKey(bytes = KEY_BYTES): string {
  return randomBytes(bytes).toString('base64');
}

/** A key id for a key made now: the date, so that operators see at a glance which key is older. */
export function newKeyId(now = new Date()): string {
  return `k${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(2).toString('hex')}`;
}

/** Fresh key material as the environment variables that carry it: a codec key, a fingerprint key, a codec-server token. */
export function newKeyMaterial(): { SENTINEL_CODEC_KEYS: string; SENTINEL_FINGERPRINT_KEY: string; SENTINEL_CODEC_SERVER_TOKEN: string } {
  return {
    SENTINEL_CODEC_KEYS: `${newKeyId()}:${generateKey()}`,
    SENTINEL_FINGERPRINT_KEY: generateKey(),
    // URL-safe, so that it pastes into headers and forms unchanged.
    SENTINEL_CODEC_SERVER_TOKEN: generateKey(24).replaceAll('/', '_').replaceAll('+', '-'),
  };
}
