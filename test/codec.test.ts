/** The payload codec and its keys: sealing, rotation, tampering, and configuration errors. */
import { defaultPayloadConverter } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config';
import { ENCRYPTED_ENCODING, EncryptionCodec, KEY_ID_METADATA, PayloadDecryptionError } from '../src/crypto/codec';
import { fingerprinter } from '../src/crypto/fingerprint';
import { generateKey, parseCodecKeys } from '../src/crypto/keys';

const keyA = { id: 'A', key: Buffer.from(generateKey(), 'base64') };
const keyB = { id: 'B', key: Buffer.from(generateKey(), 'base64') };
const secret = 'AKIA' + 'Q7XK2M4N8P3R5T6V';
const payload = () => defaultPayloadConverter.toPayload({ incident: 'x', note: `contains ${secret}` });
const text = new TextDecoder();

describe('payload codec', () => {
  it('seals a payload so that neither its data nor its metadata shows the value, and opens it again', async () => {
    const codec = new EncryptionCodec([keyA], keyA);
    const [sealed] = await codec.encode([payload()]);
    expect(text.decode(sealed!.metadata!.encoding!)).toBe(ENCRYPTED_ENCODING);
    expect(text.decode(sealed!.metadata![KEY_ID_METADATA]!)).toBe('A');
    const wire = Buffer.from(sealed!.data!).toString('latin1') + Object.values(sealed!.metadata!).map((v) => text.decode(v)).join('');
    expect(wire).not.toContain(secret);
    expect(wire).not.toContain('json/plain');
    const [opened] = await codec.decode([sealed!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toEqual({ incident: 'x', note: `contains ${secret}` });
  });

  it('seals the same value differently each time (random nonce)', async () => {
    const codec = new EncryptionCodec([keyA], keyA);
    const [a, b] = await codec.encode([payload(), payload()]);
    expect(Buffer.from(a!.data!).equals(Buffer.from(b!.data!))).toBe(false);
  });

  it('keeps payloads sealed under a retired key readable after rotation, and seals new ones under the active key', async () => {
    const [underA] = await new EncryptionCodec([keyA], keyA).encode([payload()]);
    const rotated = new EncryptionCodec([keyB, keyA], keyB);
    const [opened] = await rotated.decode([underA!]);
    expect(defaultPayloadConverter.fromPayload(opened!)).toMatchObject({ incident: 'x' });
    const [underB] = await rotated.encode([payload()]);
    expect(text.decode(underB!.metadata![KEY_ID_METADATA]!)).toBe('B');
  });

  it('says which key is missing when a retired key was dropped too early', async () => {
    const [underA] = await new EncryptionCodec([keyA], keyA).encode([payload()]);
    await expect(new EncryptionCodec([keyB], keyB).decode([underA!])).rejects.toThrow(/sealed with key "A", which is not configured \(SENTINEL_CODEC_KEYS has B\)/);
  });

  it('refuses altered ciphertext and a payload relabelled with another key id', async () => {
    const codec = new EncryptionCodec([keyA, keyB], keyA);
    const [sealed] = await codec.encode([payload()]);
    const flipped = Buffer.from(sealed!.data!);
    flipped[20]! ^= 1;
    await expect(codec.decode([{ ...sealed!, data: flipped }])).rejects.toThrow(PayloadDecryptionError);
    const relabelled = { ...sealed!, metadata: { ...sealed!.metadata!, [KEY_ID_METADATA]: new TextEncoder().encode('B') } };
    await expect(codec.decode([relabelled])).rejects.toThrow(/failed authentication/);
  });

  it('passes through payloads written before the codec', async () => {
    const plain = payload();
    const [out] = await new EncryptionCodec([keyA], keyA).decode([plain]);
    expect(out).toBe(plain);
  });
});

describe('key configuration', () => {
  const k = () => generateKey();

  it('takes the first key as active unless another is named', () => {
    expect(parseCodecKeys(`one:${k()},two:${k()}`).active.id).toBe('one');
    expect(parseCodecKeys(`one:${k()},two:${k()}`, 'two').active.id).toBe('two');
  });

  it.each([
    ['a key of the wrong length', () => `a:${Buffer.alloc(31).toString('base64')}`, undefined, /key "a" is 31 bytes; 32 are required/],
    ['an entry without an id', () => k(), undefined, /entry 1 is not id:base64-key/],
    ['a repeated id', () => `a:${k()},a:${k()}`, undefined, /key id "a" is listed twice/],
    ['an active key that is not listed', () => `a:${k()}`, 'b', /the active key "b" is not among the listed keys \(a\)/],
  ])('refuses %s at start-up, naming the variable', (_name, keys, active, reason) => {
    const env = { SENTINEL_CODEC_KEYS: keys(), ...(active ? { SENTINEL_CODEC_ACTIVE_KEY: active } : {}) };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(reason);
    expect(() => loadConfig(env)).toThrow(/SENTINEL_CODEC_KEYS=<hidden, \d+ characters>/);
  });

  it('wants a fingerprint key of at least 32 bytes', () => {
    expect(() => loadConfig({ SENTINEL_FINGERPRINT_KEY: Buffer.alloc(16).toString('base64') })).toThrow(/SENTINEL_FINGERPRINT_KEY=<hidden, 24 characters>: the key is 16 bytes; at least 32/);
  });
});

describe('fingerprints', () => {
  it('are stable for one key, differ between keys and values, and do not contain the value', () => {
    const f = fingerprinter(Buffer.from(generateKey(), 'base64'));
    const g = fingerprinter(Buffer.from(generateKey(), 'base64'));
    expect(f(secret)).toBe(f(secret));
    expect(f(secret)).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    expect(f(secret)).not.toBe(g(secret));
    expect(f(secret)).not.toBe(f(secret + 'x'));
  });
});
