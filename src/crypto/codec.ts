/**
 * The payload codec: every payload Temporal stores (workflow inputs, results, signals, queries,
 * failure messages and stack traces) is sealed with AES-256-GCM under the active key, and names
 * that key so that older histories stay readable after rotation.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import proto from '@temporalio/proto';
import type { CodecKey } from './keys';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
export const CIPHER_METADATA = 'encryption-cipher';
const CIPHER = 'AES-256-GCM';
const IV_BYTES = 12;
const TAG_BYTES = 16;

// A CommonJS module: its namespace comes through the default export under ESM.
const { Payload: PayloadProto } = proto.temporal.api.common.v1;
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A payload the codec cannot open; says which key and why, never what the payload holds. */
export class PayloadDecryptionError extends Error {
  override name = 'PayloadDecryptionError';
}

/** The key id sealed into the GCM tag, so that a payload cannot be relabelled with another key's id. */
const aad = (keyId: string) => utf8.encode(`sentinel/payload/v1/${keyId}`);

export class EncryptionCodec implements PayloadCodec {
  private readonly byId: ReadonlyMap<string, Buffer>;

  constructor(
    keys: CodecKey[],
    private readonly active: CodecKey,
  ) {
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id of the key new payloads are sealed with. */
  get activeKeyId(): string {
    return this.active.id;
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.seal(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.open(p));
  }

  seal(payload: Payload): Payload {
    const plain = PayloadProto.encode(payload).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.active.key, iv);
    cipher.setAAD(aad(this.active.id));
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        encoding: utf8.encode(ENCRYPTED_ENCODING),
        [KEY_ID_METADATA]: utf8.encode(this.active.id),
        [CIPHER_METADATA]: utf8.encode(CIPHER),
      },
      data: sealed,
    };
  }

  /** Opens a sealed payload; a payload that was never sealed (written before the codec) passes through. */
  open(payload: Payload): Payload {
    const meta = payload.metadata ?? {};
    if (!meta.encoding || text.decode(meta.encoding) !== ENCRYPTED_ENCODING) return payload;
    const keyId = meta[KEY_ID_METADATA] ? text.decode(meta[KEY_ID_METADATA]) : '';
    const key = this.byId.get(keyId);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload sealed with key "${keyId}", which is not configured (SENTINEL_CODEC_KEYS has ${[...this.byId.keys()].join(', ')}); ` +
          'keep retired keys listed for as long as histories written under them are kept',
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(`payload sealed with key "${keyId}" is truncated (${data.length} bytes)`);
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
    decipher.setAAD(aad(keyId));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new PayloadDecryptionError(`payload sealed with key "${keyId}" failed authentication: it was altered, or the key under that id changed`);
    }
    return PayloadProto.decode(plain);
  }
}
