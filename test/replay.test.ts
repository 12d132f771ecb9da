/** Determinism guard: today's workflow code must replay every recorded history without a nondeterminism error. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundle } from './support/harness';
import { historiesDir } from './support/histories';
import { testCodec } from './support/secrets';
import { dataConverterFor } from '../src/temporal/data-converter';
import { EncryptionCodec } from '../src/crypto/codec';
import { generateKey } from '../src/crypto/keys';

// Histories recorded under the codec, and those from before it (plain payloads): both must replay.
/** `binary/encrypted`, the codec's encoding, as the JSON export spells metadata. */
const ENCRYPTED_BASE64 = Buffer.from('binary/encrypted').toString('base64');

const files = readdirSync(historiesDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).sort();

describe('workflow replay', () => {
  it('has recorded histories to replay, sealed by the codec and from before it', () => {
    const sealed = files.filter((f) => readFileSync(join(historiesDir, f), 'utf8').includes(ENCRYPTED_BASE64));
    expect(sealed.length).toBeGreaterThanOrEqual(3);
    expect(files.length - sealed.length).toBeGreaterThanOrEqual(3);
  });

  async function replay(names: string[], codec: EncryptionCodec): Promise<{ replayed: number; failures: string[] }> {
    try {
      Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN') });
    } catch {
      /* installed by another suite in this worker */
    }
    const histories = names.map((f) => ({ workflowId: f, history: historyFromJSON(JSON.parse(readFileSync(join(historiesDir, f), 'utf8'))) }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), dataConverter: dataConverterFor(codec) }, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    return { replayed, failures };
  }

  it('replays every recorded history with the current workflow code', async () => {
    const { replayed, failures } = await replay(files, testCodec());
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });

  it('cannot replay the sealed histories without their key: the payloads really are encrypted', async () => {
    const sealed = files.filter((f) => readFileSync(join(historiesDir, f), 'utf8').includes(ENCRYPTED_BASE64));
    const stranger = { id: 'stranger', key: Buffer.from(generateKey(), 'base64') };
    const { failures } = await replay(sealed.slice(0, 1), new EncryptionCodec([stranger], stranger));
    expect(failures).toHaveLength(1);
    // The same history replays with the fixture key (above); the key is the only difference. The
    // decoding error itself is encoded too (encodeCommonAttributes): only "Encoded failure" shows.
    expect(failures[0]).toMatch(/Replay failed[\s\S]*Encoded failure/);
  });
});
