/**
 * Recorded workflow histories for replay tests. `RECORD_HISTORIES=1 npm test` rewrites them from
 * the end-to-end runs (exported by the Temporal CLI, the same JSON `temporal workflow show` gives
 * operators); commit the result when a workflow change is meant to change history.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { projectRoot, sentinelHome } from '../../src/paths';

export const historiesDir = join(projectRoot, 'test', 'histories');

/** Saves the history of `workflowId` as test/histories/<name>.json when RECORD_HISTORIES is set. */
export async function recordHistory(workflowId: string, name: string): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  const temporal = join(sentinelHome, 'venv', 'bin', 'temporal');
  const { stdout } = await promisify(execFile)(temporal, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', inject('stack').temporalAddress], {
    maxBuffer: 64 << 20,
  });
  mkdirSync(historiesDir, { recursive: true });
  writeFileSync(join(historiesDir, `${name}.json`), stdout);
}
