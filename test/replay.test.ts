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

const files = readdirSync(historiesDir).filter((f) => f.endsWith('.json')).sort();

describe('workflow replay', () => {
  it('has recorded histories to replay', () => {
    expect(files.length).toBeGreaterThanOrEqual(2);
  });

  it('replays every recorded history with the current workflow code', async () => {
    try {
      Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('WARN') });
    } catch {
      /* installed by another suite in this worker */
    }
    const histories = files.map((f) => ({ workflowId: f, history: historyFromJSON(JSON.parse(readFileSync(join(historiesDir, f), 'utf8'))) }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle(), dataConverter: dataConverterFor(testCodec()) }, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
    expect(replayed).toBe(files.length);
  });
});
