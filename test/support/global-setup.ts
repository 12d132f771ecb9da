/** Starts one private dev stack on free ports for the test run, and stops it afterwards. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { sentinelHome } from '../../src/paths';
import { freePorts, startStack, type Endpoints, type RunningStack } from '../../src/stack/stack';
import { newKeyMaterial } from '../../src/crypto/keys';
import { FIXTURE_CODEC_KEY } from './fixture-key';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: Endpoints;
    /** Keys for this run (SENTINEL_CODEC_KEYS, SENTINEL_FINGERPRINT_KEY), as environment variables. */
    secrets: Record<string, string>;
    /** The stack's folder; its servers' logs are in logs/. */
    stackDir: string;
  }
}

let stack: RunningStack | undefined;

export async function setup(project: TestProject): Promise<void> {
  const dir = join(sentinelHome, 'test-stacks', String(process.pid));
  stack = await startStack({
    home: sentinelHome,
    dir,
    ports: await freePorts(),
    progress: (line) => process.stderr.write(`[test stack] ${line}\n`),
  });
  project.provide('stack', stack.endpoints);
  // Histories are recorded under the published fixture key, so that replay can open them in any run.
  const secrets = newKeyMaterial();
  secrets.SENTINEL_CODEC_KEYS = process.env.RECORD_HISTORIES ? `${FIXTURE_CODEC_KEY},${secrets.SENTINEL_CODEC_KEYS}` : `${secrets.SENTINEL_CODEC_KEYS},${FIXTURE_CODEC_KEY}`;
  project.provide('secrets', secrets);
  project.provide('stackDir', dir);
}

export async function teardown(): Promise<void> {
  if (!stack) return;
  await stack.stop();
  rmSync(stack.dir, { recursive: true, force: true });
}
